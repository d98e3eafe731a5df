/**
 * Bulk BYTES throughput, one sender process to one receiver process: the sender loops
 * `await node.sendBytesToPeer(id, buf)` over a fixed volume, the receiver counts payload bytes
 * in its 'bytes' listener and reports when the total has arrived. The clock runs in the parent,
 * from "go" to the receiver's "done".
 *
 * Baselines (bench/lib/baselines.ts): iperf3 over loopback (the physical limit), raw TCP and raw
 * node:tls each at their best write size and socket setting (swept on the pair first; every
 * ratio is against these), and both at the 64 KiB writes of earlier runs for comparison.
 */
import {
  bestBaseline,
  fixedBaseline,
  iperfConfig,
  plainScriptConfig,
  REFERENCE,
  transfer,
  type BulkSample,
} from '../lib/baselines.js';
import { memo, MODES, type Context, type Row, type Setup } from '../lib/context.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, summarize, type Summary } from '../lib/stats.js';

export { transfer, type BulkSample } from '../lib/baselines.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Bytes per measured run. */
export function bulkVolume(ctx: Context): number {
  return ctx.quick ? 256 * MiB : 1024 * MiB;
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
 * The raw-TCP 64 KiB bulk samples of this suite run, for other suites' ratios: those the
 * throughput suite measured, or (when it was not selected) a fresh measurement of the same
 * configuration.
 */
export function rawBulkReference(ctx: Context): Promise<number[] | undefined> {
  return memo(ctx, 'raw-bulk', async () => {
    const total = bulkVolume(ctx);
    const results = await rounds(
      ctx,
      'raw-tcp',
      [fixedBaseline('raw-tcp', { kind: 'tcp' }, total, REFERENCE)],
      300_000,
    );
    const samples = results.get('raw-tcp')!.samples.map((s) => s.mbps);
    return samples.length > 0 ? samples : undefined;
  });
}

/** Issue 16's throughput targets. */
const SECURE_VS_TCP = 0.5;
const SECURE_VS_TLS = 0.9;
const COMPAT_VS_TCP = 0.9;

export async function throughput(ctx: Context): Promise<Row[]> {
  const total = bulkVolume(ctx);
  const sweepVolume = ctx.quick ? 32 * MiB : 128 * MiB;
  const passes = ctx.quick ? 1 : 2;
  const iperf = iperfConfig(ctx.quick ? 2 : 4);
  const tcpBest = bestBaseline(ctx, 'raw-tcp-best', { kind: 'tcp' }, total, sweepVolume, passes);
  const tlsBest = bestBaseline(ctx, 'raw-tls-best', { kind: 'tls' }, total, sweepVolume, passes);
  const configs: Config<BulkSample>[] = [
    ...(typeof iperf === 'string' ? [] : [iperf]),
    tcpBest,
    fixedBaseline('raw-tcp', { kind: 'tcp' }, total, REFERENCE),
    tlsBest,
    fixedBaseline('raw-tls', { kind: 'tls' }, total, REFERENCE),
    plainScriptConfig('raw-tls-plain', 'tls', total, REFERENCE),
  ];
  for (const mode of MODES) {
    for (const size of [64 * KiB, MiB]) {
      configs.push(bulkConfig(`${mode}-${sizeLabel(size)}`, { kind: 'node', mode }, size, total));
    }
  }
  const results = await rounds(ctx, 'throughput', configs, 600_000);
  const mbpsOf = (key: string) => results.get(key)?.samples.map((s) => s.mbps) ?? [];
  const reference = mbpsOf('raw-tcp');
  if (reference.length > 0) ctx.cache.set('raw-bulk', Promise.resolve(reference));
  // The best baseline of a round: the swept winner or the 64 KiB reference, whichever was
  // faster in that round (on a busy machine the sweep's pick can lose to the reference).
  const bestOf = (a: number[], b: number[]) => a.map((x, i) => Math.max(x, b[i] ?? 0));
  const bestTcp = bestOf(mbpsOf('raw-tcp-best'), reference);
  // The plain standalone script counts too: if it beats the bench's own baseline, the baseline
  // is not the ceiling (issue 16 part 1).
  const bestTls = bestOf(bestOf(mbpsOf('raw-tls-best'), mbpsOf('raw-tls')), mbpsOf('raw-tls-plain'));

  const row = (key: string, name: string, mode: Row['mode']): Row => {
    const outcome = results.get(key)!;
    const mbps = outcome.samples.map((s) => s.mbps);
    const value: Summary | null = mbps.length > 0 ? summarize(mbps) : null;
    const result: Row = { bench: 'throughput', name, mode, unit: 'MB/s', value };
    if (value) {
      const d = cpuDetails(outcome.samples);
      result.details = { volumeMiB: key === 'iperf3' ? 0 : total / MiB, ...d };
      result.note =
        `CPU: sender ${d.senderCpuPercent}% of a core, ${d.senderCpuNsPerByte!.toFixed(2)} ns/byte; ` +
        `receiver ${d.receiverCpuPercent}%, ${d.receiverCpuNsPerByte!.toFixed(2)} ns/byte`;
      // What the pair would move if each side had a core of its own and never waited: a
      // figure that holds up on a busy machine, where MB/s follows the scheduler.
      const bound = Math.round(1000 / Math.max(d.senderCpuNsPerByte!, d.receiverCpuNsPerByte!));
      if (Number.isFinite(bound)) {
        result.details.cpuBoundMBps = bound;
        result.note += `; CPU-bound estimate ${bound} MB/s`;
      }
    }
    if (outcome.error) result.note = `failed: ${outcome.error}`;
    if (value && !key.startsWith('raw-tcp') && bestTcp.length > 0)
      result.ratio = median(roundRatios(mbps, bestTcp));
    return result;
  };

  const rows: Row[] = [];
  if (typeof iperf === 'string') {
    rows.push({
      bench: 'throughput',
      name: 'loopback limit',
      mode: 'iperf3',
      unit: 'MB/s',
      value: null,
      note: `skipped: ${iperf}`,
    });
  } else {
    const r = row('iperf3', 'loopback limit, one TCP stream', 'iperf3');
    r.note = `iperf3 -c 127.0.0.1 -t ${ctx.quick ? 2 : 4} (C, 128 KiB writes): the physical limit. ${r.note ?? ''}`;
    rows.push(r);
  }
  const sweepNote = (config: typeof tcpBest) =>
    `best of ${config.sweep.size} settings swept (${sweepVolume / MiB} MiB each, best of ${passes}): ` +
    `${results.get(config.key)?.samples[0]?.setting ?? 'none'} won`;
  const tcp = row('raw-tcp-best', 'bulk, best write setting', 'raw TCP');
  tcp.note = `${sweepNote(tcpBest)}; every "x raw" is against the faster of this row and the 64 KiB row, round by round. ${tcp.note ?? ''}`;
  if (tcp.details) tcp.details.setting = results.get('raw-tcp-best')?.samples[0]?.setting ?? '';
  rows.push(tcp);
  const tcp64 = row('raw-tcp', 'bulk, 64 KiB writes (old reference)', 'raw TCP');
  rows.push(tcp64);
  const tls = row('raw-tls-best', 'bulk, best write setting', 'raw TLS');
  tls.note =
    `node:tls, TLS 1.3 with meshwire's certificates, no framing (secure mode's ceiling); ${sweepNote(tlsBest)}. ` +
    `${tls.note ?? ''}`;
  if (tls.details) tls.details.setting = results.get('raw-tls-best')?.samples[0]?.setting ?? '';
  rows.push(tls);
  rows.push(row('raw-tls', 'bulk, 64 KiB writes (old reference)', 'raw TLS'));
  const plain = row('raw-tls-plain', 'bulk, 64 KiB writes, plain node script', 'raw TLS');
  plain.note =
    `bench/probes/plain-stream.mjs run by plain node (no tsx, no harness), fresh processes per run, ` +
    `timed by its receiver (first byte to last); it counts towards the best raw TLS. ${plain.note ?? ''}`;
  rows.push(plain);

  for (const mode of MODES) {
    for (const size of [64 * KiB, MiB]) {
      const r = row(`${mode}-${sizeLabel(size)}`, `bulk BYTES ${sizeLabel(size)}`, mode);
      const vs64 = r.value && reference.length > 0 ? median(roundRatios(r.value.runs, reference)) : NaN;
      if (r.details && Number.isFinite(vs64)) r.details.ratioToRawTcp64k = vs64;
      if (mode === 'secure') {
        const vsTls = r.value && bestTls.length > 0 ? median(roundRatios(r.value.runs, bestTls)) : NaN;
        if (r.details && Number.isFinite(vsTls)) r.details.ratioToBestRawTls = vsTls;
        r.note = `${vsTls.toFixed(2)}x best raw TLS, ${vs64.toFixed(2)}x raw TCP 64 KiB. ${r.note ?? ''}`;
        r.target = {
          text: `>= ${SECURE_VS_TCP}x TCP, ${SECURE_VS_TLS}x TLS`,
          pass: (r.ratio ?? 0) >= SECURE_VS_TCP && vsTls >= SECURE_VS_TLS,
        };
      } else {
        r.note = `${vs64.toFixed(2)}x raw TCP 64 KiB. ${r.note ?? ''}`;
        r.target = { text: `>= ${COMPAT_VS_TCP}x raw`, pass: (r.ratio ?? 0) >= COMPAT_VS_TCP };
      }
      rows.push(r);
    }
  }
  return rows;
}
