/**
 * LAN discovery inside Linux network namespaces on a private bridge (root only; otherwise the
 * rows say why they were skipped). Multicast never leaves those namespaces.
 *
 * - Time from a common start signal until every one of N instances (5, 20, 50) knows the N-1
 *   others. Instances run up to 5 per host process (so 50 instances need 10 processes, not 50).
 * - Goodbye to removal: one instance closes, until every other one has dropped it.
 * - Multicast bytes per node per minute at rest, sent and received, with every discovery timer
 *   10x faster (TTL 12 s, query cap 6 s), after the query interval has reached its cap, and
 *   divided by 10: steady-state traffic scales with 1/interval, so a minute of rest fits in 6 s.
 *   (The 1 s minimum between two answers and the 20-120 ms answer delay are not scaled.)
 *   `MESHWIRE_BENCH_LAN_SPEEDUP=1` measures at real speed instead (default 10), and
 *   `MESHWIRE_BENCH_LAN_REST_MIN=M` sets the minutes of rest counted (at real speed; default 2,
 *   quick 1): at real speed, 50 nodes with 4 minutes of rest take about 7 minutes.
 */
import { performance } from 'node:perf_hooks';
import type { Context, Row } from '../lib/context.js';
import { summarize } from '../lib/stats.js';
import { createLan, netnsSkipReason } from '../../test/helpers/netns.js';
import { LanProcess, pollUntil, waitUntil } from '../../test/support-lan/harness.js';

const PER_PROCESS = 5;
/** A positive integer from the environment, or `fallback`. */
function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 60) throw new Error(`${name} takes 1..60, not ${raw}`);
  return value;
}
const SPEEDUP = envInt('MESHWIRE_BENCH_LAN_SPEEDUP', 10);
const DEFAULT_TTL_MS = 120_000;
const DEFAULT_QUERY_CAP_MS = 60_000;

interface RunResult {
  discoveryMs: number;
  cpuMsPerInstance: number;
  removalMs: number;
  sentPerNodePerMin: number;
  receivedPerNodePerMin: number;
  queriesPerNodePerMin: number;
  answersPerNodePerMin: number;
}

type Counted = 'bytesSent' | 'bytesReceived' | 'queries' | 'announced';

