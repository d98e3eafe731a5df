/**
 * FileReceiver and sendFile edge cases between real P2PNodes on loopback TCP (compat mode): idle
 * timeout, names taken mid-transfer, stale .part files, disk errors, a file changing while it is
 * sent, aborts during backpressure, failing peers. Frames that need precise control are
 * hand-crafted and sent with the node's raw BYTES API; sends that must block go to a raw compat
 * peer that handshakes and then stops reading.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { P2PNode } from '../src/node.js';
import type { NodeOptions } from '../src/options.js';
import {
  FileReceiver,
  encodeFileChunk,
  encodeFileEnd,
  encodeFileStart,
  sendFile,
  type FileReceiverEvents,
  type FileReceiverOptions,
} from '../src/files/index.js';
import { addressOf, closedPort, startNode, waitFor } from './helpers/nodes.js';

/** Bound of each test; the suites only bound the sum. */
const TEST = { timeout: 15_000 };
const SUITE = { timeout: 120_000 };
/** Bound of each wait for an event, so a missing one fails with its name instead of a test timeout. */
const WAIT_MS = 5_000;

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
/** The first 10 bytes of a BYTES payload, enough to tell FILESTART: / FILECHUNK: / FILEEND:… apart. */
const head = (data: Uint8Array): string => Buffer.from(data.subarray(0, 10)).toString();
const noop = (): void => undefined;

/** A compat node on 127.0.0.1, port 0, that only has the peers a test connects (no peer-exchange dials). */
function compatNode(t: TestContext, name: string, options: NodeOptions = {}): Promise<P2PNode> {
  return startNode(t, { mode: 'compat', name, autoConnectMax: 0, peerTimeoutMs: 60_000, ...options });
}

/** `from` dials `to`; resolves once both count the other as a peer. */
async function connect(from: P2PNode, to: P2PNode): Promise<void> {
  const accepted = waitFor(to, 'peer-connected', (m) => m.peer.id === from.id);
  await from.connectToPeer(addressOf(to));
  await accepted;
}

/** Sends hand-crafted BYTES payloads from `from` to `to`, in order. */
async function sendFrames(from: P2PNode, to: P2PNode, ...frames: Uint8Array[]): Promise<void> {
  for (const frame of frames) await from.sendBytesToPeer(to.id, frame);
}

/**
 * Sends a chat from `from` to `to` and waits for it. Frames of one connection arrive in order, so
 * everything `from` sent `to` before it has been reported by `to` by then.
 */
async function flush(from: P2PNode, to: P2PNode): Promise<void> {
  const text = `marker ${randomBytes(4).toString('hex')}`;
  const arrived = waitFor(to, 'chat', (m) => m.from.id === from.id && m.text === text);
  await from.sendMessageToPeer(to.id, text);
  await arrived;
}

/** Every BYTES payload `node` receives from `from`, from now on. */
function recordBytes(node: P2PNode, from: P2PNode): Buffer[] {
  const out: Buffer[] = [];
  node.on('bytes', (m) => {
    if (m.from.id === from.id) out.push(Buffer.from(m.data));
  });
  return out;
}

/** Resolves when `node` receives, from `from`, a BYTES payload starting with `prefix`. */
function frameArrives(node: P2PNode, from: P2PNode, prefix: string): Promise<unknown> {
  return waitFor(node, 'bytes', (m) => m.from.id === from.id && head(m.data).startsWith(prefix));
}

/** Default high-water mark of a message stream (src/message-stream.ts): past it the node stops reading. */
const STREAM_HIGH_WATER = 4 * 1024 * 1024;

/**
 * Proves that no forgotten message stream is left on `node`. A stream nobody reads would queue
 * the second of these two messages past its high-water mark and pause every socket of the node,
 * so the chat sent after them would never be read.
 */
async function assertNoStalledStream(from: P2PNode, node: P2PNode): Promise<void> {
  const payload = Buffer.alloc(STREAM_HIGH_WATER + 1);
  let seen = 0;
  const both = waitFor(
    node,
    'bytes',
    (m) => m.from.id === from.id && m.data.length === payload.length && ++seen === 2,
  );
  await Promise.all([both, from.sendBytesToPeer(node.id, payload), from.sendBytesToPeer(node.id, payload)]);
  await flush(from, node);
}

