/**
 * The gossip overlay on real sockets (issue 13), secure mode with `overlay: true`, nodes spread
 * over 4 worker processes (bench/workers/overlay.ts) and every link a TLS connection on loopback.
 *
 * - Broadcast: 100 nodes (quick: 40), `maxPeers: 8`; 1,000 broadcasts (quick: 200) from
 *   random nodes, paced at 20/s and then at 100/s on a schedule shared by all processes. Every receiver checks
 *   each sender's numbers arrive exactly once and in order; latency from the send time in the
 *   payload (one clock for all processes: `performance.timeOrigin + performance.now()`);
 *   event-loop delay p99 per process (`monitorEventLoopDelay`); CPU per process.
 * - Formation: 100 and 500 nodes (quick: 40 and 100) joining all at once, each through a random
 *   earlier node: time until the active views are full, symmetric and connected, and a probe
 *   broadcast from a random node has reached all others.
 */
import { Child } from '../lib/child.js';
import type { Context, Row } from '../lib/context.js';
import { clock, type Formation, OverlayNetwork, type NetworkPlan } from '../lib/overlay-net.js';
import { percentile, summarize } from '../lib/stats.js';
import { mulberry32 } from '../../test/helpers/random.js';
import { errorLine } from '../lib/error-line.js';

const MAX_PEERS = 8;
/**
 * Two cores here: 4 processes keep both busy, and 3 of 4 links cross a process boundary.
 * `MESHWIRE_BENCH_OVERLAY_PROCESSES` (2..16) changes it, to see how much of the latency is the
 * scheduler's time slicing of more runnable processes than cores (bench/README.md).
 */
const PROCESSES = envNumber('MESHWIRE_BENCH_OVERLAY_PROCESSES', 4, 2, 16);
/**
 * Broadcasts per second, network-wide: one broadcast phase per rate on the same network, so the
 * curve from an unloaded overlay to a CPU-bound one comes from one run (a latency target means
 * something only below saturation). `MESHWIRE_BENCH_OVERLAY_RATE` overrides it with a comma
 * list (each 1..1000).
 */
const RATES = envRates('MESHWIRE_BENCH_OVERLAY_RATE', [20, 50, 100]);
/** Broadcasts (`MESHWIRE_BENCH_OVERLAY_COUNT` overrides the full / quick default, 1..100000). */
const COUNT = envNumber('MESHWIRE_BENCH_OVERLAY_COUNT', 0, 1, 100_000);
/** After the last send, wait for the deliveries until none came for STALL_MS, at most MAX_WAIT_MS. */
const STALL_MS = 5000;
const MAX_WAIT_MS = 60_000;
/** Idle window measured before the broadcasts: the overlay's background CPU. */
const IDLE_MS = 3000;

function envRates(name: string, fallback: number[]): number[] {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  return text.split(',').map((part, i) => {
    const value = Number(part.trim());
    if (!Number.isInteger(value) || value < 1 || value > 1000)
      throw new Error(`${name}: rate ${i + 1} must be an integer in 1..1000`);
    return value;
  });
}

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${name} must be an integer in ${min}..${max}`);
  return value;
}
const TARGET_P99_MS = 50;
const TARGET_LAG_MS = 20;
/** After the probe, how much longer the views are watched for being as full as possible. */
const FORM_GRACE_MS = 5000;

interface WorkerResults {
  perNode: { delivered: number; duplicates: number; skipped: number; wrong: number }[];
  latencies: number[];
  lag: { p50: number; p99: number; max: number; samples: number };
  cpuS: number;
  runQueueWaitS: number | null;
  reports: Record<string, number>;
  reportSamples: string[];
  errors: Record<string, number>;
  rssMiB: number;
}

function fmtCounts(counts: Record<string, number>): string {
  const entries = Object.entries(counts);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}=${v}`).join(' ');
}

function merge(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of list) for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
  return out;
}

const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);