async function runOnce(ctx: Context, n: number, restMs: number): Promise<RunResult> {
  const cleanups: (() => Promise<void> | void)[] = [];
  try {
    const hosts = Math.ceil(n / PER_PROCESS);
    const lan = await createLan({ after: (fn) => cleanups.push(fn) }, hosts);
    const options = { ttlMs: DEFAULT_TTL_MS / SPEEDUP, maxQueryIntervalMs: DEFAULT_QUERY_CAP_MS / SPEEDUP };
    const procs = lan.hosts.map(
      (h, i) =>
        new LanProcess(h, { count: Math.min(PER_PROCESS, n - i * PER_PROCESS), deferStart: true, options }),
    );
    await Promise.all(procs.map((p) => p.waitFor((e) => e.ev === 'created', 60_000, 'created')));
    const instances = procs.flatMap((p) => p.ids.map((id, i) => ({ p, i, id })));
    const ids = instances.map((x) => x.id);
    const complete = () =>
      instances.every(({ p, i, id }) => ids.every((other) => other === id || p.known(i).has(other)));

    const t0 = performance.now();
    for (const p of procs) p.send('start');
    await waitUntil(procs, complete, 30_000, `${n} instances to see ${n - 1} peers`);
    const discoveryMs = performance.now() - t0;
    // CPU is what a loaded machine stretches: report it beside the wall time.
    const cpuMsPerInstance = (await Promise.all(procs.map((p) => p.cpu()))).reduce((a, b) => a + b, 0) / n;
    ctx.log(`  discovery: ${n} instances complete in ${discoveryMs.toFixed(0)} ms`);

    // Rest: first let the query interval reach its cap (1 + 2 + ... + 32 s at real speed, then
    // one more interval, counted from full discovery),
    // then count bytes sent and received by each instance over restMs, scaled to real timers.
    const warm = performance.now();
    const rampMs = (63_000 + DEFAULT_QUERY_CAP_MS) / SPEEDUP;
    await pollUntil(
      async () => performance.now() - warm,
      (ms) => ms >= rampMs,
      rampMs + 5_000,
      'warm-up',
    );
    ctx.log(`  discovery: warmed up for ${((performance.now() - warm) / 1000).toFixed(1)} s`);
    const snapshot = async () =>
      (await Promise.all(procs.map((p) => p.counters()))).flat() as Record<Counted, number>[];
    const before = await snapshot();
    const restStart = performance.now();
    await pollUntil(
      async () => performance.now() - restStart,
      (ms) => ms >= restMs,
      restMs + 5_000,
      'rest',
    );
    const after = await snapshot();
    const minutes = ((performance.now() - restStart) * SPEEDUP) / 60_000;
    const sum = (k: Counted) =>
      after.reduce((acc, c, i) => acc + c[k] - before[i]![k], 0) / after.length / minutes;

    // Goodbye: the first instance of the first process closes.
    const leaver = instances[0]!;
    const others = instances.slice(1);
    const closeAt = performance.now();
    leaver.p.send(`close ${leaver.i}`);
    await waitUntil(procs, () => others.every(({ p, i }) => !p.known(i).has(leaver.id)), 10_000, 'goodbye');
    const removalMs = performance.now() - closeAt;
    return {
      discoveryMs,
      cpuMsPerInstance,
      removalMs,
      sentPerNodePerMin: sum('bytesSent'),
      receivedPerNodePerMin: sum('bytesReceived'),
      queriesPerNodePerMin: sum('queries'),
      answersPerNodePerMin: sum('announced'),
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

export async function discovery(ctx: Context): Promise<Row[]> {
  // MESHWIRE_BENCH_LAN_SIZES=50 measures one size only (comma-separated list).
  const sizes = process.env.MESHWIRE_BENCH_LAN_SIZES
    ? process.env.MESHWIRE_BENCH_LAN_SIZES.split(',').map(Number)
    : ctx.quick
      ? [5, 20]
      : [5, 20, 50];
  const skip = netnsSkipReason();
  const rows: Row[] = [];
  const row = (
    name: string,
    unit: string,
    values: number[] | null,
    target?: [string, boolean],
    note?: string,
  ): Row => ({
    bench: 'discovery',
    name,
    mode: 'secure',
    unit,
    value: values ? summarize(values) : null,
    ...(target ? { target: { text: target[0], pass: target[1] } } : {}),
    ...(note ? { note } : {}),
  });
  if (skip) {
    const note = `skipped: ${skip}`;
    return [row('LAN discovery', '', null, undefined, note)];
  }
  const restMs = (envInt('MESHWIRE_BENCH_LAN_REST_MIN', ctx.quick ? 1 : 2) * 60_000) / SPEEDUP;
  for (const n of sizes) {
    const runs = 1;
    const results: RunResult[] = [];
    try {
      for (let r = 0; r < runs; r++) results.push(await runOnce(ctx, n, restMs));
    } catch (err) {
      rows.push(row(`LAN: ${n} all see ${n - 1}`, 's', null, undefined, `failed: ${(err as Error).message}`));
      continue;
    }
    const disc = results.map((r) => r.discoveryMs / 1000);
    rows.push(
      row(
        `LAN: ${n} all see ${n - 1}`,
        's',
        disc,
        n === 50 ? ['<= 3 s', Math.max(...disc) <= 3] : undefined,
        `from one start signal to the last instance knowing every other; ${Math.ceil(n / PER_PROCESS)} namespaces, ` +
          `up to ${PER_PROCESS} instances per process; CPU per instance until then ` +
          `${results[0]!.cpuMsPerInstance.toFixed(0)} ms (process total / instances)`,
      ),
    );
    rows[rows.length - 1]!.details = { cpuMsPerInstance: results[0]!.cpuMsPerInstance };
    const removal = results.map((r) => r.removalMs);
    rows.push(
      row(`LAN: goodbye to removal (${n})`, 'ms', removal, ['<= 250 ms', Math.max(...removal) <= 250]),
    );
    const sent = results.map((r) => r.sentPerNodePerMin);
    const received = results.map((r) => r.receivedPerNodePerMin);
    rows.push(
      row(`LAN: bytes sent per node per min at rest (${n})`, 'B/min', sent, [
        '<= 60 KB/min',
        Math.max(...sent) <= 60_000,
      ]),
    );
    rows.push(
      row(
        `LAN: bytes received per node per min at rest (${n})`,
        'B/min',
        received,
        ['<= 60 KB/min', Math.max(...received) <= 60_000],
        (SPEEDUP === 1
          ? `measured at real speed for ${restMs / 1000} s; `
          : `measured with discovery timers ${SPEEDUP}x faster for ${restMs / 1000} s, divided by ${SPEEDUP}; `) +
          `per node per minute: ${results[0]!.queriesPerNodePerMin.toFixed(2)} query packets, ` +
          `${results[0]!.answersPerNodePerMin.toFixed(2)} answers`,
      ),
    );
    rows[rows.length - 1]!.details = {
      queryPacketsPerNodePerMin: results[0]!.queriesPerNodePerMin,
      answersPerNodePerMin: results[0]!.answersPerNodePerMin,
    };
  }
  return rows;
}