type Recorded = {
  [K in keyof FileReceiverEvents]: { type: K; event: FileReceiverEvents[K] };
}[keyof FileReceiverEvents];

/** Records every receiver event and lets a test wait (bounded) for one matching a predicate. */
class Recorder {
  readonly events: Recorded[] = [];
  #waiters: { match: (r: Recorded) => boolean; resolve: (r: Recorded) => void }[] = [];

  constructor(receiver: FileReceiver) {
    for (const type of ['file-start', 'file-progress', 'file-complete', 'file-error'] as const) {
      receiver.on(type, (event: FileReceiverEvents[typeof type]) => this.#add({ type, event } as Recorded));
    }
  }

  #add(r: Recorded): void {
    this.events.push(r);
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.match(r)) return true;
      w.resolve(r);
      return false;
    });
  }

  of<K extends keyof FileReceiverEvents>(type: K): FileReceiverEvents[K][] {
    return this.events.filter((r) => r.type === type).map((r) => r.event as FileReceiverEvents[K]);
  }

  next<K extends keyof FileReceiverEvents>(
    type: K,
    match: (e: FileReceiverEvents[K]) => boolean = () => true,
    skipRecorded = false,
  ): Promise<FileReceiverEvents[K]> {
    const test = (r: Recorded): boolean => r.type === type && match(r.event as FileReceiverEvents[K]);
    if (!skipRecorded) {
      const seen = this.events.find(test);
      if (seen) return Promise.resolve(seen.event as FileReceiverEvents[K]);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        match: test,
        resolve: (r: Recorded): void => {
          clearTimeout(timer);
          resolve(r.event as FileReceiverEvents[K]);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        const seen = this.events.map((e) => e.type).join(', ');
        reject(new Error(`timed out after ${WAIT_MS} ms waiting for a '${type}' event (saw: ${seen})`));
      }, WAIT_MS);
      this.#waiters.push(waiter);
    });
  }
}

async function tmpDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-files-recv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A sender node connected to a receiving node that runs a FileReceiver. */
async function setup(t: TestContext, options: FileReceiverOptions = {}) {
  const root = await tmpDir(t);
  const downloadsDir = path.join(root, 'nested', 'downloads');
  const sender = await compatNode(t, 'sender');
  const node = await compatNode(t, 'receiver');
  await connect(sender, node);
  const receiver = new FileReceiver(node, { downloadsDir, ...options });
  t.after(() => receiver.close());
  const rec = new Recorder(receiver);
  await receiver.start();
  // How the receiving node knows the sender: it dialed, so by the address it advertised.
  const senderRef = { id: sender.id, name: sender.name, address: addressOf(sender) };
  return { root, downloadsDir, sender, senderRef, node, receiver, rec };
}

