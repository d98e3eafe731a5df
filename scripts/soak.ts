/**
 * Churn soak: does memory stay flat while peers come and go?
 *
 * A stable core of nodes stays up in a full mesh; around it, short-lived nodes keep joining
 * (bootstrapping through each core node in turn), chatting and sending a BYTES message, and leaving
 * again, a few of them alive at any time. Every second the process's RSS and heapUsed are sampled
 * (after a full GC when one is available: run with `--expose-gc`), and at the end a table
 * (start, mid, end, max, slope per minute after the warm-up) and a verdict are printed. Bounded:
 * it stops after the given time or join count, whichever comes first, and checks that the core
 * is still one full mesh.
 *
 * Run: `node --expose-gc --import tsx scripts/soak.ts [--seconds 60] [--mode secure|compat] [--quiet]`
 *
 * `runSoak` is also used by test/load-soak.test.ts (a short run).
 */
import os from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { P2PNode } from '../src/node.js';
import type { Mode, NodeOptions } from '../src/options.js';

export interface SoakOptions {
  /** How long to churn, in seconds. */
  seconds: number;
  mode: Mode;
  /** Nodes that stay up the whole time. @default 5 */
  core?: number;
  /** Churning nodes alive at once; one more joins, the oldest leaves. @default 6 */
  churners?: number;
  /** A new node joins every this many ms. @default 100 */
  joinEveryMs?: number;
  /** Hard cap on joins, whatever the time. @default 10 000 */
  maxJoins?: number;
  /** Samples taken before this many seconds are warm-up, left out of the slope. @default 20 % of the run, at least 2 s */
  warmupSeconds?: number;
  /**
   * Loopback address the nodes bind. @default a random 127.x.y.z on Linux (any 127/8 address is
   * loopback there), else 127.0.0.1. Its own address keeps the soak apart from other programs'
   * nodes on this machine: compat nodes redial the addresses of departed peers, and a port that
   * another process has reused on 127.0.0.1 would let its whole mesh in (compat has no identity
   * to tell a different node from a restarted one).
   */
  host?: string;
  /** Called before each sample (e.g. a full GC). */
  gc?: () => void;
  /** Progress lines go here. */
  log?: (line: string) => void;
}

export interface Sample {
  /** Seconds since the churn started. */
  t: number;
  rss: number;
  heapUsed: number;
  /** Churning nodes alive at that moment. */
  alive: number;
}

export interface SoakResult {
  samples: Sample[];
  warmupSeconds: number;
  joins: number;
  leaves: number;
  /** Joins whose node had no peer within its join timeout. */
  joinFailures: number;
  /** Why joins failed: the first connection error of each failed join (ports as N), counted. */
  failedJoins: Map<string, number>;
  /** Chat and BYTES messages delivered to the core. */
  delivered: number;
  /** The core is a full mesh at the end. */
  coreIntact: boolean;
  rss: Stats;
  heapUsed: Stats;
}

export interface Stats {
  start: number;
  /** First sample after the warm-up. */
  afterWarmup: number;
  mid: number;
  end: number;
  max: number;
  /** Least-squares slope over the samples after the warm-up, in bytes per minute. */
  slopePerMinute: number;
}

const MiB = 1024 * 1024;

/** Options shared by every soak node: loopback, short intervals, so churn exercises timers too. */
function nodeOptions(mode: Mode, host: string, name: string): NodeOptions {
  return {
    host,
    port: 0,
    mode,
    name,
    maxPeers: 40,
    maintenanceIntervalMs: 250,
    peerTimeoutMs: 3_000,
    discoveryIntervalMs: 1_000,
    connectionTimeoutMs: 2_000,
    bootstrapRetryMs: [100, 200],
    autoConnectJitterMs: 20,
  };
}

function defaultHost(): string {
  if (process.platform !== 'linux') return '127.0.0.1';
  const byte = (): number => 1 + Math.floor(Math.random() * 254);
  return `127.${byte()}.${byte()}.${byte()}`;
}

function stats(samples: Sample[], key: 'rss' | 'heapUsed', warmupSeconds: number): Stats {
  const values = samples.map((s) => s[key]);
  const after = samples.filter((s) => s.t >= warmupSeconds);
  const steady = after.length >= 2 ? after : samples;
  const n = steady.length;
  const meanT = steady.reduce((a, s) => a + s.t, 0) / n;
  const meanV = steady.reduce((a, s) => a + s[key], 0) / n;
  let num = 0;
  let den = 0;
  for (const s of steady) {
    num += (s.t - meanT) * (s[key] - meanV);
    den += (s.t - meanT) ** 2;
  }
  return {
    start: values[0] ?? 0,
    afterWarmup: steady[0]?.[key] ?? 0,
    mid: values[Math.floor(values.length / 2)] ?? 0,
    end: values[values.length - 1] ?? 0,
    max: Math.max(...values),
    slopePerMinute: den > 0 ? (num / den) * 60 : 0,
  };
}