function formationRow(n: number, f: Formation | null, error: string | undefined, timeoutMs: number): Row {
  const row: Row = {
    bench: 'overlay',
    name: `overlay formation, ${n} nodes (views formed + probe to all)`,
    mode: 'secure',
    unit: 's',
    value: f?.probeReachedAllMs != null ? summarize([f.probeReachedAllMs / 1000]) : null,
  };
  if (!f) {
    row.note = `failed: ${error}`;
    return row;
  }
  const cpu = f.cpuS.reduce((a, b) => a + b, 0);
  const at = (ms: number | null): string => (ms === null ? 'not reached' : `${(ms / 1000).toFixed(2)} s`);
  row.details = {
    nodes: n,
    processes: PROCESSES,
    maxPeers: MAX_PEERS,
    connectedS: seconds(f.connectedMs) ?? 'not reached',
    formedS: seconds(f.formedMs) ?? 'not reached',
    maximalS: seconds(f.maximalMs) ?? 'not reached',
    probeMs: f.probeMs ?? 'did not reach all',
    probeMissing: f.probeMissing,
    probeSentTo: f.probeSentTo,
    connectedAtProbe: f.connectedAtProbe,
    minActive: f.minActive,
    meanActive: f.meanActive,
    fullNodes: f.fullNodes,
    asymmetricLinks: f.asymmetric,
    cpuSPerProcess: f.cpuS.map((c) => c.toFixed(2)).join(' '),
    cpuSTotal: cpu,
    reports: fmtCounts(f.reports),
    errors: fmtCounts(f.errors),
    reportSamples: f.reportSamples.join('; '),
  };
  row.note =
    `connected at ${at(f.connectedMs)}, formed (views >= ${MAX_PEERS - 1} or as full as possible) at ${at(f.formedMs)}` +
    (f.formedMs === null ? ` (timeout ${timeoutMs / 1000} s)` : '') +
    `, as full as possible at ${at(f.maximalMs)}; at the end ${f.fullNodes}/${n} views full, min ${f.minActive}, ` +
    `mean ${f.meanActive.toFixed(2)}, ${f.asymmetric} one-sided links; probe ` +
    (f.probeMs !== null
      ? `reached all ${n - 1} in ${f.probeMs.toFixed(1)} ms`
      : `MISSING at ${f.probeMissing} nodes after 30 s (its sender's payload went to ${f.probeSentTo} neighbours; ` +
        `views ${f.connectedAtProbe ? '' : 'NOT '}connected when it was sent)`) +
    `; CPU to the probe's arrival ${cpu.toFixed(1)} s over ${PROCESSES} processes (${f.cpuS.map((c) => c.toFixed(1)).join(' / ')}); ` +
    `overlay reports: ${fmtCounts(f.reports)}; errors: ${fmtCounts(f.errors)}`;
  row.target = {
    text: 'formed, probe to all',
    pass: f.formedMs !== null && f.probeMissing === 0,
  };
  return row;
}

/** 1,000 paced broadcasts from random nodes; returns the rows (or throws). */
async function broadcastRun(ctx: Context, net: OverlayNetwork, count: number, rate: number): Promise<Row[]> {
  // A process with no nodes, measuring only its own event-loop delay: what the machine's
  // scheduling alone costs a Node process during the same seconds (the same-run baseline).
  // Optional: on a starved machine even an empty tsx process can take more than 30 s to start.
  const reference = await Child.spawn('overlay', {
    name: 'overlay reference (no nodes)',
    lifetimeMs: 600_000,
    execArgv: ctx.execArgv,
  }).catch((err: unknown) => {
    ctx.log(
      `    reference process: ${err instanceof Error ? err.message : String(err)}; measuring without it`,
    );
    return undefined;
  });
  try {
    return await measured(ctx, net, count, rate, reference);
  } finally {
    await reference?.close();
  }
}