describe('FileReceiver between real nodes', SUITE, () => {
  it('receives a file sent with sendFile, byte-identical, creating the downloads dir', TEST, async (t) => {
    const { root, downloadsDir, sender, senderRef, node, rec } = await setup(t);
    const content = randomBytes(300_000);
    const src = path.join(root, 'data.bin');
    await writeFile(src, content);
    const progress: number[] = [];
    const result = await sendFile(sender, src, {
      chunkSize: 64 * 1024,
      onProgress: (p) => progress.push(p.bytesSent),
    });
    assert.deepEqual(result, {
      name: 'data.bin',
      size: content.length,
      sha256: sha(content),
      sent: [node.id],
      failed: [],
    });
    assert.deepEqual(progress, [65536, 131072, 196608, 262144, 300000]);
    const done = await rec.next('file-complete');
    assert.equal(done.path, path.join(downloadsDir, 'data.bin'));
    assert.equal(done.sha256, sha(content));
    assert.deepEqual(done.from, senderRef);
    assert.ok((await readFile(done.path)).equals(content));
    assert.deepEqual(await readdir(downloadsDir), ['data.bin']);
    const start = rec.of('file-start')[0];
    assert.equal(start?.finalPath, done.path);
    assert.equal(rec.of('file-progress').at(-1)?.bytesReceived, content.length);
    assert.equal(rec.of('file-error').length, 0);
  });

  it('ignores BYTES payloads of other protocols', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    await sendFrames(
      sender,
      node,
      Buffer.from('hello, not a file'),
      Buffer.from('FILE:old|1|x\nz'),
      // A zero-byte transfer right after proves the earlier payloads were processed without events.
      encodeFileStart('z', 0, sha(Buffer.alloc(0))),
      encodeFileEnd('z', sha(Buffer.alloc(0))),
    );
    await rec.next('file-complete');
    assert.deepEqual(
      rec.events.map((e) => e.type),
      ['file-start', 'file-complete'],
    );
    assert.equal((await readFile(path.join(downloadsDir, 'z'))).length, 0);
  });

  it('reports malformed file frames and stray chunks, and keeps running', TEST, async (t) => {
    const { sender, node, rec } = await setup(t);
    await sendFrames(sender, node, Buffer.from('FILESTART:a|-1|nope\n'));
    const bad = await rec.next('file-error');
    assert.equal(bad.error.code, 'ERR_FILE_PROTOCOL');
    await sendFrames(sender, node, encodeFileChunk('ghost.txt', Buffer.from('boo')));
    const stray = await rec.next('file-error', (e) => e.name === 'ghost.txt');
    assert.equal(stray.error.code, 'ERR_FILE_PROTOCOL');
    await sendFrames(sender, node, encodeFileEnd('ghost.txt', sha(Buffer.from('boo'))));
    const strayEnd = await rec.next('file-error', (e) => e.name === 'ghost.txt', true);
    assert.match(strayEnd.error.message, /FILEEND/);
  });

  it('refuses an overflow past the announced size and drops the rest silently', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('12345');
    await sendFrames(
      sender,
      node,
      encodeFileStart('o.txt', 3, sha(data)),
      encodeFileChunk('o.txt', data),
      encodeFileChunk('o.txt', data),
      encodeFileEnd('o.txt', sha(data)),
      encodeFileStart('after', 0, sha(Buffer.alloc(0))),
      encodeFileEnd('after', sha(Buffer.alloc(0))),
    );
    await rec.next('file-complete');
    const errors = rec.of('file-error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.error.code, 'ERR_FILE_INTEGRITY');
    assert.deepEqual(await readdir(downloadsDir), ['after']);
  });

  it('rejects a short file and a FILEEND checksum that differs from FILESTART', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('hello');
    await sendFrames(
      sender,
      node,
      encodeFileStart('short', 10, sha(data)),
      encodeFileChunk('short', data),
      encodeFileEnd('short', sha(data)),
    );
    const short = await rec.next('file-error', (e) => e.name === 'short');
    assert.equal(short.error.code, 'ERR_FILE_INTEGRITY');

    await sendFrames(
      sender,
      node,
      encodeFileStart('mixed', 5, sha(data)),
      encodeFileChunk('mixed', data),
      encodeFileEnd('mixed', sha(Buffer.from('other'))),
    );
    const mixed = await rec.next('file-error', (e) => e.name === 'mixed');
    assert.equal(mixed.error.code, 'ERR_FILE_INTEGRITY');
    assert.deepEqual(await readdir(downloadsDir), []);
  });

  it('a new FILESTART for the same sender and name restarts the transfer', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('final content');
    await sendFrames(
      sender,
      node,
      encodeFileStart('r.txt', 100, sha(Buffer.alloc(100))),
      encodeFileChunk('r.txt', Buffer.alloc(50)),
      encodeFileStart('r.txt', data.length, sha(data)),
      encodeFileChunk('r.txt', data),
      encodeFileEnd('r.txt', sha(data)),
    );
    const done = await rec.next('file-complete');
    assert.equal(done.path, path.join(downloadsDir, 'r.txt'));
    assert.ok((await readFile(done.path)).equals(data));
    assert.deepEqual(
      rec.of('file-error').map((e) => e.error.code),
      ['ERR_ABORTED'],
    );
    assert.deepEqual(await readdir(downloadsDir), ['r.txt']);
  });

  it('gives concurrent same-name transfers from two senders different names', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const other = await compatNode(t, 'other');
    await connect(other, node);
    const a = Buffer.from('from sender');
    const b = Buffer.from('from other');
    // Two connections have no order between them: each step waits for the receiver, so the
    // interleaving (and which transfer claims the plain name) is fixed.
    await sendFrames(sender, node, encodeFileStart('same.txt', a.length, sha(a)));
    await rec.next('file-start', (e) => e.from.id === sender.id);
    await sendFrames(other, node, encodeFileStart('same.txt', b.length, sha(b)));
    await rec.next('file-start', (e) => e.from.id === other.id);
    await sendFrames(other, node, encodeFileChunk('same.txt', b));
    await rec.next('file-progress', (e) => e.from.id === other.id);
    await sendFrames(sender, node, encodeFileChunk('same.txt', a));
    await rec.next('file-progress', (e) => e.from.id === sender.id);
    await sendFrames(other, node, encodeFileEnd('same.txt', sha(b)));
    await rec.next('file-complete', (e) => e.from.id === other.id);
    await sendFrames(sender, node, encodeFileEnd('same.txt', sha(a)));
    await rec.next('file-complete', (e) => e.from.id === sender.id);
    const done = rec.of('file-complete');
    assert.equal(done.length, 2);
    const bySender = new Map(done.map((e) => [e.from.id, e.path]));
    assert.equal(bySender.get(sender.id), path.join(downloadsDir, 'same.txt'));
    assert.equal(bySender.get(other.id), path.join(downloadsDir, 'same-(1).txt'));
    assert.ok((await readFile(path.join(downloadsDir, 'same.txt'))).equals(a));
    assert.ok((await readFile(path.join(downloadsDir, 'same-(1).txt'))).equals(b));
    assert.equal(rec.of('file-error').length, 0);
  });

  it(
    'never overwrites: a final name taken meanwhile, or a stale .part, moves to the next name',
    TEST,
    async (t) => {
      const { sender, node, rec, downloadsDir } = await setup(t);
      const data = Buffer.from('payload');
      await sendFrames(sender, node, encodeFileStart('taken.txt', data.length, sha(data)));
      await rec.next('file-start');
      await writeFile(path.join(downloadsDir, 'taken.txt'), 'someone else');
      await sendFrames(
        sender,
        node,
        encodeFileChunk('taken.txt', data),
        encodeFileEnd('taken.txt', sha(data)),
      );
      const done = await rec.next('file-complete');
      assert.equal(done.path, path.join(downloadsDir, 'taken-(1).txt'));
      assert.equal(await readFile(path.join(downloadsDir, 'taken.txt'), 'utf8'), 'someone else');

      await writeFile(path.join(downloadsDir, 'stale.bin.part'), 'left by a crash');
      await sendFrames(
        sender,
        node,
        encodeFileStart('stale.bin', data.length, sha(data)),
        encodeFileChunk('stale.bin', data),
        encodeFileEnd('stale.bin', sha(data)),
      );
      const second = await rec.next('file-complete', (e) => e.name === 'stale.bin');
      assert.equal(second.path, path.join(downloadsDir, 'stale-(1).bin'));
      assert.equal(await readFile(path.join(downloadsDir, 'stale.bin.part'), 'utf8'), 'left by a crash');
    },
  );

  it('refuses hostile names, oversize files and transfers past the concurrency cap', TEST, async (t) => {
    const { root, sender, node, rec, downloadsDir } = await setup(t, {
      maxFileSize: 10,
      maxConcurrentTransfers: 1,
    });
    const data = Buffer.from('x');
    await sendFrames(
      sender,
      node,
      encodeFileStart('ok', 1, sha(data)),
      // encodeFileStart refuses such a name: the hostile frames are written by hand.
      Buffer.from(`FILESTART:../escape.txt|1|${sha(data)}\n`),
      Buffer.from(`FILECHUNK:../escape.txt\nx`),
      Buffer.from(`FILEEND:../escape.txt|${sha(data)}\n`),
      encodeFileStart('big', 11, sha(data)),
      encodeFileChunk('big', data),
      encodeFileStart('second', 1, sha(data)),
      encodeFileChunk('ok', data),
      encodeFileEnd('ok', sha(data)),
    );
    await rec.next('file-complete');
    assert.deepEqual(
      rec.of('file-error').map((e) => [e.name, e.error.code]),
      [
        ['../escape.txt', 'ERR_FILE_NAME'],
        ['big', 'ERR_FILE_TOO_LARGE'],
        ['second', 'ERR_TOO_MANY_PENDING'],
      ],
    );
    assert.deepEqual(await readdir(downloadsDir), ['ok']);
    assert.deepEqual((await readdir(root)).sort(), ['nested']);
  });

  it('drops the .part files of a sender that disconnects', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    await sendFrames(
      sender,
      node,
      encodeFileStart('p1', 10, sha(Buffer.alloc(10))),
      encodeFileStart('p2', 10, sha(Buffer.alloc(10))),
      encodeFileChunk('p1', Buffer.alloc(5)),
    );
    await rec.next('file-progress');
    assert.deepEqual((await readdir(downloadsDir)).sort(), ['p1.part', 'p2.part']);
    await sender.close();
    await rec.next('file-error', (e) => e.name === 'p2');
    assert.deepEqual(
      rec.of('file-error').map((e) => e.error.code),
      ['ERR_CONNECTION_CLOSED', 'ERR_CONNECTION_CLOSED'],
    );
    assert.deepEqual(await readdir(downloadsDir), []);
  });

  it('drops a transfer whose sender goes silent (idle timeout)', TEST, async (t) => {
    const { sender, node, rec, downloadsDir, receiver } = await setup(t, { idleTimeoutMs: 50 });
    await sendFrames(sender, node, encodeFileStart('slow', 10, sha(Buffer.alloc(10))));
    const err = await rec.next('file-error');
    assert.equal(err.error.code, 'ERR_PEER_TIMEOUT');
    assert.equal(err.name, 'slow');
    assert.equal(receiver.activeTransfers, 0);
    assert.deepEqual(await readdir(downloadsDir), []);
  });

  it('close() aborts transfers in flight and deletes their .part files', TEST, async (t) => {
    const { sender, node, rec, downloadsDir, receiver } = await setup(t);
    await sendFrames(sender, node, encodeFileStart('c', 10, sha(Buffer.alloc(10))));
    await rec.next('file-start');
    await receiver.close();
    assert.equal(rec.of('file-error')[0]?.error.code, 'ERR_CLOSED');
    assert.deepEqual(await readdir(downloadsDir), []);
    // Its message stream is gone from the node (nothing left to hold the node's sockets back).
    await assertNoStalledStream(sender, node);
    await assert.rejects(receiver.start(), { code: 'ERR_CLOSED' });
  });

  it('reports a disk error as ERR_FILE_IO and keeps running', TEST, async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    // Works as root too: the downloads dir is replaced by a regular file (ENOTDIR).
    await rm(downloadsDir, { recursive: true });
    await writeFile(downloadsDir, 'not a directory');
    const data = Buffer.from('data');
    await sendFrames(sender, node, encodeFileStart('d', data.length, sha(data)), encodeFileChunk('d', data));
    const err = await rec.next('file-error');
    assert.equal(err.error.code, 'ERR_FILE_IO');
    assert.equal(rec.of('file-error').length, 1);
    await rm(downloadsDir);
    await mkdir(downloadsDir);
    await sendFrames(
      sender,
      node,
      encodeFileStart('d', data.length, sha(data)),
      encodeFileChunk('d', data),
      encodeFileEnd('d', sha(data)),
    );
    const done = await rec.next('file-complete');
    assert.ok((await readFile(done.path)).equals(data));
    // The receiver handles frames in order: the refused transfer's chunk came before this file.
    assert.equal(rec.of('file-error').length, 1, 'the chunk of a refused transfer is dropped silently');
  });

  it('start() fails with ERR_FILE_IO when the downloads dir cannot be created', TEST, async (t) => {
    const root = await tmpDir(t);
    await writeFile(path.join(root, 'file'), '');
    const node = await compatNode(t, 'n');
    const receiver = new FileReceiver(node, { downloadsDir: path.join(root, 'file', 'sub') });
    t.after(() => receiver.close());
    await assert.rejects(receiver.start(), { code: 'ERR_FILE_IO' });
  });

  it('validates options', TEST, async (t) => {
    const node = await compatNode(t, 'n');
    for (const bad of [
      { maxFileSize: -1 },
      { maxConcurrentTransfers: 0 },
      { idleTimeoutMs: 1.5 },
      { downloadsDir: '' },
    ]) {
      assert.throws(() => new FileReceiver(node, bad), { code: 'ERR_INVALID_OPTION' });
    }
  });

  it('closes when its signal aborts', TEST, async (t) => {
    const { root, sender, node, rec } = await setup(t, {});
    const ac = new AbortController();
    const r2 = new FileReceiver(node, { downloadsDir: path.join(root, 'second'), signal: ac.signal });
    t.after(() => r2.close());
    const rec2 = new Recorder(r2);
    await r2.start();
    // Both receivers are subscribed: each one starts the transfer.
    const data = Buffer.from('for both');
    await sendFrames(sender, node, encodeFileStart('both.txt', data.length, sha(data)));
    await rec.next('file-start');
    await rec2.next('file-start');
    ac.abort();
    await r2.close();
    assert.deepEqual(
      rec2.of('file-error').map((e) => e.error.code),
      ['ERR_CLOSED'],
    );
    assert.deepEqual(await readdir(path.join(root, 'second')), []);
    // The aborted one left the node; the other one is still subscribed and completes the file.
    await assertNoStalledStream(sender, node);
    await sendFrames(sender, node, encodeFileChunk('both.txt', data), encodeFileEnd('both.txt', sha(data)));
    const done = await rec.next('file-complete');
    assert.ok((await readFile(done.path)).equals(data));
    assert.equal(rec2.of('file-complete').length, 0);
  });
});

