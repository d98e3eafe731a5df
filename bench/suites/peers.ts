/**
 * meshwire next to what users would pick instead (issue 16): js-libp2p (TCP + Noise + Yamux)
 * and @hyperswarm/secret-stream over TCP, in the same run, on the same machine, with the same
 * message sizes, each pair in its own two processes (bench/workers/peer.ts, node.ts):
 *
 * - bulk: 64 KiB and 1 MiB messages, with each stack's own backpressure;
 * - small messages: 32-byte messages one way (meshwire: `sendBytesToPeer`, 1000 calls then
 *   await; the others: write until backpressure, libp2p with a 4-byte length prefix);
 * - RTT: 16-byte ping-pong, p50 and p99;
 * - connection set-up: a running process dials the listener again and again, until the
 *   listener's greeting arrives (meshwire: the handshake suite's "running node" measurement).
 *
 * Every "x" ratio here is against the faster of libp2p and secret-stream in the same round.
 */
import { transfer } from '../lib/baselines.js';
import { withChildren } from '../lib/child.js';
import { type Context, type Pair, type Row, type Setup } from '../lib/context.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, percentile, summarize } from '../lib/stats.js';
import { errorLine } from '../lib/error-line.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const SMALL = 32;
const PING = 16;

const STACKS: { key: string; setup: Setup }[] = [
  { key: 'secure', setup: { kind: 'node', mode: 'secure' } },
  { key: 'compat', setup: { kind: 'node', mode: 'compat' } },
  { key: 'libp2p', setup: { kind: 'peer', stack: 'libp2p' } },
  { key: 'secret-stream', setup: { kind: 'peer', stack: 'secret-stream' } },
];
const ALTERNATIVES = ['libp2p', 'secret-stream'];

type Sample = Record<string, number>;

/** `count` small messages one way; returns messages per second. */
async function smallMessages(pair: Pair, setup: Setup, count: number): Promise<number> {
  const node = setup.kind === 'node';
  await pair.rx.call(
    'arm',
    node ? { kind: 'bytes', total: count * SMALL } : { kind: 'messages', total: count },
  );
  const done = pair.rx.call('wait', {}, 120_000);
  done.catch(() => undefined);
  const t0 = performance.now();
  await pair.tx.call(
    node ? 'sendBytesBatched' : 'sendMessages',
    { size: SMALL, count, batch: 1000 },
    120_000,
  );
  await done;
  return Math.round(count / ((performance.now() - t0) / 1000));
}

/** Connection set-up times from one running dialer process (ms), and both sides' CPU (ms each). */
interface SetupResult {
  samples: number[];
  dialerCpuMs: number;
  listenerCpuMs: number;
}

/** Measures {@link SetupResult} for one stack. */
async function setups(ctx: Context, key: string, setup: Setup, count: number): Promise<SetupResult> {
  const worker = setup.kind === 'node' ? 'node' : 'peer';
  const spec = (role: string) => ({
    worker,
    options: { name: `peers set-up ${role} (${key})`, lifetimeMs: 180_000, execArgv: ctx.execArgv },
  });
  return withChildren([spec('listener'), spec('dialer')], async ([listener, dialer]) => {
    let args: object;
    if (setup.kind === 'node') {
      const [info] = await listener!.call<{ port: number }[]>('start', {
        options: { mode: setup.mode, maxPeers: 1000 },
      });
      await listener!.call('greet');
      args = { address: `127.0.0.1:${info!.port}`, options: { mode: setup.mode }, reuse: true };
    } else if (setup.kind === 'peer') {
      await listener!.call('greet', { stack: setup.stack });
      const where = await listener!.call<{ port: number; address: string }>('listen', { stack: setup.stack });
      args = { stack: setup.stack, ...where };
    } else throw new Error(`no set-up measurement for ${key}`);
    const warmup = 5;
    const before = await listener!.call<NodeJS.CpuUsage>('cpu');
    const result = await dialer!.call<{ samples: number[]; cpuMsPerHandshake: number }>(
      'handshakes',
      { ...args, count, warmup },
      150_000,
    );
    const after = await listener!.call<NodeJS.CpuUsage>('cpu');
    const listenerMs = (after.user - before.user + after.system - before.system) / 1000 / (count + warmup);
    return {
      samples: result.samples,
      dialerCpuMs: result.cpuMsPerHandshake,
      listenerCpuMs: listenerMs,
    };
  });
}