async function measured(
  ctx: Context,
  net: OverlayNetwork,
  count: number,
  rate: number,
  reference: Child | undefined,
): Promise<Row[]> {
  const n = net.plan.nodes;
  const random = mulberry32(net.plan.seed + 1);
  const senders = Array.from({ length: count }, () => Math.floor(random() * n));
  const sentBy = new Array<number>(n).fill(0);
  for (const s of senders) sentBy[s]!++;
  const expected = net.perProcess((g) => count - sentBy[g]!);
  const items: [number, number][][] = net.children.map(() => []);
  senders.forEach((g, i) => {
    const [p, local] = net.where[g]!;
    items[p]!.push([(i * 1000) / rate, local]);
  });
  // Background CPU of the formed, idle overlay (timers, shuffles, refills), over a fixed window.
  const idle0 = await Promise.all(net.children.map((c) => c.call<number>('cpu')));
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idleS = (await Promise.all(net.children.map((c) => c.call<number>('cpu')))).map(
    (c, p) => c - idle0[p]!,
  );
  const idleMsPerNodeS = (idleS.reduce((a, b) => a + b, 0) * 1000) / (IDLE_MS / 1000) / n;
  await Promise.all([...net.children, ...(reference ? [reference] : [])].map((c) => c.call('arm')));
  const startAt = clock() + 500;
  const durationMs = (count * 1000) / rate;
  ctx.log(`  overlay: ${count} broadcasts from random nodes at ${rate}/s (${durationMs / 1000} s)`);
  const sends = await Promise.all(
    net.children.map((c, p) =>
      c.call<{ sent: number; failed: number; late: number }>(
        'schedule',
        { startAt, items: items[p] },
        durationMs + 180_000,
      ),
    ),
  );
  const waits = await Promise.all(
    net.children.map((c, p) =>
      c.call<{ complete: boolean }>(
        'waitDelivered',
        { expected: expected[p], timeoutMs: MAX_WAIT_MS, stallMs: STALL_MS },
        MAX_WAIT_MS + 120_000,
      ),
    ),
  );
  const phaseS = (clock() - startAt) / 1000;
  const results = await Promise.all(net.children.map((c) => c.call<WorkerResults>('results', {}, 120_000)));
  const ref = reference ? await reference.call<WorkerResults>('results', {}, 120_000) : undefined;
  const perNode = results.flatMap((r) => r.perNode);
  const sum = (key: 'delivered' | 'duplicates' | 'skipped' | 'wrong'): number =>
    perNode.reduce((a, t) => a + t[key], 0);
  const expectedTotal = count * (n - 1);
  const delivered = sum('delivered');
  const duplicates = sum('duplicates');
  const skipped = sum('skipped');
  const wrong = sum('wrong');
  const failed = sends.reduce((a, s) => a + s.failed, 0);
  const late = sends.reduce((a, s) => a + s.late, 0);
  const short = net
    .perProcess((g) => g)
    .flatMap((locals, p) =>
      locals.filter((g, local) => results[p]!.perNode[local]!.delivered < expected[p]![local]!),
    );
  const reports = merge(results.map((r) => r.reports));
  const errors = merge(results.map((r) => r.errors));
  const samples = results.flatMap((r) => r.reportSamples).slice(0, 8);
  const exact =
    delivered === expectedTotal && duplicates === 0 && skipped === 0 && wrong === 0 && failed === 0;
  const latencies = results.flatMap((r) => r.latencies);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  const lagP99 = results.map((r) => r.lag.p99);
  const cpu = results.map((r) => r.cpuS);
  const common = {
    nodes: n,
    processes: PROCESSES,
    maxPeers: MAX_PEERS,
    broadcasts: count,
    ratePerS: rate,
  };
  ctx.log(
    `    delivered ${delivered}/${expectedTotal}, duplicates ${duplicates}, out of order ${skipped}, wrong ${wrong}; ` +
      `p50 ${p50.toFixed(2)} ms p99 ${p99.toFixed(2)} ms; lag p99 ${lagP99.map((x) => x.toFixed(1)).join(' / ')} ms; ` +
      `CPU ${cpu.map((x) => x.toFixed(1)).join(' / ')} s; reports ${fmtCounts(reports)}; errors ${fmtCounts(errors)}`,
  );
  const rows: Row[] = [
    {
      bench: 'overlay',
      name: `overlay ${n} nodes at ${rate}/s: ${count} broadcasts, deliveries`,
      mode: 'secure',
      unit: 'deliveries',
      value: summarize([delivered]),
      target: { text: `= ${expectedTotal.toLocaleString('en-US')}, once, in order`, pass: exact },
      note:
        `expected ${expectedTotal} (${count} x ${n - 1}); duplicates ${duplicates}, out of order ${skipped}, ` +
        `wrong sender/payload ${wrong}, send failures ${failed}, nodes short ${short.length}` +
        (waits.every((w) => w.complete)
          ? ''
          : ` (waited after the last send until no delivery for ${STALL_MS / 1000} s, at most ${MAX_WAIT_MS / 1000} s)`) +
        `; overlay reports: ${fmtCounts(reports)}` +
        (samples.length > 0 ? ` (${samples.join('; ')})` : '') +
        `; errors: ${fmtCounts(errors)}` +
        (late > 0 ? `; ${late} sends ran > 20 ms behind the schedule` : ''),
      details: {
        ...common,
        expected: expectedTotal,
        duplicates,
        outOfOrder: skipped,
        wrong,
        sendFailures: failed,
        sendsLate: late,
        nodesShort: short.length,
        shortNodes: short.slice(0, 20).join(' '),
        reports: fmtCounts(reports),
        reportSamples: samples.join('; '),
        errors: fmtCounts(errors),
      },
    },
    {
      bench: 'overlay',
      name: `overlay ${n} nodes at ${rate}/s: delivery latency p50`,
      mode: 'secure',
      unit: 'ms',
      value: summarize([p50]),
      details: {
        ...common,
        samples: latencies.length,
        p90: percentile(latencies, 90),
        max: Math.max(...latencies),
      },
    },
    {
      bench: 'overlay',
      name: `overlay ${n} nodes at ${rate}/s: delivery latency p99`,
      mode: 'secure',
      unit: 'ms',
      value: summarize([p99]),
      target: { text: `<= ${TARGET_P99_MS} ms`, pass: p99 <= TARGET_P99_MS },
      details: { ...common, samples: latencies.length },
    },
    {
      bench: 'overlay',
      name: `overlay ${n} nodes at ${rate}/s: event-loop delay p99, worst process`,
      mode: 'secure',
      unit: 'ms',
      value: summarize([Math.max(...lagP99)]),
      target: { text: `<= ${TARGET_LAG_MS} ms each`, pass: lagP99.every((x) => x <= TARGET_LAG_MS) },
      note:
        `run-queue wait (runnable, no CPU given) ${results.map((r) => (r.runQueueWaitS === null ? '?' : r.runQueueWaitS.toFixed(1))).join(' / ')} s ` +
        `of ${phaseS.toFixed(1)} s; reference process without nodes, same seconds: ` +
        (ref ? `p99 ${ref.lag.p99.toFixed(1)} ms, max ${ref.lag.max.toFixed(0)} ms; ` : 'did not start; ') +
        `per process: p99 ${lagP99.map((x) => x.toFixed(1)).join(' / ')} ms, max ` +
        `${results.map((r) => r.lag.max.toFixed(0)).join(' / ')} ms; CPU ${cpu.map((x) => x.toFixed(1)).join(' / ')} s ` +
        `in ${phaseS.toFixed(1)} s (${cpu.map((x) => ((x / phaseS) * 100).toFixed(0)).join(' / ')} % of a core; ${((cpu.reduce((a, b) => a + b, 0) * 1e6) / expectedTotal).toFixed(0)} µs ` +
        `per delivery, all processes, of which background ${((idleMsPerNodeS * n * phaseS * 1000) / expectedTotal).toFixed(0)} µs: ` +
        `idle overlay ${idleMsPerNodeS.toFixed(1)} ms CPU per node per second)`,
      details: {
        ...common,
        referenceLagP99: ref?.lag.p99 ?? 'no reference',
        referenceLagMax: ref?.lag.max ?? 'no reference',
        phaseS,
        runQueueWaitSPerProcess: results.map((r) => (r.runQueueWaitS ?? -1).toFixed(2)).join(' '),
        lagP99PerProcess: lagP99.map((x) => x.toFixed(2)).join(' '),
        lagP50PerProcess: results.map((r) => r.lag.p50.toFixed(2)).join(' '),
        lagMaxPerProcess: results.map((r) => r.lag.max.toFixed(1)).join(' '),
        cpuSPerProcess: cpu.map((x) => x.toFixed(2)).join(' '),
        cpuUsPerDelivery: (cpu.reduce((a, b) => a + b, 0) * 1e6) / expectedTotal,
        idleCpuMsPerNodePerS: idleMsPerNodeS,
        cpuCoresNeeded: (cpu.reduce((a, b) => a + b, 0) / expectedTotal) * rate * (n - 1),
        rssMiBPerProcess: results.map((r) => r.rssMiB.toFixed(0)).join(' '),
      },
    },
  ];
  return rows;
}