/**
 * Upper bound of the bytes the kernel can hold between two loopback sockets when the receiving
 * one never reads: the largest send buffer plus the largest receive buffer TCP autotuning may
 * reach (Linux; a generous constant elsewhere).
 */
async function kernelBufferBound(): Promise<number> {
  const maxOf = async (file: string): Promise<number> =>
    Number((await readFile(file, 'utf8')).trim().split(/\s+/)[2]);
  try {
    const total = (await maxOf('/proc/sys/net/ipv4/tcp_rmem')) + (await maxOf('/proc/sys/net/ipv4/tcp_wmem'));
    if (Number.isSafeInteger(total) && total > 0) return total;
  } catch {
    // Not Linux: fall through.
  }
  return 64 * 1024 * 1024;
}

/**
 * Sender send-queue high-water mark: small, but not below the socket's own 16 KiB writable
 * high-water mark (a send that crosses a smaller one waits for a 'drain' the socket never emits).
 */
const SENDER_HIGH_WATER = 16 * 1024;
/** What a stalled peer's queue is stuffed with: more than the kernel can absorb, by a margin. */
const STUFFING = (await kernelBufferBound()) + 2 * 1024 * 1024;

/**
 * A compat peer on a raw socket: it handshakes with `node` (`<id>:<name>`, `LISTEN:`), reads the
 * node's answer, then stops reading. The node's queue to it is then stuffed past what the kernel
 * can buffer, so from here on every send the node makes to it waits on backpressure, until
 * `release()` (read and discard everything) or `kill()` (reset the connection).
 */
