/**
 * Honest bulk baselines (issue 16): a raw TCP or raw node:tls baseline is the best of several
 * write sizes and socket settings, found by a sweep on the pair's own connection before the
 * measured rounds, and iperf3 is the physical limit of the loopback. A baseline that writes
 * 64 KiB at a time is beaten by anything that batches, so a ratio against it says little.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Config } from './rounds.js';
import type { Context, Pair, Setup } from './context.js';
import { cpuPercent } from './context.js';
import { iperf3, iperfUnavailable } from './iperf.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** One way of writing a bulk stream on a raw socket. */
export interface WriteSetting {
  /** Bytes per `socket.write`. */
  size: number;
  /** Bytes allowed to queue in Node before awaiting 'drain' (0: the stream's own 16 KiB mark). */
  depth: number;
  /** Nagle's algorithm off (true) or on. */
  noDelay: boolean;
}

/** Every setting the sweep tries: 64 KiB to 4 MiB writes, two queue depths, Nagle on and off. */
export const SWEEP: WriteSetting[] = [64 * KiB, 256 * KiB, MiB, 4 * MiB].flatMap((size) =>
  [0, 4 * MiB].flatMap((depth) => [true, false].map((noDelay) => ({ size, depth, noDelay }))),
);

/** The 64 KiB reference setting of earlier runs (issue 5), kept for comparison. */
export const REFERENCE: WriteSetting = { size: 64 * KiB, depth: 0, noDelay: true };

/** Short label, e.g. `1 MiB writes, 4 MiB queue, nodelay`. */
export function settingLabel(s: WriteSetting): string {
  const size = (n: number) => (n >= MiB ? `${n / MiB} MiB` : `${n / KiB} KiB`);
  return `${size(s.size)} writes, ${s.depth ? `${size(s.depth)} queue` : 'default queue'}, ${s.noDelay ? 'nodelay' : 'Nagle'}`;
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
  /** For swept baselines: the setting used. */
  setting?: string;
}

/**
 * Transfers `total` bytes in `size`-byte sends and times it (MB/s = 10^6 bytes per second).
 * `extra` goes to the sender's command (a raw baseline's depth and noDelay).
 */