/** Opens a network, forms it, and runs `after` on it; always closes it. */
async function withNetwork<T>(
  ctx: Context,
  plan: NetworkPlan,
  formTimeoutMs: number,
  after: (net: OverlayNetwork, f: Formation) => Promise<T>,
): Promise<T> {
  const net = await OverlayNetwork.open(plan, ctx.execArgv, formTimeoutMs + 180_000);
  try {
    const f = await net.form(formTimeoutMs, FORM_GRACE_MS);
    ctx.log(`    ${JSON.stringify(f)}`);
    return await after(net, f);
  } finally {
    await net.close();
  }
}

/**
 * `MESHWIRE_BENCH_OVERLAY=broadcast` or `=formation` runs only that part (a shared machine's
 * runs stay short); default both.
 */
function parts(): Set<string> {
  const env = process.env.MESHWIRE_BENCH_OVERLAY;
  const list = env ? env.split(',').map((p) => p.trim()) : ['broadcast', 'formation'];
  for (const p of list) {
    if (p !== 'broadcast' && p !== 'formation') throw new Error(`MESHWIRE_BENCH_OVERLAY: unknown part ${p}`);
  }
  return new Set(list);
}

export async function overlay(ctx: Context): Promise<Row[]> {
  const run = parts();
  const small = ctx.quick ? 40 : 100;
  const large = ctx.quick ? 100 : 500;
  const count = COUNT || (ctx.quick ? 200 : 1000);
  const rows: Row[] = [];
  const formations: Row[] = [];

  // As long as the large network's: 100 nodes form in about 30 s here (a few nodes two short of
  // a full view, refused by full ones, take that long to find nodes with room), so a 30 s bound
  // turned the measurement into a coin toss (formed at 31.1 s in one run, a MISS the next).
  const smallTimeout = ctx.quick ? 30_000 : 90_000;
  if (run.has('broadcast'))
    try {
      ctx.log(`  overlay: ${small} nodes over ${PROCESSES} processes, maxPeers ${MAX_PEERS}`);
      await withNetwork(
        ctx,
        { nodes: small, processes: PROCESSES, maxPeers: MAX_PEERS, seed: 13 },
        smallTimeout,
        async (net, f) => {
          formations.push(formationRow(small, f, undefined, smallTimeout));
          for (const rate of RATES) rows.push(...(await broadcastRun(ctx, net, count, rate)));
        },
      );
    } catch (err) {
      const message = errorLine(err);
      ctx.log(`    FAILED: ${message}`);
      if (formations.length === 0) formations.push(formationRow(small, null, message, smallTimeout));
      rows.push({
        bench: 'overlay',
        name: `overlay ${small} nodes at ${RATES.join(', ')}/s: ${count} broadcasts, deliveries`,
        mode: 'secure',
        unit: 'deliveries',
        value: null,
        target: { text: `= ${(count * (small - 1)).toLocaleString('en-US')}, once, in order`, pass: false },
        note: `failed: ${message}`,
      });
    }

  const largeTimeout = ctx.quick ? 30_000 : 90_000;
  if (run.has('formation'))
    try {
      ctx.log(`  overlay: formation of ${large} nodes over ${PROCESSES} processes`);
      await withNetwork(
        ctx,
        { nodes: large, processes: PROCESSES, maxPeers: MAX_PEERS, seed: 14 },
        largeTimeout,
        async (_net, f) => {
          formations.push(formationRow(large, f, undefined, largeTimeout));
        },
      );
    } catch (err) {
      const message = errorLine(err);
      ctx.log(`    FAILED: ${message}`);
      formations.push(formationRow(large, null, message, largeTimeout));
    }
  return [...rows, ...formations];
}