async function stallPeer(
  t: TestContext,
  node: P2PNode,
): Promise<{ id: string; release(): void; kill(): void }> {
  const id = randomBytes(16).toString('hex');
  const connected = waitFor(node, 'peer-connected', (m) => m.peer.id === id);
  const listen = `127.0.0.1:${await closedPort()}`;
  const socket = net.connect({ host: '127.0.0.1', port: node.port });
  t.after(() => socket.destroy());
  socket.on('error', noop); // the tests reset it on purpose
  const answer = await new Promise<string>((resolve, reject) => {
    let text = '';
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('latin1');
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      socket.pause();
      socket.off('data', onData);
      resolve(text.slice(0, nl));
    };
    socket.once('connect', () => socket.write(`${id}:stalled\nLISTEN:${listen}\n`));
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('the node closed the stalled peer during its handshake')));
  });
  assert.equal(answer, `${node.id}:${node.name}`);
  await connected;
  const filler = Buffer.alloc(Math.min(STUFFING, node.maxBytesPerMessage));
  for (let left = STUFFING; left > 0; left -= filler.length) {
    // Never settles before release() or kill(); a kill rejects it, which is expected.
    node.sendBytesToPeer(id, filler.subarray(0, Math.min(left, filler.length))).catch(noop);
  }
  return {
    id,
    release: () => {
      socket.on('data', noop);
      socket.resume();
    },
    kill: () => socket.destroy(),
  };
}

