/**
 * Bulk BYTES throughput, one sender process to one receiver process: the sender loops
 * `await node.sendBytesToPeer(id, buf)` over a fixed volume, the receiver counts payload bytes
 * in its 'bytes' listener and reports when the total has arrived. The clock runs in the parent,
 * from "go" to the receiver's "done". Baselines: raw TCP with 64 KiB writes and backpressure
 * (the reference of every ratio) and node:tls with the same writes (secure mode's ceiling).
 */
import { cpuPercent, memo, MODES, type Context, type Pair, type Row, type Setup } from '../lib/context.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, summarize, type Summary } from '../lib/stats.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes per measured run. */
export function bulkVolume(ctx: Context): number {
  return ctx.quick ? 256 * MiB : 1024 * MiB;
}

/** One bulk transfer: throughput and the CPU each side used meanwhile. */
export interface BulkSample {
  mbps: number;
  /** CPU use of the sender and receiver process while it ran, in % of one core. */
  txCpu: number;
  rxCpu: number;
  /** CPU time per byte moved, in ns: unlike MB/s, barely affected by other load on the machine. */
  txNsPerByte: number;
  rxNsPerByte: number;
}

/** Transfers `total` bytes in `size`-byte sends and times it (MB/s = 10^6 bytes per second). */
export async function transfer(pair: Pair, setup: Setup, size: number, total: number): Promise<BulkSample> {
  const { rx, tx } = pair;
  await rx.call('arm', { kind: 'bytes', total });
  const done = rx.call('wait', {}, 120_000);
  const [rx0, tx0] = await Promise.all([rx.call<NodeJS.CpuUsage>('cpu'), tx.call<NodeJS.CpuUsage>('cpu')]);
  const t0 = performance.now();
  await tx.call(setup.kind === 'node' ? 'sendBytes' : 'sendBulk', { size, total }, 120_000);
  await done;
  const ms = performance.now() - t0;
  const [rx1, tx1] = await Promise.all([rx.call<NodeJS.CpuUsage>('cpu'), tx.call<NodeJS.CpuUsage>('cpu')]);
  const txCpu = cpuPercent(tx0, tx1, ms);
  const rxCpu = cpuPercent(rx0, rx1, ms);
  return {
    mbps: Math.round(total / 1e3 / ms),
    txCpu: Math.round(txCpu),
    rxCpu: Math.round(rxCpu),
    txNsPerByte: Number((((txCpu / 100) * ms * 1e6) / total).toFixed(3)),
    rxNsPerByte: Number((((rxCpu / 100) * ms * 1e6) / total).toFixed(3)),
  };
}

/** A throughput configuration: `size`-byte sends of `total` bytes per run. */
export function bulkConfig(key: string, setup: Setup, size: number, total: number): Config<BulkSample> {
  return {
    key,
    setup,
    measure: (pair, warmup) => transfer(pair, setup, size, warmup ? Math.min(total, 64 * MiB) : total),
  };
}

function sizeLabel(size: number): string {
  return size >= MiB ? `${size / MiB} MiB` : `${size / KiB} KiB`;
}

/** Per-round ratios of `samples` to the baseline's samples of the same round. */
export function roundRatios(samples: number[], baseline: number[]): number[] {
  return samples.map((v, i) => v / (baseline[i] ?? NaN)).filter((r) => Number.isFinite(r));
}

export function cpuDetails(samples: BulkSample[]): Record<string, number> {
  return {
    senderCpuPercent: median(samples.map((s) => s.txCpu)),
    receiverCpuPercent: median(samples.map((s) => s.rxCpu)),
    senderCpuNsPerByte: median(samples.map((s) => s.txNsPerByte)),
    receiverCpuNsPerByte: median(samples.map((s) => s.rxNsPerByte)),
  };
}

/**
 * The raw-TCP bulk samples of this suite run, for other suites' ratios: those the throughput
 * suite measured, or (when it was not selected) a fresh measurement of the same configuration.
 */
