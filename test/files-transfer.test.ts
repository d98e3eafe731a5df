/**
 * File transfer between real P2PNodes over loopback TCP: sendFile on one side, FileReceiver on
 * the others, plus hand-crafted hostile and broken frames sent with the raw BYTES API.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { P2PNode } from '../src/node.js';
import type { NodeEvents } from '../src/messages.js';
import type { NodeOptions } from '../src/options.js';
import {
  DEFAULT_CHUNK_SIZE,
  FileReceiver,
  encodeFileChunk,
  encodeFileEnd,
  encodeFileStart,
  sendFile,
  type FileNode,
  type FileReceiverEvents,
  type FileReceiverOptions,
} from '../src/files/index.js';

const TIMEOUT = { timeout: 30_000 };

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Resolves with the next event of `type` that matches (emitters here are TypedEmitters, not EventEmitters). */
function nextEvent<E extends { [K in keyof E]: unknown }, K extends keyof E>(
  emitter: {
    on(type: K, listener: (payload: E[K]) => void): unknown;
    off(type: K, listener: (payload: E[K]) => void): unknown;
  },
  type: K,
  match: (payload: E[K]) => boolean = () => true,
): Promise<E[K]> {
  return new Promise((resolve) => {
    const listener = (payload: E[K]): void => {
      if (!match(payload)) return;
      emitter.off(type, listener);
      resolve(payload);
    };
    emitter.on(type, listener);
  });
}

const nodeEvent = <K extends keyof NodeEvents>(
  node: P2PNode,
  type: K,
  match?: (payload: NodeEvents[K]) => boolean,
): Promise<NodeEvents[K]> => nextEvent<NodeEvents, K>(node, type, match);

const fileEvent = <K extends keyof FileReceiverEvents>(
  receiver: FileReceiver,
  type: K,
  match?: (payload: FileReceiverEvents[K]) => boolean,
): Promise<FileReceiverEvents[K]> => nextEvent<FileReceiverEvents, K>(receiver, type, match);

async function tmpDir(t: TestContext, label: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `meshwire-files-${label}-`));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function startNode(t: TestContext, name: string, options: NodeOptions = {}): Promise<P2PNode> {
  // No peer exchange dials: each test builds exactly the topology it describes.
  const node = new P2PNode({
    port: 0,
    host: '127.0.0.1',
    mode: 'compat',
    name,
    autoConnectMax: 0,
    ...options,
  });
  t.after(() => node.close());
  await node.start();
  return node;
}

/** Connects `from` to `to` and waits until both sides count the other as a peer. */
async function connect(from: P2PNode, to: P2PNode): Promise<void> {
  const accepted = nodeEvent(to, 'peer-connected', (m) => m.peer.id === from.id);
  await from.connectToPeer(`127.0.0.1:${to.port}`);
  await accepted;
}

interface Receiving {
  node: P2PNode;
  receiver: FileReceiver;
  dir: string;
  /** Every file-error the receiver reported. */
  errors: FileReceiverEvents['file-error'][];
}

async function startReceiver(
  t: TestContext,
  name: string,
  options: FileReceiverOptions = {},
  nodeOptions: NodeOptions = {},
): Promise<Receiving> {
  const node = await startNode(t, name, nodeOptions);
  const root = await tmpDir(t, name);
  const dir = path.join(root, 'downloads');
  const receiver = new FileReceiver(node, { downloadsDir: dir, ...options });
  t.after(() => receiver.close());
  const errors: Receiving['errors'] = [];
  receiver.on('file-error', (e) => errors.push(e));
  await receiver.start();
  return { node, receiver, dir, errors };
}

