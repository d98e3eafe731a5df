/**
 * The `files` suite's rates, interleaved in one set of rounds with their references:
 * bulk BYTES (1 MiB messages) in both modes, the original push (`sendFile` -> `FileReceiver`)
 * in compat mode, and the pieces protocol (secure) from one source and from three sources, each
 * source in its own process. A pieces run is the fetch alone: every source hashed the file once
 * when it shared it, before the rounds (as a node shares a file once and serves it many times).
 */
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { transfer, type BulkSample } from '../lib/baselines.js';
import type { Child } from '../lib/child.js';
import type { Context, Pair, Row } from '../lib/context.js';
import {
  cpuNow,
  cpuSince,
  machineBusyPercent,
  machineTimes,
  spawnNode,
  type NodeProcess,
} from '../lib/file-peers.js';
import { emptyDir } from '../lib/files-data.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, summarize } from '../lib/stats.js';
import { roundRatios } from './throughput.js';
import type { FetchResult } from '../workers/file-commands.js';

const MiB = 1024 * 1024;
/** Bulk BYTES message size of the reference rows (the faster of the throughput suite's two). */
const BULK_MESSAGE = MiB;
/** Issue 14's targets. */
const VS_BULK = 0.6;
const THREE_VS_ONE = 1.5;
const RSS_GROWTH_MiB = 64;
/** A process at this share of a core (or the machine at this share of its cores) is CPU-bound. */
const SATURATED = 0.9;

/** One run of any configuration of these rounds. */
interface Sample {
  mbps: number;
  /** Receiver CPU and the sources' CPU (sum), % of one core. */
  rxCpu: number;
  txCpu: number;
  /** Every process of the configuration, % of one core. */
  allCpu?: number;
  /** The whole machine (every process, others' included), % of all its cores. */
  machineCpu?: number;
  /** CPU time per byte moved, ns: receiver, and the busiest sender. */
  rxNsPerByte?: number;
  txNsPerByte?: number;
  rssGrowthMiB?: number;
  maxStallMs?: number;
  /** Sources the receiver dropped during the run (each is logged). */
  drops?: number;
}

/** Where the suite's files are, and how big. */
export interface FileSet {
  tmp: string;
  source: string;
  warm: string;
  size: number;
  warmSize: number;
}

/** CPU time per byte of a process at `cpu` % of a core for `ms`, in ns. */
function nsPerByte(cpu: number, ms: number, bytes: number): number {
  return Number((((cpu / 100) * ms * 1e6) / bytes).toFixed(3));
}

function bulk(key: string, mode: 'secure' | 'compat', total: number): Config<Sample> {
  const setup = { kind: 'node', mode } as const;
  return {
    key,
    setup,
    measure: (pair, warmup): Promise<BulkSample> =>
      transfer(pair, setup, BULK_MESSAGE, warmup ? Math.min(total, 64 * MiB) : total),
  };
}

/**
 * The original push. `again`: the sender sent this file before, so its hash cache spares the
 * hashing pass for FILESTART (the cache is primed in prepare); else every run is a first send.
 */
function push(set: FileSet, again: boolean): Config<Sample> {
  const key = again ? 'push-compat-again' : 'push-compat';
  const dir = path.join(set.tmp, key);
  return {
    key,
    setup: { kind: 'node', mode: 'compat' },
    prepare: async (pair) => {
      await pair.rx.call('fileReceiver', { dir });
      if (again) {
        // One send of the whole file, unmeasured: it fills the sender's hash cache.
        await pair.rx.call('arm', { kind: 'file', total: 1 });
        const done = pair.rx.call('wait', {}, 300_000);
        done.catch(() => undefined);
        await pair.tx.call('sendFile', { path: set.source }, 300_000);
        await done;
        await emptyDir(dir);
      }
    },
    measure: async (pair, warmup) => {
      const bytes = warmup ? set.warmSize : set.size;
      await pair.rx.call('arm', { kind: 'file', total: 1 });
      const done = pair.rx.call('wait', {}, 300_000);
      done.catch(() => undefined);
      await pair.rx.call('rssStart');
      const before = await cpuNow([pair.rx, pair.tx]);
      const t0 = performance.now();
      const file = warmup ? set.warm : set.source;
      await pair.tx.call('sendFile', { path: file, forgetHashes: !again }, 300_000);
      await done;
      const ms = performance.now() - t0;
      const [rxCpu, txCpu] = cpuSince(before, await cpuNow([pair.rx, pair.tx]), ms);
      const rss = await pair.rx.call<{ rssPeak: number; rssBase: number }>('rssStop');
      await emptyDir(dir);
      return {
        mbps: Math.round(bytes / 1e3 / ms),
        rxCpu: rxCpu!,
        txCpu: txCpu!,
        rxNsPerByte: nsPerByte(rxCpu!, ms, bytes),
        txNsPerByte: nsPerByte(txCpu!, ms, bytes),
        rssGrowthMiB: Math.round((rss.rssPeak - rss.rssBase) / MiB),
      };
    },
  };
}