export function rawBulkReference(ctx: Context): Promise<number[] | undefined> {
  return memo(ctx, 'raw-bulk', async () => {
    const total = bulkVolume(ctx);
    const results = await rounds(
      ctx,
      'raw-tcp',
      [bulkConfig('raw-tcp', { kind: 'tcp' }, 64 * KiB, total)],
      300_000,
    );
    const samples = results.get('raw-tcp')!.samples.map((s) => s.mbps);
    return samples.length > 0 ? samples : undefined;
  });
}

export async function throughput(ctx: Context): Promise<Row[]> {
  const total = bulkVolume(ctx);
  const configs: Config<BulkSample>[] = [
    bulkConfig('raw-tcp', { kind: 'tcp' }, 64 * KiB, total),
    bulkConfig('raw-tls', { kind: 'tls' }, 64 * KiB, total),
  ];
  for (const mode of MODES) {
    for (const size of [64 * KiB, MiB]) {
      configs.push(bulkConfig(`${mode}-${sizeLabel(size)}`, { kind: 'node', mode }, size, total));
    }
  }
  const results = await rounds(ctx, 'throughput', configs, 600_000);
  const raw = results.get('raw-tcp')!;
  const rawMbps = raw.samples.map((s) => s.mbps);
  if (rawMbps.length > 0) ctx.cache.set('raw-bulk', Promise.resolve(rawMbps));
  const row = (key: string, name: string, mode: Row['mode']): Row => {
    const outcome = results.get(key)!;
    const mbps = outcome.samples.map((s) => s.mbps);
    const value: Summary | null = mbps.length > 0 ? summarize(mbps) : null;
    const result: Row = {
      bench: 'throughput',
      name,
      mode,
      unit: 'MB/s',
      value,
      details: { volumeMiB: total / MiB, ...(value ? cpuDetails(outcome.samples) : {}) },
    };
    if (value) {
      const d = cpuDetails(outcome.samples);
      result.note =
        `CPU: sender ${d.senderCpuPercent}% of a core, ${d.senderCpuNsPerByte!.toFixed(2)} ns/byte; ` +
        `receiver ${d.receiverCpuPercent}%, ${d.receiverCpuNsPerByte!.toFixed(2)} ns/byte`;
    }
    if (outcome.error) result.note = `failed: ${outcome.error}`;
    if (value && key !== 'raw-tcp' && rawMbps.length > 0) result.ratio = median(roundRatios(mbps, rawMbps));
    return result;
  };
  const rows: Row[] = [row('raw-tcp', 'bulk, 64 KiB writes', 'raw TCP')];
  const tls = row('raw-tls', 'bulk, 64 KiB writes', 'raw TLS');
  tls.note = `node:tls, TLS 1.3 with meshwire's certificates, no framing (secure mode's ceiling). ${tls.note ?? ''}`;
  rows.push(tls);
  for (const mode of MODES) {
    for (const size of [64 * KiB, MiB]) {
      const r = row(`${mode}-${sizeLabel(size)}`, `bulk BYTES ${sizeLabel(size)}`, mode);
      const tlsMbps = results.get('raw-tls')!.samples.map((x) => x.mbps);
      if (mode === 'secure' && r.value && tlsMbps.length > 0) {
        const vsTls = median(roundRatios(r.value.runs, tlsMbps));
        r.details = { ...r.details, ratioToRawTls: vsTls };
        r.note = `${vsTls.toFixed(2)}x raw TLS. ${r.note ?? ''}`;
      }
      const goal = mode === 'secure' ? 0.65 : 0.9;
      if (r.ratio !== undefined) r.target = { text: `>= ${goal.toFixed(2)}x raw`, pass: r.ratio >= goal };
      else r.target = { text: `>= ${goal.toFixed(2)}x raw`, pass: false };
      rows.push(r);
    }
  }
  return rows;
}
