/**
 * The compat receiver's write-behind (chunk-writer.ts) on real files: chunks land in order
 * whatever their sizes and however they batch, a caller past the cap waits for the disk, and a
 * write error reaches the next call and the flush.
 */
import assert from 'node:assert/strict';
import { open, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ChunkWriter } from '../src/files/chunk-writer.js';
import { mulberry32, seededBytes } from './helpers/random.js';
import { tempDir } from './helpers/temp-dir.js';

describe('ChunkWriter', { timeout: 30_000 }, () => {
  it('writes every chunk at its place, batching the ones that arrive during a write', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'out.part');
    const fh = await open(file, 'wx');
    t.after(() => fh.close().catch(() => undefined));
    const random = mulberry32(21);
    const data = seededBytes(random, 3 * 1024 * 1024 + 17);
    const w = new ChunkWriter(fh, 256 * 1024);
    let at = 0;
    let waited = 0;
    while (at < data.length) {
      const n = Math.min(data.length - at, 1 + Math.floor(random() * 100_000));
      const p = w.write(data.subarray(at, at + n), at);
      // Past the cap the call waits for the disk; under it, it resolves at once.
      let settled = false;
      void p.then(() => (settled = true));
      await Promise.resolve();
      if (!settled) waited++;
      await p;
      at += n;
    }
    await w.flush();
    assert.ok(waited > 0, 'some calls waited for the disk');
    assert.deepEqual(await readFile(file), data);
  });

  it('reports a write error to the next call and to flush', async (t) => {
    const dir = await tempDir(t);
    const file = path.join(dir, 'ro.part');
    await (await open(file, 'w')).close();
    const fh = await open(file, 'r'); // read-only: every write fails (EBADF)
    t.after(() => fh.close().catch(() => undefined));
    const w = new ChunkWriter(fh, 1024);
    await w.write(Buffer.alloc(10), 0).catch(() => undefined);
    await assert.rejects(w.flush(), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
    await assert.rejects(w.write(Buffer.alloc(10), 10), (err: NodeJS.ErrnoException) => err.code === 'EBADF');
    await w.settle();
  });
});
