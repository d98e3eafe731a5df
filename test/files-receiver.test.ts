/**
 * FileReceiver and sendFile against an in-memory fake node (no sockets): the edge cases that are
 * awkward to provoke over TCP (idle timeout, names taken mid-transfer, stale .part files, a file
 * changing while it is sent, disk errors).
 */
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import type { MeshMessage, MessageType, PeerRef } from '../src/messages.js';
import {
  FileReceiver,
  encodeFileChunk,
  encodeFileEnd,
  encodeFileStart,
  sendFile,
  type FileNode,
  type FileReceiverEvents,
  type FileReceiverOptions,
} from '../src/files/index.js';

const TIMEOUT = { timeout: 20_000 };

/** An unbounded in-memory message stream, ended by its signal. */
class Stream implements AsyncIterableIterator<MeshMessage> {
  readonly #buffer: MeshMessage[] = [];
  #waiter: ((r: IteratorResult<MeshMessage>) => void) | undefined;
  #done = false;

  constructor(
    readonly types: MessageType[] | undefined,
    signal: AbortSignal | undefined,
    private readonly onEnd: () => void,
  ) {
    signal?.addEventListener('abort', () => this.end(), { once: true });
  }

  push(msg: MeshMessage): void {
    if (this.#done || (this.types && !this.types.includes(msg.type))) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w({ value: msg, done: false });
    } else this.#buffer.push(msg);
  }

  end(): void {
    if (this.#done) return;
    this.#done = true;
    this.onEnd();
    this.#waiter?.({ value: undefined, done: true });
    this.#waiter = undefined;
  }

  next(): Promise<IteratorResult<MeshMessage>> {
    const msg = this.#buffer.shift();
    if (msg) return Promise.resolve({ value: msg, done: false });
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiter = resolve));
  }

  return(): Promise<IteratorResult<MeshMessage>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** Just enough of a node for files/: peers are other FakeNodes, BYTES are delivered in memory. */
class FakeNode implements FileNode {
  readonly maxBytesPerMessage = 16 * 1024 * 1024;
  readonly peers = new Map<string, FakeNode>();
  readonly streams = new Set<Stream>();
  /** Runs before each send is delivered; may throw to make the send fail. */
  beforeSend: ((peerId: string, data: Uint8Array) => Promise<void> | void) | undefined;

  constructor(readonly id: string) {}

  get ref(): PeerRef {
    return { id: this.id, name: `${this.id}-name`, address: `${this.id}.test:1` };
  }

  connect(other: FakeNode): void {
    this.peers.set(other.id, other);
    other.peers.set(this.id, this);
  }

  disconnect(other: FakeNode): void {
    this.peers.delete(other.id);
    other.peers.delete(this.id);
    const time = Date.now();
    this.deliver({
      type: 'peer-disconnected',
      peer: other.ref,
      reason: 'closed',
      peerCount: this.peers.size,
      time,
    });
    other.deliver({
      type: 'peer-disconnected',
      peer: this.ref,
      reason: 'closed',
      peerCount: other.peers.size,
      time,
    });
  }

  deliver(msg: MeshMessage): void {
    for (const s of this.streams) s.push(msg);
  }

  /** Delivers raw BYTES as if `from` had sent them. */
  bytesFrom(from: FakeNode, data: Uint8Array): void {
    this.deliver({ type: 'bytes', from: from.ref, data: Uint8Array.from(data), time: Date.now() });
  }

  messages(options: { signal?: AbortSignal; types?: MessageType[] }): AsyncIterableIterator<MeshMessage> {
    const s: Stream = new Stream(options.types, options.signal, () => this.streams.delete(s));
    this.streams.add(s);
    return s;
  }

  async sendBytesToPeer(peerId: string, data: Uint8Array): Promise<void> {
    await this.beforeSend?.(peerId, data);
    const peer = this.peers.get(peerId);
    if (!peer) throw new MeshwireError('ERR_UNKNOWN_PEER', `no peer ${peerId}`);
    peer.bytesFrom(this, data);
  }

  getPeerInfo(): { peers: { id: string }[] } {
    return { peers: [...this.peers.keys()].map((id) => ({ id })) };
  }
}

type Recorded = {
  [K in keyof FileReceiverEvents]: { type: K; event: FileReceiverEvents[K] };
}[keyof FileReceiverEvents];

/** Records every receiver event and lets a test wait for one matching a predicate. */
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
    return new Promise((resolve) =>
      this.#waiters.push({ match: test, resolve: (r) => resolve(r.event as FileReceiverEvents[K]) }),
    );
  }
}