export async function transfer(
  pair: Pair,
  setup: Setup,
  size: number,
  total: number,
  extra: object = {},
): Promise<BulkSample> {
  const { rx, tx } = pair;
  await rx.call('arm', { kind: 'bytes', total });
  const done = rx.call('wait', {}, 120_000);
  // Awaited below; a failing sender must not leave it as an unhandled rejection meanwhile.
  done.catch(() => undefined);
  const [rx0, tx0] = await Promise.all([rx.call<NodeJS.CpuUsage>('cpu'), tx.call<NodeJS.CpuUsage>('cpu')]);
  const t0 = performance.now();
  await tx.call(setup.kind === 'node' ? 'sendBytes' : 'sendBulk', { size, total, ...extra }, 120_000);
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

/** A raw baseline with one fixed setting. */
export function fixedBaseline(key: string, setup: Setup, total: number, s: WriteSetting): Config<BulkSample> {
  return {
    key,
    setup,
    measure: async (pair, warmup) => ({
      ...(await transfer(pair, setup, s.size, warmup ? Math.min(total, 64 * MiB) : total, s)),
      setting: settingLabel(s),
    }),
  };
}

/**
 * The best raw baseline: before the rounds, every {@link SWEEP} setting moves `sweepVolume`
 * bytes on this pair once (`passes` times, keeping each setting's best), and the fastest is
 * then measured like any other configuration. The sweep's own numbers are logged, and the
 * winner is named in every sample.
 */
export function bestBaseline(
  ctx: Context,
  key: string,
  setup: Setup,
  total: number,
  sweepVolume: number,
  passes: number,
): Config<BulkSample> & { sweep: Map<string, number>; best(): WriteSetting } {
  let best: WriteSetting = REFERENCE;
  const sweep = new Map<string, number>();
  return {
    key,
    setup,
    sweep,
    best: () => best,
    prepare: async (pair) => {
      for (let pass = 0; pass < passes; pass++) {
        for (const s of SWEEP) {
          const { mbps } = await transfer(pair, setup, s.size, sweepVolume, s);
          const label = settingLabel(s);
          sweep.set(label, Math.max(sweep.get(label) ?? 0, mbps));
        }
      }
      let top = -1;
      for (const s of SWEEP) {
        const mbps = sweep.get(settingLabel(s)) ?? 0;
        if (mbps > top) {
          top = mbps;
          best = s;
        }
      }
      ctx.log(
        `    ${key} sweep (MB/s, best of ${passes}): ` +
          [...sweep].map(([label, mbps]) => `${label} ${mbps}`).join('; ') +
          ` -> ${settingLabel(best)}`,
      );
    },
    measure: async (pair, warmup) => ({
      ...(await transfer(pair, setup, best.size, warmup ? Math.min(total, 64 * MiB) : total, best)),
      setting: settingLabel(best),
    }),
  };
}

/** iperf3 as a round configuration (no processes of ours), or why it cannot run. */
export function iperfConfig(seconds: number): Config<BulkSample> | string {
  const missing = iperfUnavailable();
  if (missing) return missing;
  return {
    key: 'iperf3',
    setup: { kind: 'none', label: 'iperf3' },
    measure: async (_pair, warmup) => {
      const s = await iperf3(warmup ? 1 : seconds);
      const nsPerByte = (cpu: number) => Number(((cpu / 100) * (1e3 / s.mbps)).toFixed(3));
      return {
        ...s,
        txNsPerByte: nsPerByte(s.txCpu),
        rxNsPerByte: nsPerByte(s.rxCpu),
        setting: '128 KiB writes',
      };
    },
  };
}

/**
 * The standalone script `bench/probes/plain-stream.mjs` (plain `node`: no tsx, no harness, no
 * meshwire code, an openssl-made RSA certificate) as a round configuration: two fresh processes
 * per run, timed by its own receiver from first byte to last. It runs in the same rounds as the
 * bench's raw baselines, so a gap between a script anyone would write and the bench's own
 * baseline shows in every run instead of being argued from runs on different days (issue 16
 * part 1); the best raw TLS figure takes it into account.
 */
export function plainScriptConfig(
  key: string,
  kind: 'tcp' | 'tls',
  total: number,
  s: WriteSetting,
): Config<BulkSample> {
  const script = fileURLToPath(new URL('../probes/plain-stream.mjs', import.meta.url));
  const args = [script, kind, String(s.size), String(total / MiB), '--json'];
  if (s.depth > 0) args.push('--depth', String(s.depth));
  if (!s.noDelay) args.push('--nagle');
  return {
    key,
    setup: { kind: 'none', label: `plain script (${kind})` },
    measure: async (_pair, warmup) => {
      const run = warmup
        ? [...args.slice(0, 3), String(Math.min(total, 64 * MiB) / MiB), ...args.slice(4)]
        : args;
      const out = await new Promise<string>((resolve, reject) => {
        execFile(process.execPath, run, { timeout: 150_000 }, (err, stdout) =>
          err ? reject(err) : resolve(stdout),
        );
      });
      const r = JSON.parse(out) as {
        mbps: number;
        rxNsPerByte: number;
        txNsPerByte: number;
        rxCpu: number;
        txCpu: number;
      };
      return {
        mbps: Math.round(r.mbps),
        txCpu: Math.round(r.txCpu),
        rxCpu: Math.round(r.rxCpu),
        txNsPerByte: Number(r.txNsPerByte.toFixed(3)),
        rxNsPerByte: Number(r.rxNsPerByte.toFixed(3)),
        setting: `${settingLabel(s)}, plain node script`,
      };
    },
  };
}