export async function peers(ctx: Context): Promise<Row[]> {
  const bulkTotal = ctx.quick ? 128 * MiB : 512 * MiB;
  const small = ctx.quick ? 50_000 : 200_000;
  const pings = ctx.quick ? 1000 : 5000;
  const connections = ctx.quick ? 20 : 50;

  const data: Config<Sample>[] = STACKS.map(({ key, setup }) => ({
    key: `${key}-data`,
    setup,
    measure: async (pair, warmup) => {
      const volume = warmup ? 32 * MiB : bulkTotal;
      const bulk64 = await transfer(pair, setup, 64 * KiB, volume);
      const bulk1m = await transfer(pair, setup, MiB, volume);
      const rate = await smallMessages(pair, setup, warmup ? 10_000 : small);
      return {
        bulk64: bulk64.mbps,
        bulk1m: bulk1m.mbps,
        rxNsPerByte64: bulk64.rxNsPerByte,
        txNsPerByte64: bulk64.txNsPerByte,
        smallRate: rate,
      };
    },
  }));
  const rtt: Config<Sample>[] = STACKS.map(({ key, setup }) => ({
    key: `${key}-rtt`,
    setup,
    prepare: async (pair) => {
      await pair.rx.call('echo');
    },
    measure: async (pair, warmup) => {
      const samples = await pair.tx.call<number[]>('pingpong', {
        n: warmup ? 300 : pings,
        warmup: warmup ? 0 : 200,
        size: PING,
      });
      return { p50: Math.round(percentile(samples, 50)), p99: Math.round(percentile(samples, 99)) };
    },
  }));
  const results = await rounds(ctx, 'peers', [...data, ...rtt], 600_000);

  const rows: Row[] = [];
  /** One row per stack for `metric` of configurations `suffix`; ratios vs the best alternative. */
  const metricRows = (
    suffix: string,
    metric: string,
    name: string,
    unit: string,
    higherIsBetter: boolean,
    target?: { factor: number; text: string },
  ): void => {
    const values = (key: string) => results.get(`${key}-${suffix}`)?.samples.map((s) => s[metric]!) ?? [];
    const roundCount = Math.max(...STACKS.map(({ key }) => values(key).length));
    const bestAlternative: number[] = [];
    for (let i = 0; i < roundCount; i++) {
      const alts = ALTERNATIVES.map((k) => values(k)[i]).filter((v): v is number => v !== undefined);
      bestAlternative.push(alts.length === 0 ? NaN : higherIsBetter ? Math.max(...alts) : Math.min(...alts));
    }
    for (const { key, setup } of STACKS) {
      const v = values(key);
      const outcome = results.get(`${key}-${suffix}`);
      const row: Row = {
        bench: 'peers',
        name,
        mode: setup.kind === 'node' ? setup.mode : key === 'libp2p' ? 'libp2p' : 'secret-stream',
        unit,
        value: v.length > 0 ? summarize(v) : null,
      };
      if (outcome?.error) row.note = `failed: ${outcome.error}`;
      if (setup.kind === 'node' && v.length > 0) {
        const ratios = v.map((x, i) => x / bestAlternative[i]!).filter(Number.isFinite);
        if (ratios.length > 0) row.ratio = median(ratios);
        if (target && key === 'secure') {
          row.target = {
            text: target.text,
            pass:
              row.ratio !== undefined &&
              (higherIsBetter ? row.ratio >= target.factor : row.ratio <= target.factor),
          };
        }
      }
      if (metric === 'bulk64' && outcome && v.length > 0) {
        const ns = (m: string) => median(outcome.samples.map((s) => s[m]!)).toFixed(2);
        const bound = Math.round(1000 / Math.max(Number(ns('txNsPerByte64')), Number(ns('rxNsPerByte64'))));
        row.note =
          `CPU: sender ${ns('txNsPerByte64')} ns/byte, receiver ${ns('rxNsPerByte64')} ns/byte; ` +
          `CPU-bound estimate ${bound} MB/s (the busier side with a core of its own)`;
        row.details = { ...row.details, cpuBoundMBps: bound };
      }
      rows.push(row);
    }
  };
  const twice = { factor: 2, text: '>= 2x best alt.' };
  metricRows('data', 'bulk64', 'bulk, 64 KiB messages', 'MB/s', true, twice);
  metricRows('data', 'bulk1m', 'bulk, 1 MiB messages', 'MB/s', true, twice);
  metricRows('data', 'smallRate', `${SMALL}-byte messages`, 'msg/s', true, twice);
  metricRows('rtt', 'p50', `RTT p50, ${PING} bytes`, 'µs', false);
  metricRows('rtt', 'p99', `RTT p99, ${PING} bytes`, 'µs', false);

  // Connection set-up: not interleaved (each is its own listener and dialer, one after the other).
  const setupResults = new Map<string, SetupResult | string>();
  for (const { key, setup } of STACKS) {
    ctx.log(`  peers: connection set-up, ${key}, ${connections} connections`);
    try {
      setupResults.set(key, await setups(ctx, key, setup, connections));
    } catch (err) {
      setupResults.set(key, errorLine(err));
    }
  }
  const medianOf = (key: string) => {
    const r = setupResults.get(key);
    return typeof r === 'object' ? median(r.samples) : NaN;
  };
  const fastestAlternative = Math.min(...ALTERNATIVES.map(medianOf).filter(Number.isFinite));
  for (const { key, setup } of STACKS) {
    const r = setupResults.get(key)!;
    const row: Row = {
      bench: 'peers',
      name: 'connection set-up, running dialer',
      mode: setup.kind === 'node' ? setup.mode : key === 'libp2p' ? 'libp2p' : 'secret-stream',
      unit: 'ms',
      value: typeof r === 'object' ? summarize(r.samples) : null,
    };
    if (typeof r === 'string') row.note = `failed: ${r}`;
    else {
      row.value!.runs = [];
      row.note = `CPU per connection: dialer ${r.dialerCpuMs.toFixed(2)} ms, listener ${r.listenerCpuMs.toFixed(2)} ms`;
      row.details = { dialerCpuMs: r.dialerCpuMs, listenerCpuMs: r.listenerCpuMs, connections };
      if (setup.kind === 'node' && Number.isFinite(fastestAlternative)) {
        row.ratio = median(r.samples) / fastestAlternative;
        if (key === 'secure') row.target = { text: 'faster than both', pass: row.ratio < 1 };
      }
    }
    rows.push(row);
  }
  return rows;
}
