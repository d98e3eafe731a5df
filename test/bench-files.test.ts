/**
 * The `files` benchmark's own machinery (bench/): the corrupted copy it serves from its bad
 * source, and its two scenarios end to end at a small size (real processes on loopback):
 * resume after kills -9 of the receiver (3 here, 10 in the suite), and a source corrupting its
 * pieces. A scenario that cannot tell a pass (wrong hash, no drop, too much re-fetched) fails
 * here before it misleads a run.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Context, Row } from '../bench/lib/context.js';
import { corruptCopy, sha256File, writeRandomFile } from '../bench/lib/files-data.js';
import { fileCorrupt } from '../bench/suites/files-corrupt.js';
import type { FileSet } from '../bench/suites/files-rates.js';
import { fileResume } from '../bench/suites/files-resume.js';

const MiB = 1024 * 1024;

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-bench-test-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));
  return dir;
}

async function fileSet(t: TestContext, size: number): Promise<{ set: FileSet; sha: string }> {
  const tmp = await tempDir(t);
  const set: FileSet = {
    tmp,
    source: path.join(tmp, 'payload.bin'),
    warm: path.join(tmp, 'warm.bin'),
    size,
    warmSize: size,
  };
  await writeRandomFile(set.source, size);
  return { set, sha: await sha256File(set.source) };
}

const ctx: Context = { quick: true, runs: 1, execArgv: [], log: () => undefined, cache: new Map() };

describe('bench files: data helpers', () => {
  it('corruptCopy flips one byte in each chosen piece and keeps size and mtime', async (t) => {
    const tmp = await tempDir(t);
    const source = path.join(tmp, 'src.bin');
    const copy = path.join(tmp, 'copy.bin');
    const pieceLength = 64 * 1024;
    await writeRandomFile(source, 2 * MiB + 100);
    const c = await corruptCopy(source, copy, pieceLength, 0.01, 42, 5);
    assert.equal(c.indices.length, 5, 'at least 5 of 33 pieces');
    assert.equal(await sha256File(copy), await sha256File(source), 'clean until corrupt()');
    const before = await stat(copy);
    await c.corrupt();
    const after = await stat(copy);
    assert.equal(after.size, before.size);
    assert.ok(Math.abs(after.mtimeMs - before.mtimeMs) < 1, 'mtime put back');
    const [a, b] = [await readFile(source), await readFile(copy)];
    const differing = new Set<number>();
    let bytes = 0;
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) {
        bytes++;
        differing.add(Math.floor(i / pieceLength));
      }
    }
    assert.equal(bytes, 5, 'one byte per corrupted piece');
    assert.deepEqual(
      [...differing].sort((x, y) => x - y),
      c.indices,
    );
  });
});

// Each scenario starts 4-5 processes through tsx: seconds each on a loaded machine.
describe('bench files: scenarios', { timeout: 300_000 }, () => {
  it('resume after 3 kills -9 (24 MiB): the hash matches, less than the file re-fetched', async (t) => {
    // 3 kills keep the test short (the suite does 10); 24 MiB leaves room for kill points
    // that end two windows (8.5 MiB) before the end.
    const { set, sha } = await fileSet(t, 24 * MiB);
    const row = await fileResume(ctx, set, sha, 3);
    assert.equal(row.note?.startsWith('failed'), false, row.note);
    assert.equal(row.details?.sha256Match, true);
    assert.equal(row.details?.killsMidTransfer, 3, row.note);
    // The scenario, not the library's target (re-fetched <= kills x (window + 1) pieces is a
    // benchmark verdict; the in-flight and not-yet-written pieces can exceed it): resuming
    // must re-fetch far less than the file, which starting over after each kill would not.
    const resumed = String(row.details?.resumedFromMiB).split(' ').map(Number);
    assert.equal(resumed.length, 3);
    // Kill points are in ascending order; the first may come before the first batched state
    // save (2 % of 24 MiB is two pieces), so only the later restarts must have resumed.
    assert.ok(
      resumed.slice(1).every((mib) => mib > 0),
      `every restart after the first resumed with verified bytes: ${row.details?.resumedFromMiB}`,
    );
    const refetched = Number(row.details?.refetchedMiB);
    assert.ok(refetched >= 0 && refetched < 24, row.note);
    assert.equal(typeof row.target?.pass, 'boolean');
  });

  it('a corrupting source (8 MiB) is dropped at its first bad piece, nothing bad written', async (t) => {
    // The property can be checked only in a run where the bad source sent a corrupted piece. On
    // a loaded machine the two good sources can serve all of an 8 MiB file before the bad
    // source's process answers at all (seen once in CI: it sent 0 pieces). Such a run proves
    // nothing either way, so it is run again, at most twice.
    const run = async (): Promise<Row> => {
      const { set, sha } = await fileSet(t, 8 * MiB);
      return fileCorrupt(ctx, set, sha);
    };
    let row = await run();
    for (let attempt = 2; attempt <= 3 && Number(row.details?.badSourceFirstBadAt) < 0; attempt++) {
      if (row.note?.startsWith('failed')) break;
      t.diagnostic(`attempt ${attempt - 1}: the bad source sent no corrupted piece (${row.note})`);
      row = await run();
    }
    assert.equal(row.note?.startsWith('failed'), false, row.note);
    assert.equal(row.details?.sha256Match, true);
    assert.equal(row.details?.dropsOfBadSource, 1, row.note);
    assert.equal(row.details?.dropsOfGoodSources, 0, row.note);
    assert.ok(Number(row.details?.badSourceFirstBadAt) >= 0, 'the bad source sent a corrupted piece');
  });
});
