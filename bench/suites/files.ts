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
import type { Pair } from '../lib/context.js';
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
  // Files only: the pieces receiver keeps its state folder (.meshwire) there.
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isFile()) await rm(path.join(dir, entry.name), { force: true });
  }
}

interface FileSample {
  mbps: number;
  /** Pieces only: the fetch alone (the sender's hashing excluded). */
  fetchMbps?: number;
  /** Pieces only: receiver process CPU over the fetch, in % of one core. */
  rxCpu?: number;
}

/** CPU of a child over `body`, as % of one core, and `body`'s result. */
async function withCpu<T>(child: Pair['rx'], body: () => Promise<T>): Promise<{ value: T; cpu: number }> {
  const before = await child.call<NodeJS.CpuUsage>('cpu', {});
  const t0 = performance.now();
  const value = await body();
  const ms = performance.now() - t0;
  const after = await child.call<NodeJS.CpuUsage>('cpu', {});
  const usedMs = (after.user - before.user + after.system - before.system) / 1000;
  return { value, cpu: Math.round((usedMs / ms) * 100) };
}

/**
 * The piece protocol (secure mode): the sender shares (hashes once) and the receiver fetches,
 * from 1 source or from 3 (three nodes in the sender process, all holding the file).
 */
function pieceConfigs(tmp: string, source: string, warm: string, size: number): Config<FileSample>[] {
  return [1, 3].map((sources) => {
    const rxDir = path.join(tmp, `pieces-rx-${sources}`);
    const txDir = path.join(tmp, `pieces-tx-${sources}`);
    return {
      key: `pieces-${sources}`,
      setup: { kind: 'node', mode: 'secure' },
      prepare: async (pair) => {
        if (sources > 1) {
          await pair.tx.call('start', { count: sources - 1, options: { mode: 'secure' } });
          const [port] = await pair.rx.call<number[]>('ports', {});
          await pair.tx.call('connect', { address: `127.0.0.1:${port}` });
          await pair.rx.call('waitPeers', { count: sources });
        }
        await pair.rx.call('fileShare', { dir: rxDir });
        await pair.tx.call('fileShare', { dir: txDir });
      },
      measure: async (pair, warmup) => {
        const file = warmup ? warm : source;
        const bytes = warmup ? 16 * MiB : size;
        const t0 = performance.now();
        const { root } = await pair.tx.call<{ root: string }>(
          'shareFile',
          { path: file, count: sources },
          120_000,
        );
        const t1 = performance.now();
        const { cpu } = await withCpu(pair.rx, () => pair.rx.call('fetchFile', { root }, 300_000));
        const t2 = performance.now();
        await pair.rx.call('unshare', { root });
        await pair.tx.call('unshare', { root });
        await emptyDir(path.join(rxDir, '0'));
        return {
          mbps: Math.round(bytes / 1e3 / (t2 - t0)),
          fetchMbps: Math.round(bytes / 1e3 / (t2 - t1)),
          rxCpu: cpu,
        };
      },
    };
  });
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
    configs.push(...pieceConfigs(tmp, source, warm, size));
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
    for (const sources of [1, 3]) {
      const outcome = results.get(`pieces-${sources}`)!;
      const total = outcome.samples.map((s) => s.mbps);
      const fetch = outcome.samples.map((s) => s.fetchMbps ?? 0);
      const cpu = outcome.samples.map((s) => s.rxCpu ?? 0);
      const row: Row = {
        bench: 'files',
        name: `pieces ${size / MiB} MiB, ${sources} source${sources > 1 ? 's' : ''} (shareFile + fetchFile; fetch alone in details)`,
        mode: 'secure',
        unit: 'MB/s',
        value: total.length > 0 ? summarize(total) : null,
        details: {
          fileMiB: size / MiB,
          sources,
          fetchMBps: fetch.length > 0 ? median(fetch) : 0,
          receiverCpuPercent: cpu.length > 0 ? median(cpu) : 0,
        },
      };
      if (raw && total.length > 0) row.ratio = median(total) / median(raw);
      if (outcome.error) row.note = `failed: ${outcome.error}`;
      rows.push(row);
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return rows;
}
