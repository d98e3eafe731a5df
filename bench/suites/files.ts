/**
 * End-to-end file transfer: `sendFile` (read, hash, send) in one process, `FileReceiver`
 * (receive, hash, write, verify, rename) in the other, from "go" until the receiver's
 * 'file-complete'. The source file is random data in the OS temp directory, created once per
 * suite run; every received copy is deleted after its run.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MODES, type Context, type Row } from '../lib/context.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, summarize } from '../lib/stats.js';
import { rawBulkReference } from './throughput.js';

const MiB = 1024 * 1024;

async function writeRandomFile(file: string, size: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const block = Buffer.allocUnsafe(4 * MiB);
    for (let written = 0; written < size; written += block.length) {
      randomFillSync(block);
      await fh.write(block, 0, Math.min(block.length, size - written));
    }
  } finally {
    await fh.close();
  }
}

async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [])) await rm(path.join(dir, name), { force: true });
}

interface FileSample {
  mbps: number;
}

export async function files(ctx: Context): Promise<Row[]> {
  const size = (ctx.quick ? 64 : 256) * MiB;
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'meshwire-bench-'));
  const rows: Row[] = [];
  try {
    const source = path.join(tmp, 'payload.bin');
    const warm = path.join(tmp, 'warmup.bin');
    ctx.log(`  files: writing ${size / MiB} MiB of random data to ${tmp}`);
    await writeRandomFile(source, size);
    await writeRandomFile(warm, 16 * MiB);
    const configs: Config<FileSample>[] = MODES.map((mode) => {
      const dir = path.join(tmp, `downloads-${mode}`);
      return {
        key: mode,
        setup: { kind: 'node', mode },
        prepare: async (pair) => {
          await pair.rx.call('fileReceiver', { dir });
        },
        measure: async (pair, warmup) => {
          await pair.rx.call('arm', { kind: 'file', total: 1 });
          const done = pair.rx.call('wait', {}, 120_000);
          const t0 = performance.now();
          await pair.tx.call('sendFile', { path: warmup ? warm : source }, 120_000);
          await done;
          const ms = performance.now() - t0;
          await emptyDir(dir);
          return { mbps: Math.round((warmup ? 16 * MiB : size) / 1e3 / ms) };
        },
      };
    });
    const results = await rounds(ctx, 'files', configs, 600_000);
    const raw = await rawBulkReference(ctx);
    for (const mode of MODES) {
      const outcome = results.get(mode)!;
      const mbps = outcome.samples.map((s) => s.mbps);
      const row: Row = {
        bench: 'files',
        name: `file transfer ${size / MiB} MiB (sendFile -> FileReceiver)`,
        mode,
        unit: 'MB/s',
        value: mbps.length > 0 ? summarize(mbps) : null,
        details: { fileMiB: size / MiB },
      };
      // The baseline ran in other rounds (or another suite), so this is a ratio of medians.
      if (raw && mbps.length > 0) row.ratio = median(mbps) / median(raw);
      if (outcome.error) {
        row.note = /Cannot find module|ERR_MODULE_NOT_FOUND|is not a function/.test(outcome.error)
          ? `not available: src/files could not be used (${outcome.error})`
          : `failed: ${outcome.error}`;
      }
      rows.push(row);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return rows;
}