/** Pieces from `sources` processes (the pair's sender and `sources - 1` more). */
function pieces(ctx: Context, set: FileSet, sources: number, extra: NodeProcess[]): Config<Sample> {
  const key = `pieces-${sources}`;
  const roots = { main: '', warm: '' };
  let senders: Child[] = [];
  return {
    key,
    setup: { kind: 'node', mode: 'secure' },
    prepare: async (pair) => {
      senders = [pair.tx];
      const [rxPort] = await pair.rx.call<number[]>('ports');
      for (let i = 1; i < sources; i++) {
        const p = await spawnNode(ctx, `files ${key} source ${i + 1}`, 900_000);
        extra.push(p);
        senders.push(p.child);
        await p.child.call('connect', { address: `127.0.0.1:${rxPort}` });
      }
      await pair.rx.call('waitPeers', { count: sources });
      await pair.rx.call('fileShare', { dir: path.join(set.tmp, `${key}-rx`) });
      // Each source hashes the file itself, in parallel (the page cache holds one copy).
      const shared = await Promise.all(
        senders.map(async (tx, i) => {
          await tx.call('fileShare', { dir: path.join(set.tmp, `${key}-tx${i}`) });
          const main = await tx.call<{ root: string }>('shareFile', { path: set.source }, 300_000);
          const warm = await tx.call<{ root: string }>('shareFile', { path: set.warm }, 300_000);
          return { main: main.root, warm: warm.root };
        }),
      );
      roots.main = shared[0]!.main;
      roots.warm = shared[0]!.warm;
    },
    measure: async (pair: Pair, warmup) => {
      const bytes = warmup ? set.warmSize : set.size;
      const root = warmup ? roots.warm : roots.main;
      const all = [pair.rx, ...senders];
      const before = await cpuNow(all);
      const machine0 = machineTimes();
      const t0 = performance.now();
      const r = await pair.rx.call<FetchResult>('fetchWatched', { root }, 600_000);
      const ms = performance.now() - t0;
      const machine = machineBusyPercent(machine0, machineTimes());
      const cpu = cpuSince(before, await cpuNow(all), ms);
      await pair.rx.call('dropDownload', { root, path: r.path });
      if (r.drops.length > 0) ctx.log(`    ${key}: sources dropped: ${JSON.stringify(r.drops)}`);
      const rxCpu = cpu[0]!;
      return {
        mbps: Math.round(bytes / 1e3 / ms),
        rxCpu,
        txCpu: cpu.slice(1).reduce((a, b) => a + b, 0),
        allCpu: cpu.reduce((a, b) => a + b, 0),
        machineCpu: machine,
        rxNsPerByte: nsPerByte(rxCpu, ms, bytes),
        txNsPerByte: nsPerByte(Math.max(...cpu.slice(1)), ms, bytes),
        rssGrowthMiB: Math.round((r.rssPeak - r.rssBase) / MiB),
        maxStallMs: Math.round(r.maxStallMs),
        drops: r.drops.length,
      };
    },
  };
}