async function tmpDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-files-recv-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function setup(t: TestContext, options: FileReceiverOptions = {}) {
  const root = await tmpDir(t);
  const downloadsDir = path.join(root, 'nested', 'downloads');
  const sender = new FakeNode('sender');
  const node = new FakeNode('receiver');
  sender.connect(node);
  const receiver = new FileReceiver(node, { downloadsDir, ...options });
  t.after(() => receiver.close());
  const rec = new Recorder(receiver);
  await receiver.start();
  return { root, downloadsDir, sender, node, receiver, rec };
}

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('FileReceiver with a fake node', TIMEOUT, () => {
  it('receives a file sent with sendFile, byte-identical, creating the downloads dir', async (t) => {
    const { root, downloadsDir, sender, node, rec } = await setup(t);
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
    assert.deepEqual(done.from, sender.ref);
    assert.ok((await readFile(done.path)).equals(content));
    assert.deepEqual(await readdir(downloadsDir), ['data.bin']);
    const start = rec.of('file-start')[0];
    assert.equal(start?.finalPath, done.path);
    assert.equal(rec.of('file-progress').at(-1)?.bytesReceived, content.length);
    assert.equal(rec.of('file-error').length, 0);
  });

  it('ignores BYTES payloads of other protocols', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    node.bytesFrom(sender, Buffer.from('hello, not a file'));
    node.bytesFrom(sender, Buffer.from('FILE:old|1|x\nz'));
    // A zero-byte transfer right after proves the earlier payloads were processed without events.
    node.bytesFrom(sender, encodeFileStart('z', 0, sha(Buffer.alloc(0))));
    node.bytesFrom(sender, encodeFileEnd('z', sha(Buffer.alloc(0))));
    await rec.next('file-complete');
    assert.deepEqual(
      rec.events.map((e) => e.type),
      ['file-start', 'file-complete'],
    );
    assert.equal((await readFile(path.join(downloadsDir, 'z'))).length, 0);
  });

  it('reports malformed file frames and stray chunks, and keeps running', async (t) => {
    const { sender, node, rec } = await setup(t);
    node.bytesFrom(sender, Buffer.from('FILESTART:a|-1|nope\n'));
    const bad = await rec.next('file-error');
    assert.equal(bad.error.code, 'ERR_FILE_PROTOCOL');
    node.bytesFrom(sender, encodeFileChunk('ghost.txt', Buffer.from('boo')));
    const stray = await rec.next('file-error', (e) => e.name === 'ghost.txt');
    assert.equal(stray.error.code, 'ERR_FILE_PROTOCOL');
    node.bytesFrom(sender, encodeFileEnd('ghost.txt', sha(Buffer.from('boo'))));
    const strayEnd = await rec.next('file-error', (e) => e.name === 'ghost.txt', true);
    assert.match(strayEnd.error.message, /FILEEND/);
  });

  it('refuses an overflow past the announced size and drops the rest silently', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('12345');
    node.bytesFrom(sender, encodeFileStart('o.txt', 3, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('o.txt', data));
    node.bytesFrom(sender, encodeFileChunk('o.txt', data));
    node.bytesFrom(sender, encodeFileEnd('o.txt', sha(data)));
    node.bytesFrom(sender, encodeFileStart('after', 0, sha(Buffer.alloc(0))));
    node.bytesFrom(sender, encodeFileEnd('after', sha(Buffer.alloc(0))));
    await rec.next('file-complete');
    const errors = rec.of('file-error');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]?.error.code, 'ERR_FILE_INTEGRITY');
    assert.deepEqual(await readdir(downloadsDir), ['after']);
  });

  it('rejects a short file and a FILEEND checksum that differs from FILESTART', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('hello');
    node.bytesFrom(sender, encodeFileStart('short', 10, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('short', data));
    node.bytesFrom(sender, encodeFileEnd('short', sha(data)));
    const short = await rec.next('file-error', (e) => e.name === 'short');
    assert.equal(short.error.code, 'ERR_FILE_INTEGRITY');

    node.bytesFrom(sender, encodeFileStart('mixed', 5, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('mixed', data));
    node.bytesFrom(sender, encodeFileEnd('mixed', sha(Buffer.from('other'))));
    const mixed = await rec.next('file-error', (e) => e.name === 'mixed');
    assert.equal(mixed.error.code, 'ERR_FILE_INTEGRITY');
    assert.deepEqual(await readdir(downloadsDir), []);
  });

  it('a new FILESTART for the same sender and name restarts the transfer', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('final content');
    node.bytesFrom(sender, encodeFileStart('r.txt', 100, sha(Buffer.alloc(100))));
    node.bytesFrom(sender, encodeFileChunk('r.txt', Buffer.alloc(50)));
    node.bytesFrom(sender, encodeFileStart('r.txt', data.length, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('r.txt', data));
    node.bytesFrom(sender, encodeFileEnd('r.txt', sha(data)));
    const done = await rec.next('file-complete');
    assert.equal(done.path, path.join(downloadsDir, 'r.txt'));
    assert.ok((await readFile(done.path)).equals(data));
    assert.deepEqual(
      rec.of('file-error').map((e) => e.error.code),
      ['ERR_ABORTED'],
    );
    assert.deepEqual(await readdir(downloadsDir), ['r.txt']);
  });

  it('gives concurrent same-name transfers from two senders different names', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const other = new FakeNode('other');
    other.connect(node);
    const a = Buffer.from('from sender');
    const b = Buffer.from('from other');
    node.bytesFrom(sender, encodeFileStart('same.txt', a.length, sha(a)));
    node.bytesFrom(other, encodeFileStart('same.txt', b.length, sha(b)));
    node.bytesFrom(other, encodeFileChunk('same.txt', b));
    node.bytesFrom(sender, encodeFileChunk('same.txt', a));
    node.bytesFrom(other, encodeFileEnd('same.txt', sha(b)));
    node.bytesFrom(sender, encodeFileEnd('same.txt', sha(a)));
    await rec.next('file-complete', (e) => e.from.id === 'sender');
    const done = rec.of('file-complete');
    assert.equal(done.length, 2);
    const bySender = new Map(done.map((e) => [e.from.id, e.path]));
    assert.equal(bySender.get('sender'), path.join(downloadsDir, 'same.txt'));
    assert.equal(bySender.get('other'), path.join(downloadsDir, 'same-(1).txt'));
    assert.ok((await readFile(path.join(downloadsDir, 'same-(1).txt'))).equals(b));
  });

  it('never overwrites: a final name taken meanwhile, or a stale .part, moves to the next name', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    const data = Buffer.from('payload');
    node.bytesFrom(sender, encodeFileStart('taken.txt', data.length, sha(data)));
    await rec.next('file-start');
    await writeFile(path.join(downloadsDir, 'taken.txt'), 'someone else');
    node.bytesFrom(sender, encodeFileChunk('taken.txt', data));
    node.bytesFrom(sender, encodeFileEnd('taken.txt', sha(data)));
    const done = await rec.next('file-complete');
    assert.equal(done.path, path.join(downloadsDir, 'taken-(1).txt'));
    assert.equal(await readFile(path.join(downloadsDir, 'taken.txt'), 'utf8'), 'someone else');

    await writeFile(path.join(downloadsDir, 'stale.bin.part'), 'left by a crash');
    node.bytesFrom(sender, encodeFileStart('stale.bin', data.length, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('stale.bin', data));
    node.bytesFrom(sender, encodeFileEnd('stale.bin', sha(data)));
    const second = await rec.next('file-complete', (e) => e.name === 'stale.bin');
    assert.equal(second.path, path.join(downloadsDir, 'stale-(1).bin'));
    assert.equal(await readFile(path.join(downloadsDir, 'stale.bin.part'), 'utf8'), 'left by a crash');
  });

  it('refuses hostile names, oversize files and transfers past the concurrency cap', async (t) => {
    const { root, sender, node, rec, downloadsDir } = await setup(t, {
      maxFileSize: 10,
      maxConcurrentTransfers: 1,
    });
    const data = Buffer.from('x');
    node.bytesFrom(sender, encodeFileStart('ok', 1, sha(data)));
    const hostile = Buffer.from(`FILESTART:../escape.txt|1|${sha(data)}\n`);
    node.bytesFrom(sender, hostile);
    node.bytesFrom(sender, Buffer.from(`FILECHUNK:../escape.txt\nx`));
    node.bytesFrom(sender, Buffer.from(`FILEEND:../escape.txt|${sha(data)}\n`));
    node.bytesFrom(sender, encodeFileStart('big', 11, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('big', data));
    node.bytesFrom(sender, encodeFileStart('second', 1, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('ok', data));
    node.bytesFrom(sender, encodeFileEnd('ok', sha(data)));
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

  it('drops the .part files of a sender that disconnects', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    node.bytesFrom(sender, encodeFileStart('p1', 10, sha(Buffer.alloc(10))));
    node.bytesFrom(sender, encodeFileStart('p2', 10, sha(Buffer.alloc(10))));
    node.bytesFrom(sender, encodeFileChunk('p1', Buffer.alloc(5)));
    await rec.next('file-progress');
    assert.deepEqual((await readdir(downloadsDir)).sort(), ['p1.part', 'p2.part']);
    sender.disconnect(node);
    await rec.next('file-error', (e) => e.name === 'p2');
    assert.deepEqual(
      rec.of('file-error').map((e) => e.error.code),
      ['ERR_CONNECTION_CLOSED', 'ERR_CONNECTION_CLOSED'],
    );
    assert.deepEqual(await readdir(downloadsDir), []);
  });

  it('drops a transfer whose sender goes silent (idle timeout)', async (t) => {
    const { sender, node, rec, downloadsDir, receiver } = await setup(t, { idleTimeoutMs: 50 });
    // The receiver's idle timers are unref'd (a real node's sockets keep the process alive); the
    // fake node has none, so hold the event loop open for the test.
    const keepAlive = setInterval(() => undefined, 1000);
    t.after(() => clearInterval(keepAlive));
    node.bytesFrom(sender, encodeFileStart('slow', 10, sha(Buffer.alloc(10))));
    const err = await rec.next('file-error');
    assert.equal(err.error.code, 'ERR_PEER_TIMEOUT');
    assert.equal(receiver.activeTransfers, 0);
    assert.deepEqual(await readdir(downloadsDir), []);
  });

  it('close() aborts transfers in flight and deletes their .part files', async (t) => {
    const { sender, node, rec, downloadsDir, receiver } = await setup(t);
    node.bytesFrom(sender, encodeFileStart('c', 10, sha(Buffer.alloc(10))));
    await rec.next('file-start');
    await receiver.close();
    assert.equal(rec.of('file-error')[0]?.error.code, 'ERR_CLOSED');
    assert.deepEqual(await readdir(downloadsDir), []);
    assert.equal(node.streams.size, 0);
    await assert.rejects(receiver.start(), { code: 'ERR_CLOSED' });
  });

  it('reports a disk error as ERR_FILE_IO and keeps running', async (t) => {
    const { sender, node, rec, downloadsDir } = await setup(t);
    // Works as root too: the downloads dir is replaced by a regular file (ENOTDIR).
    await rm(downloadsDir, { recursive: true });
    await writeFile(downloadsDir, 'not a directory');
    const data = Buffer.from('data');
    node.bytesFrom(sender, encodeFileStart('d', data.length, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('d', data));
    const err = await rec.next('file-error');
    assert.equal(err.error.code, 'ERR_FILE_IO');
    assert.equal(rec.of('file-error').length, 1, 'the chunk of a refused transfer is dropped silently');
    await rm(downloadsDir);
    await mkdir(downloadsDir);
    node.bytesFrom(sender, encodeFileStart('d', data.length, sha(data)));
    node.bytesFrom(sender, encodeFileChunk('d', data));
    node.bytesFrom(sender, encodeFileEnd('d', sha(data)));
    const done = await rec.next('file-complete');
    assert.ok((await readFile(done.path)).equals(data));
  });

  it('start() fails with ERR_FILE_IO when the downloads dir cannot be created', async (t) => {
    const root = await tmpDir(t);
    await writeFile(path.join(root, 'file'), '');
    const receiver = new FileReceiver(new FakeNode('n'), { downloadsDir: path.join(root, 'file', 'sub') });
    t.after(() => receiver.close());
    await assert.rejects(receiver.start(), { code: 'ERR_FILE_IO' });
  });

  it('validates options', () => {
    const node = new FakeNode('n');
    for (const bad of [
      { maxFileSize: -1 },
      { maxConcurrentTransfers: 0 },
      { idleTimeoutMs: 1.5 },
      { downloadsDir: '' },
    ]) {
      assert.throws(() => new FileReceiver(node, bad), { code: 'ERR_INVALID_OPTION' });
    }
  });

  it('closes when its signal aborts', async (t) => {
    const { node, receiver } = await setup(t, {});
    const ac = new AbortController();
    const r2 = new FileReceiver(node, { downloadsDir: receiver.downloadsDir, signal: ac.signal });
    await r2.start();
    assert.equal(node.streams.size, 2);
    ac.abort();
    await r2.close();
    assert.equal(node.streams.size, 1);
  });
});

describe('sendFile with a fake node', TIMEOUT, () => {
  async function senderSetup(t: TestContext, content: Buffer) {
    const root = await tmpDir(t);
    const src = path.join(root, 'src.bin');
    await writeFile(src, content);
    const sender = new FakeNode('s');
    const r1 = new FakeNode('r1');
    const r2 = new FakeNode('r2');
    sender.connect(r1);
    sender.connect(r2);
    return { root, src, sender, r1, r2 };
  }

  it('fails with ERR_FILE_IO when the file grows or shrinks between the passes', async (t) => {
    const { src, sender } = await senderSetup(t, randomBytes(1000));
    sender.beforeSend = async (_peer, data) => {
      if (Buffer.from(data.subarray(0, 10)).toString() === 'FILESTART:') await appendFile(src, 'more');
    };
    await assert.rejects(sendFile(sender, src, { to: 'r1' }), { code: 'ERR_FILE_IO', message: /grew/ });
    sender.beforeSend = async (_peer, data) => {
      if (Buffer.from(data.subarray(0, 10)).toString() === 'FILESTART:') await truncate(src, 500);
    };
    await assert.rejects(sendFile(sender, src, { to: 'r1', chunkSize: 256 }), {
      code: 'ERR_FILE_IO',
      message: /shrank/,
    });
  });

  it('fails with ERR_FILE_IO when the content changes between the passes, before FILEEND', async (t) => {
    const { src, sender, r1 } = await senderSetup(t, Buffer.alloc(1000));
    const seen: string[] = [];
    sender.beforeSend = async (_peer, data) => {
      const head = Buffer.from(data.subarray(0, 10)).toString();
      seen.push(head.split(':')[0] ?? '');
      if (head === 'FILESTART:') await writeFile(src, Buffer.alloc(1000, 1));
    };
    await assert.rejects(sendFile(sender, src, { to: r1.id }), { code: 'ERR_FILE_IO', message: /changed/ });
    assert.deepEqual(seen, ['FILESTART', 'FILECHUNK']);
  });

  it('rejects with ERR_ABORTED while a send waits on backpressure', async (t) => {
    const { src, sender } = await senderSetup(t, randomBytes(1000));
    const ac = new AbortController();
    sender.beforeSend = () => {
      ac.abort();
      return new Promise(() => undefined); // a send queue that never drains
    };
    await assert.rejects(sendFile(sender, src, { signal: ac.signal }), { code: 'ERR_ABORTED' });
    await assert.rejects(sendFile(sender, src, { signal: AbortSignal.abort() }), { code: 'ERR_ABORTED' });
  });

  it('drops failing peers and carries on with the others', async (t) => {
    const content = randomBytes(10_000);
    const { src, sender, r1 } = await senderSetup(t, content);
    let chunks = 0;
    sender.beforeSend = (peer, data) => {
      if (peer === 'r2' && Buffer.from(data.subarray(0, 10)).toString() === 'FILECHUNK:' && ++chunks === 2) {
        throw new MeshwireError('ERR_SEND_QUEUE_FULL', 'full');
      }
    };
    const received: Buffer[] = [];
    const stream = r1.messages({ types: ['bytes'] });
    const result = await sendFile(sender, src, { chunkSize: 1000, to: ['r1', 'r2', 'ghost', 'r1'] });
    assert.deepEqual(result.sent, ['r1']);
    assert.deepEqual(result.failed.map((f) => [f.peerId, f.error.code]).sort(), [
      ['ghost', 'ERR_UNKNOWN_PEER'],
      ['r2', 'ERR_SEND_QUEUE_FULL'],
    ]);
    for (let i = 0; i < 12; i++) {
      const { value } = await stream.next();
      if (value?.type === 'bytes') received.push(Buffer.from(value.data));
    }
    assert.equal(received.length, 12, 'FILESTART + 10 chunks + FILEEND, no duplicate for the repeated id');
    assert.equal(received.at(-1)?.toString(), `FILEEND:src.bin|${sha(content)}\n`);
  });

  it('broadcasts to the peers connected at FILESTART only', async (t) => {
    const { src, sender, r1, r2 } = await senderSetup(t, randomBytes(3000));
    const late = new FakeNode('late');
    sender.beforeSend = (_peer, data) => {
      if (Buffer.from(data.subarray(0, 10)).toString() === 'FILESTART:' && !sender.peers.has('late')) {
        sender.connect(late);
      }
    };
    const result = await sendFile(sender, src, { chunkSize: 1000 });
    assert.deepEqual(result.sent.sort(), [r1.id, r2.id]);
  });

  it('validates its options and the name', async (t) => {
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