/** Resolves with `check()`'s first defined value, checked now and on every message of `nodes`; undefined after `timeoutMs`. */
function when<T>(nodes: P2PNode[], check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const done = (value: T | undefined): void => {
      clearTimeout(timer);
      for (const node of nodes) node.off('message', listener);
      resolve(value);
    };
    const listener = (): void => {
      const value = check();
      if (value !== undefined) done(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    for (const node of nodes) node.on('message', listener);
    listener();
  });
}

/** Runs the churn soak; resolves when it has stopped and every node it started is closed. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const {
    seconds,
    mode,
    core: coreCount = 5,
    churners: maxAlive = 6,
    joinEveryMs = 100,
    maxJoins = 10_000,
    gc,
    log = () => undefined,
  } = options;
  const host = options.host ?? defaultHost();
  const warmupSeconds = options.warmupSeconds ?? Math.max(2, seconds * 0.2);
  const core: P2PNode[] = [];
  const alive: P2PNode[] = [];
  const samples: Sample[] = [];
  let joins = 0;
  let leaves = 0;
  let joinFailures = 0;
  let delivered = 0;
  let dialFailures = 0;
  /** Why joins failed, by error message, counted (reported at the end). */
  const failedJoins = new Map<string, number>();
  /** Time spent in each step of the joins since the last sample (ms), to see where a slowdown is. */
  const steps = { start: 0, connect: 0, send: 0, close: 0 };
  let stepJoins = 0;
  let sampler: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < coreCount; i++) {
      const node = new P2PNode({
        ...nodeOptions(mode, host, `core${i}`),
        ...(i > 0 ? { bootstrap: `${host}:${(core[0] as P2PNode).port}` } : {}),
      });
      core.push(node);
      node.on('chat', () => delivered++);
      node.on('bytes', () => delivered++);
      node.on('connection-failed', () => dialFailures++);
      await node.start();
    }
    const meshed = await when(
      core,
      () => (core.every((n) => n.getPeerInfo().peers.length >= coreCount - 1) ? true : undefined),
      10_000,
    );
    if (!meshed) throw new Error('the core did not form a full mesh within 10 s');

    const startedAt = performance.now();
    const elapsed = (): number => (performance.now() - startedAt) / 1000;
    const sample = (): void => {
      gc?.();
      const { rss, heapUsed } = process.memoryUsage();
      samples.push({ t: elapsed(), rss, heapUsed, alive: alive.length });
      const per = (ms: number): string => (stepJoins ? (ms / stepJoins).toFixed(0) : '-');
      log(
        `t=${elapsed().toFixed(0).padStart(3)}s rss ${(rss / MiB).toFixed(1)} MiB heapUsed ${(heapUsed / MiB).toFixed(1)} MiB joins ${joins} alive ${alive.length} delivered ${delivered} core dial failures ${dialFailures}, core peers ${core.map((n) => n.getPeerInfo().peers.length).join(',')}; ms per join: start ${per(steps.start)} connect ${per(steps.connect)} send ${per(steps.send)} close ${per(steps.close)}`,
      );
      steps.start = steps.connect = steps.send = steps.close = 0;
      stepJoins = 0;
    };
    sample();
    sampler = setInterval(sample, 1_000);

    const payload = Buffer.alloc(64 * 1024, 0x5a);
    let next = performance.now();
    while (elapsed() < seconds && joins < maxJoins) {
      // Pacing of the workload (not a wait for some event): one join every joinEveryMs.
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      next += joinEveryMs;

      const via = core[joins % coreCount] as P2PNode;
      const node = new P2PNode({
        ...nodeOptions(mode, host, `churn${joins}`),
        bootstrap: `${host}:${via.port}`,
      });
      joins++;
      stepJoins++;
      alive.push(node);
      let mark = performance.now();
      const step = (key: keyof typeof steps): void => {
        const now = performance.now();
        steps[key] += now - mark;
        mark = now;
      };
      const errors: string[] = [];
      node.on('connection-failed', (m) =>
        errors.push(
          `${m.address === `${host}:${via.port}` ? 'bootstrap' : 'dial'}: ${m.error.code} ${m.error.message}`,
        ),
      );
      await node.start();
      step('start');
      const connected = await when(
        [node],
        () => (node.getPeerInfo().peers.length > 0 ? true : undefined),
        2_000,
      );
      step('connect');
      if (connected) {
        await node.broadcastMessage(`hello from ${node.name}`);
        await node.broadcastBytes(payload);
      } else {
        joinFailures++;
        const why = `via ${via.name}: ${errors[0] ?? 'no error reported'}`.replace(/\d{4,5}/g, 'N');
        failedJoins.set(why, (failedJoins.get(why) ?? 0) + 1);
      }
      await (core[joins % coreCount] as P2PNode).broadcastMessage(`core tick ${joins}`);
      step('send');
      while (alive.length > maxAlive) {
        await (alive.shift() as P2PNode).close();
        leaves++;
      }
      step('close');
    }
    sample();
  } finally {
    clearInterval(sampler);
    for (const node of alive.splice(0)) {
      await node.close();
      leaves++;
    }
  }
  const coreIntact = core.every(
    (n) => n.getPeerInfo().peers.filter((p) => p.name.startsWith('core')).length === coreCount - 1,
  );
  await Promise.all(core.map((n) => n.close()));
  return {
    samples,
    warmupSeconds,
    joins,
    leaves,
    joinFailures,
    failedJoins,
    delivered,
    coreIntact,
    rss: stats(samples, 'rss', warmupSeconds),
    heapUsed: stats(samples, 'heapUsed', warmupSeconds),
  };
}