describe('file transfer over loopback TCP', TIMEOUT, () => {
  it('P2PNode satisfies FileNode', async (t) => {
    const node = await startNode(t, 'typecheck');
    const asFileNode: FileNode = node;
    assert.equal(asFileNode.maxBytesPerMessage, 16 * 1024 * 1024);
  });

  it('broadcasts a 5 MiB, a 0-byte and a chunk-multiple file byte-identical to two receivers', async (t) => {
    const sender = await startNode(t, 'sender');
    const b = await startReceiver(t, 'b');
    const c = await startReceiver(t, 'c');
    await connect(b.node, sender);
    await connect(c.node, sender);
    const src = await tmpDir(t, 'src');

    const files = [
      { name: 'random-5MiB.bin', content: randomBytes(5 * 1024 * 1024 + 123) },
      { name: 'empty.txt', content: Buffer.alloc(0) },
      { name: 'exact multiple.dat', content: randomBytes(2 * DEFAULT_CHUNK_SIZE) },
    ];
    for (const { name, content } of files) {
      const file = path.join(src, name);
      await writeFile(file, content);
      const completions = [b, c].map((r) =>
        fileEvent(r.receiver, 'file-complete', (e) => e.name === name && e.from.id === sender.id),
      );
      const progress: number[] = [];
      const result = await sendFile(sender, file, { onProgress: (p) => progress.push(p.bytesSent) });
      assert.deepEqual(result.sent.sort(), [b.node.id, c.node.id].sort());
      assert.deepEqual(result.failed, []);
      assert.equal(result.size, content.length);
      assert.equal(result.sha256, sha(content));
      assert.equal(progress.at(-1), content.length);
      if (content.length > 0) assert.equal(progress.length, Math.ceil(content.length / DEFAULT_CHUNK_SIZE));

      for (const [i, done] of (await Promise.all(completions)).entries()) {
        const r = [b, c][i]!;
        assert.equal(done.path, path.join(r.dir, name));
        assert.equal(done.size, content.length);
        assert.equal(done.sha256, sha(content));
        assert.ok((await readFile(done.path)).equals(content), `${name} differs at receiver ${i}`);
      }
    }
    for (const r of [b, c]) {
      assert.deepEqual(r.errors, []);
      assert.deepEqual((await readdir(r.dir)).sort(), files.map((f) => f.name).sort(), 'no .part left');
    }
  });

  it('completes a 64 MiB file, where the Go original stalls by dropping chunks', async (t) => {
    const sender = await startNode(t, 'sender');
    const r = await startReceiver(t, 'r');
    await connect(r.node, sender);
    const file = path.join(await tmpDir(t, 'src'), 'large.bin');
    const content = randomBytes(64 * 1024 * 1024);
    await writeFile(file, content);
    const done = fileEvent(r.receiver, 'file-complete');
    let maxLag = 0;
    let received = 0;
    r.receiver.on('file-progress', (p) => (received = p.bytesReceived));
    await sendFile(sender, file, { onProgress: (p) => (maxLag = Math.max(maxLag, p.bytesSent - received)) });
    const event = await done;
    assert.equal(event.sha256, sha(content));
    assert.ok((await readFile(event.path)).equals(content));
    // Backpressure end to end: the sender never runs more than a few MiB ahead of the disk writes.
    assert.ok(maxLag < 32 * 1024 * 1024, `sender ran ${maxLag} bytes ahead of the receiver`);
  });

  it('works the same in secure mode', async (t) => {
    const sender = await startNode(t, 'sender', { mode: 'secure' });
    const b = await startReceiver(t, 'b', {}, { mode: 'secure' });
    await connect(b.node, sender);
    const content = randomBytes(1024 * 1024 + 7);
    const file = path.join(await tmpDir(t, 'src'), 'secure.bin');
    await writeFile(file, content);
    const done = fileEvent(b.receiver, 'file-complete');
    const result = await sendFile(sender, file, { to: b.node.id });
    assert.deepEqual(result.sent, [b.node.id]);
    assert.ok((await readFile((await done).path)).equals(content));
  });

  it('`to` one peer reaches only that peer', async (t) => {
    const sender = await startNode(t, 'sender');
    const b = await startReceiver(t, 'b');
    const c = await startReceiver(t, 'c');
    await connect(b.node, sender);
    await connect(c.node, sender);
    const src = await tmpDir(t, 'src');
    await writeFile(path.join(src, 'private.txt'), 'only for b');
    await writeFile(path.join(src, 'marker.txt'), 'for c');

    const cStarts: string[] = [];
    c.receiver.on('file-start', (e) => cStarts.push(e.name));
    const atB = fileEvent(b.receiver, 'file-complete');
    const result = await sendFile(sender, path.join(src, 'private.txt'), { to: b.node.id });
    assert.deepEqual(result.sent, [b.node.id]);
    assert.equal((await atB).name, 'private.txt');

    // Frames from one sender arrive in order: once c has the later file, it would have seen the
    // earlier one had it been sent there.
    const atC = fileEvent(c.receiver, 'file-complete');
    await sendFile(sender, path.join(src, 'marker.txt'), { to: [c.node.id] });
    assert.equal((await atC).name, 'marker.txt');
    assert.deepEqual(cStarts, ['marker.txt']);
    assert.deepEqual(await readdir(c.dir), ['marker.txt']);
    assert.deepEqual(await readdir(b.dir), ['private.txt']);
  });

  it('two concurrent transfers with the same name land as name and name-(1)', async (t) => {
    const s1 = await startNode(t, 's1');
    const s2 = await startNode(t, 's2');
    const r = await startReceiver(t, 'r');
    await connect(s1, r.node);
    await connect(s2, r.node);
    const d1 = await tmpDir(t, 'src1');
    const d2 = await tmpDir(t, 'src2');
    const c1 = randomBytes(2 * 1024 * 1024);
    const c2 = randomBytes(2 * 1024 * 1024 + 1);
    await writeFile(path.join(d1, 'report.pdf'), c1);
    await writeFile(path.join(d2, 'report.pdf'), c2);

    const starts: string[] = [];
    r.receiver.on('file-start', (e) => starts.push(path.basename(e.finalPath ?? '')));
    const done1 = fileEvent(r.receiver, 'file-complete', (e) => e.from.id === s1.id);
    const done2 = fileEvent(r.receiver, 'file-complete', (e) => e.from.id === s2.id);
    await Promise.all([
      sendFile(s1, path.join(d1, 'report.pdf'), { to: r.node.id }),
      sendFile(s2, path.join(d2, 'report.pdf'), { to: r.node.id }),
    ]);
    const [e1, e2] = await Promise.all([done1, done2]);
    assert.deepEqual([path.basename(e1.path), path.basename(e2.path)].sort(), [
      'report-(1).pdf',
      'report.pdf',
    ]);
    assert.deepEqual(starts.sort(), ['report-(1).pdf', 'report.pdf']);
    assert.ok((await readFile(e1.path)).equals(c1));
    assert.ok((await readFile(e2.path)).equals(c2));
    assert.deepEqual(r.errors, []);
  });

  it('refuses a hostile ../ name and writes nothing outside the downloads dir', async (t) => {
    const sender = await startNode(t, 'attacker');
    const r = await startReceiver(t, 'victim');
    await connect(sender, r.node);
    const payload = Buffer.from('pwned');
    const refused = fileEvent(r.receiver, 'file-error');
    await sender.sendBytesToPeer(r.node.id, Buffer.from(`FILESTART:../escape.txt|5|${sha(payload)}\n`));
    await sender.sendBytesToPeer(
      r.node.id,
      Buffer.concat([Buffer.from('FILECHUNK:../escape.txt\n'), payload]),
    );
    await sender.sendBytesToPeer(r.node.id, Buffer.from(`FILEEND:../escape.txt|${sha(payload)}\n`));
    const err = await refused;
    assert.equal(err.error.code, 'ERR_FILE_NAME');
    assert.equal(err.name, '../escape.txt');
    assert.deepEqual(err.from.id, sender.id);

    // A good transfer after it proves the hostile chunk and end were processed (silently).
    const ok = fileEvent(r.receiver, 'file-complete');
    await sender.sendBytesToPeer(r.node.id, encodeFileStart('fine.txt', 2, sha(Buffer.from('ok'))));
    await sender.sendBytesToPeer(r.node.id, encodeFileChunk('fine.txt', Buffer.from('ok')));
    await sender.sendBytesToPeer(r.node.id, encodeFileEnd('fine.txt', sha(Buffer.from('ok'))));
    await ok;
    assert.equal(r.errors.length, 1);
    assert.deepEqual(await readdir(path.dirname(r.dir)), ['downloads']);
    assert.deepEqual(await readdir(r.dir), ['fine.txt']);
  });

  it('a corrupted chunk fails with ERR_FILE_INTEGRITY and leaves no file behind', async (t) => {
    const sender = await startNode(t, 'sender');
    const r = await startReceiver(t, 'r');
    await connect(sender, r.node);
    const content = randomBytes(300_000);
    const corrupted = Buffer.from(content);
    corrupted[123_456] = (corrupted[123_456]! + 1) % 256;
    const failed = fileEvent(r.receiver, 'file-error');
    await sender.sendBytesToPeer(r.node.id, encodeFileStart('data.bin', content.length, sha(content)));
    await sender.sendBytesToPeer(r.node.id, encodeFileChunk('data.bin', corrupted.subarray(0, 200_000)));
    await sender.sendBytesToPeer(r.node.id, encodeFileChunk('data.bin', corrupted.subarray(200_000)));
    await sender.sendBytesToPeer(r.node.id, encodeFileEnd('data.bin', sha(content)));
    const err = await failed;
    assert.equal(err.error.code, 'ERR_FILE_INTEGRITY');
    assert.equal(err.name, 'data.bin');
    assert.deepEqual(await readdir(r.dir), []);
  });

  it('deletes the .part when the sender disconnects mid-transfer', async (t) => {
    const sender = await startNode(t, 'leaver');
    const r = await startReceiver(t, 'r');
    await connect(sender, r.node);
    const content = randomBytes(1024 * 1024);
    const progressed = fileEvent(r.receiver, 'file-progress');
    await sender.sendBytesToPeer(r.node.id, encodeFileStart('half.bin', content.length, sha(content)));
    await sender.sendBytesToPeer(r.node.id, encodeFileChunk('half.bin', content.subarray(0, 256 * 1024)));
    assert.equal((await progressed).bytesReceived, 256 * 1024);
    assert.deepEqual(await readdir(r.dir), ['half.bin.part']);

    const failed = fileEvent(r.receiver, 'file-error');
    await sender.close();
    const err = await failed;
    assert.equal(err.error.code, 'ERR_CONNECTION_CLOSED');
    assert.equal(err.name, 'half.bin');
    assert.deepEqual(await readdir(r.dir), []);
    assert.equal(r.receiver.activeTransfers, 0);
  });

  it('refuses a file larger than maxFileSize', async (t) => {
    const sender = await startNode(t, 'sender');
    const r = await startReceiver(t, 'r', { maxFileSize: 1000 });
    await connect(sender, r.node);
    const file = path.join(await tmpDir(t, 'src'), 'big.bin');
    await writeFile(file, randomBytes(1001));
    const refused = fileEvent(r.receiver, 'file-error');
    await sendFile(sender, file, { to: r.node.id, chunkSize: 100 });
    const err = await refused;
    assert.equal(err.error.code, 'ERR_FILE_TOO_LARGE');
    // The refused transfer's 11 chunks and FILEEND are dropped without further events.
    const small = path.join(path.dirname(file), 'small.bin');
    await writeFile(small, randomBytes(1000));
    const done = fileEvent(r.receiver, 'file-complete');
    await sendFile(sender, small, { to: r.node.id });
    await done;
    assert.equal(r.errors.length, 1);
    assert.deepEqual(await readdir(r.dir), ['small.bin']);
  });

  it('reports a chunk for an unknown transfer and ignores non-file BYTES', async (t) => {
    const sender = await startNode(t, 'sender');
    const r = await startReceiver(t, 'r');
    await connect(sender, r.node);
    const reported = fileEvent(r.receiver, 'file-error');
    await sender.sendBytesToPeer(r.node.id, Buffer.from('some other protocol'));
    await sender.sendBytesToPeer(r.node.id, encodeFileChunk('nobody.txt', Buffer.from('data')));
    const err = await reported;
    assert.equal(err.error.code, 'ERR_FILE_PROTOCOL');
    assert.equal(err.name, 'nobody.txt');
    assert.equal(r.errors.length, 1);
    assert.deepEqual(await readdir(r.dir), []);
  });
});
