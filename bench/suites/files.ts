/**
 * File transfer (issue 14's targets), in one suite run:
 *
 * 1. rates (bench/suites/files-rates.ts): the pieces protocol (secure) from one source against
 *    bulk BYTES secure, the original push (compat) against bulk BYTES compat, interleaved in the
 *    same rounds; CPU of both sides and the receiver's RSS growth;
 * 2. three sources, each in its own process, against one source (same rounds), with the CPU that
 *    bounds it;
 * 3. resume (files-resume.ts): the receiver SIGKILLed 10 times at random points;
 * 4. a corrupting source (files-corrupt.ts): one of three flips a byte in 1 % of its pieces.
 *
 * Files are random data in a fresh folder of the OS temp directory, deleted however the suite
 * ends. Size: 1 GiB (quick: 64 MiB); MESHWIRE_BENCH_FILE_MIB overrides it.
 */
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Context, Row } from '../lib/context.js';
import { sha256File, writeRandomFile } from '../lib/files-data.js';
import { fileCorrupt } from './files-corrupt.js';
import { fileRates, type FileSet } from './files-rates.js';
import { fileResume } from './files-resume.js';

const MiB = 1024 * 1024;
/** Copies on disk at once: the source, the corrupted copy, one received copy, slack. */
const COPIES = 4;

/** The file size: MESHWIRE_BENCH_FILE_MIB, else 1 GiB (quick: 64 MiB). */
function fileSize(ctx: Context): number {
  const env = process.env.MESHWIRE_BENCH_FILE_MIB;
  if (env !== undefined) {
    const mib = Number(env);
    if (!Number.isInteger(mib) || mib < 1 || mib > 4096) {
      throw new Error(`MESHWIRE_BENCH_FILE_MIB must be an integer in 1..4096, got ${env}`);
    }
    return mib * MiB;
  }
  return (ctx.quick ? 64 : 1024) * MiB;
}

export async function files(ctx: Context): Promise<Row[]> {
  const size = fileSize(ctx);
  const warmSize = Math.min(size, 16 * MiB);
  const free = await statfs(os.tmpdir()).then((s) => s.bavail * s.bsize);
  if (free < COPIES * size + 256 * MiB) {
    throw new Error(
      `${os.tmpdir()} has ${Math.floor(free / MiB)} MiB free; the files suite needs ${(COPIES * size) / MiB + 256} MiB`,
    );
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'meshwire-bench-'));
  const rows: Row[] = [];
  try {
    const set: FileSet = {
      tmp,
      source: path.join(tmp, 'payload.bin'),
      warm: path.join(tmp, 'warmup.bin'),
      size,
      warmSize,
    };
    ctx.log(`  files: writing ${size / MiB} MiB of random data to ${tmp}`);
    await writeRandomFile(set.source, size);
    await writeRandomFile(set.warm, warmSize);
    const sha = await sha256File(set.source);
    rows.push(...(await fileRates(ctx, set)));
    ctx.log('  files: resume under kill -9');
    rows.push(await fileResume(ctx, set, sha));
    ctx.log('  files: a corrupting source');
    rows.push(await fileCorrupt(ctx, set, sha));
  } finally {
    await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  }
  return rows;
}