/** Runs the rounds and returns their rows (one source, three sources, push, the references). */
export async function fileRates(ctx: Context, set: FileSet): Promise<Row[]> {
  const extra: NodeProcess[] = [];
  const sizeText = `${set.size / MiB} MiB`;
  let results;
  try {
    results = await rounds(
      ctx,
      'files',
      [
        bulk('bulk-secure', 'secure', set.size),
        pieces(ctx, set, 1, extra),
        pieces(ctx, set, 3, extra),
        bulk('bulk-compat', 'compat', set.size),
        push(set, false),
        push(set, true),
      ],
      900_000,
    );
  } finally {
    await Promise.all(extra.map((p) => p.child.close()));
  }
  const samples = (key: string) => results.get(key)!.samples;
  const mbps = (key: string) => samples(key).map((s) => s.mbps);
  const med = (key: string, pick: (s: Sample) => number | undefined) =>
    median(
      samples(key)
        .map((s) => pick(s) ?? NaN)
        .filter(Number.isFinite),
    );
  const cpuNote = (key: string) =>
    `CPU: receiver ${med(key, (s) => s.rxCpu)}% of a core, sender(s) ${med(key, (s) => s.txCpu)}%`;

  const row = (key: string, name: string, mode: Row['mode']): Row => {
    const outcome = results.get(key)!;
    const r: Row = {
      bench: 'files',
      name,
      mode,
      unit: 'MB/s',
      value: outcome.samples.length > 0 ? summarize(mbps(key)) : null,
      details: {
        fileMiB: set.size / MiB,
        receiverCpuPercent: med(key, (s) => s.rxCpu),
        senderCpuPercent: med(key, (s) => s.txCpu),
      },
    };
    if (outcome.samples.length > 0) r.note = cpuNote(key);
    const drops = outcome.samples.reduce((sum, s) => sum + (s.drops ?? 0), 0);
    if (drops > 0 && r.details) {
      r.details.sourcesDropped = drops;
      r.note = `${r.note ?? ''}; ${drops} source(s) dropped during the runs (see the log)`;
    }
    if (outcome.error) r.note = `failed: ${outcome.error}`;
    return r;
  };
  const versus = (r: Row, key: string, base: string, target: number, what: string): void => {
    const ratios = roundRatios(mbps(key), mbps(base));
    if (ratios.length === 0) return;
    r.ratio = median(ratios);
    r.target = { text: `>= ${target}x ${what}`, pass: r.ratio >= target };
    // What each would move with a core per process and no waiting (the slower side's CPU per
    // byte): steadier than MB/s on a busy machine, where the scheduler sets the pace.
    const bound = (k: string) =>
      1000 /
      Math.max(
        med(k, (s) => s.rxNsPerByte),
        med(k, (s) => s.txNsPerByte),
      );
    const [mine, theirs] = [bound(key), bound(base)];
    if (r.details && Number.isFinite(mine) && Number.isFinite(theirs)) {
      r.details.cpuBoundMBps = Math.round(mine);
      r.details.cpuBoundRatio = Number((mine / theirs).toFixed(2));
      r.details.receiverNsPerByte = med(key, (s) => s.rxNsPerByte);
      r.note =
        `${r.note ?? ''}; CPU-bound estimate ${Math.round(mine)} MB/s vs ${Math.round(theirs)} for ${what} ` +
        `(${(mine / theirs).toFixed(2)}x; receiver ${med(key, (s) => s.rxNsPerByte).toFixed(2)} ns/byte vs ` +
        `${med(base, (s) => s.rxNsPerByte).toFixed(2)})`;
    }
  };
  const rssRow = (key: string, name: string, mode: Row['mode']): Row => {
    const growth = samples(key).map((s) => s.rssGrowthMiB ?? NaN);
    const worst = Math.max(...growth);
    return {
      bench: 'files',
      name,
      mode,
      unit: 'MiB',
      value: growth.length > 0 ? summarize(growth) : null,
      ...(growth.length > 0
        ? { target: { text: `<= ${RSS_GROWTH_MiB} MiB`, pass: worst <= RSS_GROWTH_MiB } }
        : {}),
      note: `peak RSS (sampled every 10 ms) minus the RSS once the receiver was ready, per run; the warm-up included in the base`,
    };
  };

  const rows: Row[] = [];
  rows.push(row('bulk-secure', `bulk BYTES 1 MiB, ${sizeText} (files reference)`, 'secure'));
  const one = row('pieces-1', `pieces ${sizeText}, 1 source (fetchFile; x = vs bulk BYTES)`, 'secure');
  versus(one, 'pieces-1', 'bulk-secure', VS_BULK, 'bulk');
  if (one.details) one.details.maxStallMs = med('pieces-1', (s) => s.maxStallMs);
  rows.push(one);
  rows.push(rssRow('pieces-1', `pieces ${sizeText}, receiver RSS growth`, 'secure'));

  const three = row('pieces-3', `pieces ${sizeText}, 3 sources, 3 processes (x = vs 1 source)`, 'secure');
  versus(three, 'pieces-3', 'pieces-1', THREE_VS_ONE, '1 source');
  if (three.value && three.details) {
    const cores = availableParallelism();
    const rxCpu = med('pieces-3', (s) => s.rxCpu);
    const allCpu = med('pieces-3', (s) => s.allCpu);
    const machineCpu = med('pieces-3', (s) => s.machineCpu);
    // What one core of receiver would move at the receiver's CPU cost per byte (one source).
    const rxBound = Math.round(1000 / med('pieces-1', (s) => s.rxNsPerByte));
    const rxBusy = rxCpu >= SATURATED * 100;
    // Our own processes filling the cores is this machine's bound; others filling them is not
    // a bound of meshwire's, only a run to redo on a quiet machine.
    const oursBusy = allCpu >= SATURATED * 100 * cores;
    const othersBusy = !oursBusy && machineCpu >= SATURATED * 100;
    three.details.allProcessesCpuPercent = allCpu;
    three.details.machineBusyPercent = machineCpu;
    three.details.cores = cores;
    three.details.receiverBoundMBps = rxBound;
    three.note =
      `${cpuNote('pieces-3')}; our 4 processes ${allCpu}% of ${cores * 100}% (${cores} cores), ` +
      `the whole machine ${machineCpu}% busy (1 source: ${med('pieces-1', (s) => s.machineCpu)}%); ` +
      `the receiver's CPU cost (1 source) bounds it at ${rxBound} MB/s. ` +
      (rxBusy
        ? 'Bound by the receiver: it used a full core.'
        : oursBusy
          ? `Bound by the machine: our 4 processes kept its ${cores} cores busy, the receiver was not.`
          : othersBusy
            ? `Other processes kept the machine busy (ours ${allCpu}% of ${cores * 100}%)` +
              ((three.ratio ?? 0) >= THREE_VS_ONE ? '.' : ': inconclusive, redo on a quiet machine.')
            : 'Not CPU-bound: neither the receiver nor the machine was saturated.');
    if (three.details.sourcesDropped) {
      three.note += ` ${three.details.sourcesDropped} source(s) dropped during the runs (see the log).`;
    }
    if (three.target) {
      three.target.text = `>= ${THREE_VS_ONE}x 1 source, unless CPU-bound`;
      three.target.pass ||= rxBusy || oursBusy;
    }
  }
  rows.push(three);

  rows.push(row('bulk-compat', `bulk BYTES 1 MiB, ${sizeText} (files reference)`, 'compat'));
  const pushRow = row(
    'push-compat',
    `sendFile -> FileReceiver ${sizeText}, first send (x = vs bulk BYTES)`,
    'compat',
  );
  versus(pushRow, 'push-compat', 'bulk-compat', VS_BULK, 'bulk');
  rows.push(pushRow);
  const againRow = row(
    'push-compat-again',
    `sendFile -> FileReceiver ${sizeText}, file sent before (hash cached; x = vs bulk BYTES)`,
    'compat',
  );
  versus(againRow, 'push-compat-again', 'bulk-compat', VS_BULK, 'bulk');
  rows.push(againRow);
  rows.push(rssRow('push-compat', `sendFile -> FileReceiver ${sizeText}, receiver RSS growth`, 'compat'));
  return rows;
}
