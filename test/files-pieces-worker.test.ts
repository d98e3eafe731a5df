/**
 * Leaf hashing on the worker thread (`hashInWorker`): the leaves and piece roots equal the
 * main-thread ones for every shape of piece, many calls may be in flight, and a download that
 * hashes on the worker still drops a corrupting source at its first bad piece and stores a
 * byte-identical file. Also the one-shot parent hashes against an independent reference.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FileShare, type FileShareOptions } from '../src/files/index.js';
import { LeafHasher } from '../src/files/pieces/leaf-hasher.js';
import { BLOCK_SIZE, merkleRoot, pieceRoot } from '../src/files/pieces/merkle.js';
import { addressOf, startNode, waitFor } from './helpers/nodes.js';

const TEST = { timeout: 60_000 };
const MiB = 1024 * 1024;
const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** Reference piece root: a plain recursive tree with Hash objects (no shared scratch buffers). */
function referenceRoot(data: Uint8Array, width: number): Buffer {
  const leaves: Buffer[] = [];
  for (let off = 0; off < data.length; off += BLOCK_SIZE)
    leaves.push(sha(data.subarray(off, off + BLOCK_SIZE)));
  const zero = Buffer.alloc(32);
  const node = (from: number, span: number): Buffer => {
    if (span === 1) return leaves[from] ?? zero;
    const half = span / 2;
    return sha(node(from, half), node(from + half, half));
  };
  return node(0, width);
}

describe('LeafHasher and piece roots', () => {
  it('worker leaves and roots equal the reference for every piece shape', TEST, async () => {
    const hasher = new LeafHasher();
    try {
      const cases: [number, number][] = [
        [256 * 1024, 16],
        [256 * 1024 - 1, 16],
        [BLOCK_SIZE + 1, 2],
        [1, 1],
        [5 * BLOCK_SIZE, 16],
      ];
      for (const [size, width] of cases) {
        const data = randomBytes(size);
        const leaves = await hasher.leaves(data, 256 * 1024);
        assert.equal(leaves.length, Math.ceil(size / BLOCK_SIZE));
        leaves.forEach((leaf, i) =>
          assert.deepEqual(leaf, sha(data.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE))),
        );
        const expected = referenceRoot(data, width);
        assert.deepEqual(merkleRoot(leaves, width), expected, `worker root, ${size} bytes`);
        assert.deepEqual(pieceRoot(data, width), expected, `main-thread root, ${size} bytes`);
      }
      // Many in flight at once, answered in any order, each to its own caller; reused buffers
      // never leak one piece's bytes into another's hash.
      const pieces = Array.from({ length: 24 }, (_, i) => randomBytes(i % 3 === 0 ? 100_000 : 256 * 1024));
      const roots = await Promise.all(
        pieces.map(async (p) => merkleRoot(await hasher.leaves(p, 256 * 1024), 16)),
      );
      roots.forEach((r, i) => assert.deepEqual(r, referenceRoot(pieces[i]!, 16), `piece ${i}`));
      assert.equal(hasher.failed, false);
    } finally {
      await hasher.close();
    }
  });

  it('rejects a non-boolean hashInWorker', TEST, async (t) => {
    const node = await startNode(t, { mode: 'secure', name: 'opt', autoConnectMax: 0 });
    assert.throws(
      () => new FileShare(node, { hashInWorker: 'yes' as unknown as boolean }),
      (err: { code?: string; message: string }) =>
        err.code === 'ERR_INVALID_OPTION' && err.message.includes('hashInWorker'),
    );
  });
});

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-pieces-worker-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  return dir;
}

async function peer(t: TestContext, root: string, name: string, options: FileShareOptions = {}) {
  const node = await startNode(t, {
    mode: 'secure',
    name,
    keyFile: path.join(root, `${name}.key`),
    autoConnectMax: 0,
    peerTimeoutMs: 60_000,
  });
  const share = new FileShare(node, { downloadsDir: path.join(root, name), ...options });
  t.after(() => share.close());
  await share.start();
  return { node, share };
}

describe('FileShare with hashInWorker', () => {
  it(
    'verifies on the worker: a corrupting source is dropped, the file is byte-identical',
    TEST,
    async (t) => {
      const root = await tempDir(t);
      const good = await peer(t, root, 'good');
      const bad = await peer(t, root, 'bad');
      const rx = await peer(t, root, 'rx', { window: 4, hashInWorker: true });
      for (const s of [good, bad]) {
        const accepted = waitFor(s.node, 'peer-connected', (m) => m.peer.id === rx.node.id);
        await rx.node.connectToPeer(addressOf(s.node));
        await accepted;
      }
      const data = randomBytes(6 * MiB + 777);
      const files = [path.join(root, 'good.bin'), path.join(root, 'bad.bin')];
      for (const f of files) await writeFile(f, data);
      const [offer] = await Promise.all([
        good.share.shareFile(files[0]!, { name: 'x.bin' }),
        bad.share.shareFile(files[1]!, { name: 'x.bin' }),
      ]);
      // Corrupt one byte of every piece of the bad copy, keeping size and mtime.
      const st = await stat(files[1]!);
      const fh = await open(files[1]!, 'r+');
      for (let i = 0; i * offer.pieceLength < data.length; i++) {
        await fh.write(Buffer.from([data[i * offer.pieceLength]! ^ 0xff]), 0, 1, i * offer.pieceLength);
      }
      await fh.close();
      await utimes(files[1]!, st.atimeMs / 1000, st.mtimeMs / 1000);

      const dropped: { peerId: string; error: { code: string } }[] = [];
      rx.share.on('source-dropped', (e) => void dropped.push({ peerId: e.peerId, error: e.error }));
      const got = await rx.share.fetchFile(offer.rootHex, { sources: [bad.node.id, good.node.id] });
      assert.deepEqual(sha(await readFile(got)), sha(data));
      assert.equal(dropped.length, 1, 'only the bad source dropped');
      assert.equal(dropped[0]!.peerId, bad.node.id);
      assert.equal(dropped[0]!.error.code, 'ERR_FILE_INTEGRITY');
      assert.ok(good.share.bytesServed >= data.length - 4 * offer.pieceLength);
    },
  );
});