const fmt = (bytes: number): string => `${(bytes / MiB).toFixed(1)}`;

/** The result as a fixed-width table (MiB; slope in MiB per minute, after the warm-up). */
export function formatTable(result: SoakResult): string {
  const head = ['', 'start', 'warm', 'mid', 'end', 'max', 'slope/min'];
  const rows = (['rss', 'heapUsed'] as const).map((key) => {
    const s = result[key];
    return [key, fmt(s.start), fmt(s.afterWarmup), fmt(s.mid), fmt(s.end), fmt(s.max), fmt(s.slopePerMinute)];
  });
  return [head, ...rows]
    .map((row) => row.map((cell, i) => (i === 0 ? cell.padEnd(9) : cell.padStart(10))).join(''))
    .join('\n');
}

/** Limits of {@link verdict}, in MiB (per minute for slopes), all measured after the warm-up. */
export interface VerdictLimits {
  /** How far RSS may end above where the warm-up left it. */
  rssGrowth: number;
  /** RSS trend. Allocator arenas and OpenSSL state still settle during the first minute (5 to 10
   * MiB/min measured in 60 s runs, levelling off in longer ones); retained nodes cost ~110. */
  rssSlope: number;
  /** heapUsed trend, after a full GC: where a leak of nodes or connections shows most clearly
   * (~50 MiB/min when closed connections were kept for their write timeout; 1 to 3 now, the peer
   * books filling up to their capacity). */
  heapSlope: number;
}

export const DEFAULT_VERDICT_LIMITS: VerdictLimits = { rssGrowth: 32, rssSlope: 20, heapSlope: 4 };

/** FLAT when every limit holds and the core is still one full mesh; GROWING otherwise. */
export function verdict(
  result: SoakResult,
  limits: VerdictLimits = DEFAULT_VERDICT_LIMITS,
): { flat: boolean; text: string } {
  const growth = (result.rss.end - result.rss.afterWarmup) / MiB;
  const rssSlope = result.rss.slopePerMinute / MiB;
  const heapSlope = result.heapUsed.slopePerMinute / MiB;
  const flat =
    growth <= limits.rssGrowth &&
    rssSlope <= limits.rssSlope &&
    heapSlope <= limits.heapSlope &&
    result.coreIntact;
  const signed = (n: number): string => `${n >= 0 ? '+' : ''}${n.toFixed(1)}`;
  const text =
    `${flat ? 'FLAT' : 'GROWING'}: after the warm-up RSS ${signed(growth)} MiB (limit ${limits.rssGrowth}), ` +
    `RSS slope ${signed(rssSlope)} MiB/min (limit ${limits.rssSlope}), ` +
    `heapUsed slope ${signed(heapSlope)} MiB/min (limit ${limits.heapSlope})` +
    (result.coreIntact ? '' : '; the core mesh broke');
  return { flat, text };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      mode: { type: 'string', default: 'secure' },
      quiet: { type: 'boolean', default: false },
    },
  });
  const seconds = Number(values.seconds);
  const mode = values.mode as Mode;
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new Error('--seconds: 1 to 3600');
  if (mode !== 'secure' && mode !== 'compat') throw new Error("--mode: 'secure' or 'compat'");
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) console.log('note: run with --expose-gc for samples after a full GC (less noise)');
  console.log(`churn soak, ${mode} mode, ${seconds} s, node ${process.version}, ${os.cpus().length} CPUs`);
  const result = await runSoak({
    seconds,
    mode,
    ...(gc ? { gc } : {}),
    log: values.quiet ? undefined : (line) => console.log(line),
  });
  console.log('');
  console.log(
    `joins ${result.joins} (no peer in time: ${result.joinFailures}), leaves ${result.leaves}, messages delivered to the core ${result.delivered}, core mesh intact: ${result.coreIntact}`,
  );
  for (const [why, count] of result.failedJoins) console.log(`  failed join x${count}: ${why}`);
  console.log(`memory in MiB (warm = first sample after the ${result.warmupSeconds.toFixed(0)} s warm-up):`);
  console.log(formatTable(result));
  const v = verdict(result);
  console.log(v.text);
  process.exitCode = v.flat ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(2);
  });
}