describe('sendFile between real nodes', SUITE, () => {
  /** A sender connected to two plain receiving nodes, and a source file. */
  async function senderSetup(t: TestContext, content: Buffer) {
    const root = await tmpDir(t);
    const src = path.join(root, 'src.bin');
    await writeFile(src, content);
    const sender = await compatNode(t, 's', {
      sendHighWaterMark: SENDER_HIGH_WATER,
      maxSendQueueBytes: STUFFING + 64 * 1024 * 1024,
    });
    const r1 = await compatNode(t, 'r1');
    const r2 = await compatNode(t, 'r2');
    await connect(sender, r1);
    await connect(sender, r2);
    return { root, src, sender, r1, r2 };
  }

  // "Between the passes": a stalled peer among the targets holds sendFile in its FILESTART send
  // (after the hashing pass, before the sending pass); r1 seeing FILESTART says it is there.

  it('fails with ERR_FILE_IO when the file grows or shrinks between the passes', TEST, async (t) => {
    const { src, sender, r1 } = await senderSetup(t, randomBytes(1000));
    const stalled = await stallPeer(t, sender);
    let started = frameArrives(r1, sender, 'FILESTART:');
    const grows = sendFile(sender, src, { to: [r1.id, stalled.id] });
    grows.catch(noop);
    await started;
    await appendFile(src, 'more');
    stalled.release();
    await assert.rejects(grows, { code: 'ERR_FILE_IO', message: /grew/ });

    const stalled2 = await stallPeer(t, sender);
    started = frameArrives(r1, sender, 'FILESTART:');
    const shrinks = sendFile(sender, src, { to: [r1.id, stalled2.id], chunkSize: 256 });
    shrinks.catch(noop);
    await started;
    await truncate(src, 500);
    stalled2.release();
    await assert.rejects(shrinks, { code: 'ERR_FILE_IO', message: /shrank/ });
  });

  it(
    'fails with ERR_FILE_IO when the content changes between the passes, before FILEEND',
    TEST,
    async (t) => {
      const { src, sender, r1 } = await senderSetup(t, Buffer.alloc(1000));
      const stalled = await stallPeer(t, sender);
      const seen = recordBytes(r1, sender);
      const started = frameArrives(r1, sender, 'FILESTART:');
      const sending = sendFile(sender, src, { to: [r1.id, stalled.id] });
      sending.catch(noop);
      await started;
      await writeFile(src, Buffer.alloc(1000, 1));
      stalled.release();
      await assert.rejects(sending, { code: 'ERR_FILE_IO', message: /changed/ });
      await flush(sender, r1);
      assert.deepEqual(
        seen.map((data) => head(data).split(':')[0]),
        ['FILESTART', 'FILECHUNK'],
      );
    },
  );

  it('rejects with ERR_ABORTED while a send waits on backpressure', TEST, async (t) => {
    const { src, sender, r1 } = await senderSetup(t, randomBytes(1000));
    const stalled = await stallPeer(t, sender);
    const seen = recordBytes(r1, sender);
    const ac = new AbortController();
    const started = frameArrives(r1, sender, 'FILESTART:');
    // To every peer: r1, r2 and the stalled one, whose FILESTART send never completes.
    const sending = sendFile(sender, src, { signal: ac.signal });
    sending.catch(noop);
    await started;
    ac.abort();
    await assert.rejects(sending, { code: 'ERR_ABORTED' });
    await flush(sender, r1);
    assert.deepEqual(
      seen.map((data) => head(data).split(':')[0]),
      ['FILESTART'],
      'aborted while waiting on the FILESTART send',
    );
    await assert.rejects(sendFile(sender, src, { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
    // Gone before the sender closes, or close() would give it its grace period to take the queue.
    stalled.kill();
  });

  it('drops failing peers and carries on with the others', TEST, async (t) => {
    const content = randomBytes(10_000);
    const { src, sender, r1 } = await senderSetup(t, content);
    const failing = await stallPeer(t, sender);
    const received = recordBytes(r1, sender);
    const started = frameArrives(r1, sender, 'FILESTART:');
    const sending = sendFile(sender, src, {
      chunkSize: 1000,
      to: [r1.id, failing.id, 'ghost', r1.id],
    });
    sending.catch(noop);
    // The stalled peer's connection dies while sendFile waits on it.
    await started;
    failing.kill();
    const result = await sending;
    assert.deepEqual(result.sent, [r1.id]);
    assert.deepEqual(
      result.failed.map((f) => [f.peerId, f.error.code]).sort(),
      [
        ['ghost', 'ERR_UNKNOWN_PEER'],
        [failing.id, 'ERR_CONNECTION_CLOSED'],
      ].sort(),
    );
    await flush(sender, r1);
    assert.equal(received.length, 12, 'FILESTART + 10 chunks + FILEEND, no duplicate for the repeated id');
    assert.equal(received.at(-1)?.toString(), `FILEEND:src.bin|${sha(content)}\n`);
  });

  it('broadcasts to the peers connected at FILESTART only', TEST, async (t) => {
    const { src, sender, r1, r2 } = await senderSetup(t, randomBytes(3000));
    const stalled = await stallPeer(t, sender);
    const late = await compatNode(t, 'late');
    const atLate = recordBytes(late, sender);
    const started = frameArrives(r1, sender, 'FILESTART:');
    const sending = sendFile(sender, src, { chunkSize: 1000 });
    sending.catch(noop);
    await started;
    // A peer joins while sendFile waits on its FILESTART sends.
    await connect(late, sender);
    stalled.release();
    const result = await sending;
    assert.deepEqual(result.sent.sort(), [r1.id, r2.id, stalled.id].sort());
    assert.deepEqual(result.failed, []);
    await flush(sender, late);
    assert.deepEqual(atLate, [], 'the late peer got no frame of the transfer');
  });

  it('validates its options and the name', TEST, async (t) => {
    const { root, src, sender } = await senderSetup(t, Buffer.from('x'));
    await assert.rejects(sendFile(sender, src, { chunkSize: 0 }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(sendFile(sender, src, { chunkSize: 16 * 1024 * 1024 }), {
      code: 'ERR_INVALID_OPTION',
    });
    await assert.rejects(sendFile(sender, src, { name: '../x' }), { code: 'ERR_FILE_NAME' });
    await assert.rejects(sendFile(sender, src, { to: [''] }), { code: 'ERR_INVALID_OPTION' });
    await assert.rejects(sendFile(sender, path.join(root, 'missing')), { code: 'ERR_FILE_IO' });
    await assert.rejects(sendFile(sender, root), { code: 'ERR_FILE_IO' });
    await writeFile(path.join(root, 'a|b'), 'x');
    await assert.rejects(sendFile(sender, path.join(root, 'a|b')), { code: 'ERR_FILE_NAME' });
    const renamed = await sendFile(sender, path.join(root, 'a|b'), { name: 'a-b', to: [] });
    assert.deepEqual(renamed, { name: 'a-b', size: 1, sha256: sha(Buffer.from('x')), sent: [], failed: [] });
  });
});
