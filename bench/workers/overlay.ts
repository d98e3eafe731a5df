/**
 * Overlay worker (bench suite `overlay`): hosts a slice of a gossip-overlay network (secure mode,
 * `overlay: true`) in this process and does what the parent asks: join, report the active
 * views, broadcast on a shared schedule, and count what every local node delivered.
 *
 * Every node listens on 127.0.0.1 port 0, so every overlay link is a real TLS connection over
 * loopback, also between two nodes of the same process. LAN discovery stays off (its default).
 *
 * A load broadcast is `broadcastBytes` of 16 bytes: the send time (float64, ms on the shared
 * clock below), the sender's global index (uint32) and its own sequence number (uint32, from 1).
 * Receivers check each sender's numbers arrive as 1, 2, 3, ... (exactly once, in order).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { P2PNode as P2PNodeClass } from '../../src/index.js';
import type { OverlayReport } from '../../src/overlay/index.js';
import { serve } from '../lib/serve.js';

type P2PNode = P2PNodeClass;

const srcUrl = process.env.MESHWIRE_BENCH_SRC
  ? pathToFileURL(path.resolve(process.env.MESHWIRE_BENCH_SRC) + path.sep).href
  : new URL('../../src/', import.meta.url).href;
const { P2PNode } = (await import(new URL('index.js', srcUrl).href)) as typeof import('../../src/index.js');

/** Loop-delay sampling period; the histogram's values include it, so it is subtracted. */
const LAG_RESOLUTION_MS = 10;
const PAYLOAD_BYTES = 16;

/**
 * One clock for every process on this machine: the wall-clock time origin of the process plus
 * its monotonic time (what the brief prescribes; both processes read the same system clock).
 */
function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** What one local node received during the armed phase. */
interface Tally {
  /** Next expected sequence number per sender global index, minus one. */
  last: Int32Array;
  delivered: number;
  duplicates: number;
  /** Deliveries whose number skipped ahead (a message missing or reordered). */
  skipped: number;
  /** Deliveries from this node itself, or whose payload names another sender than `from`. */
  wrong: number;
  probes: Set<string>;
  probeLastAt: number;
}

const nodes: P2PNode[] = [];
/** Global index of each local node. */
const globals: number[] = [];
const tallies: Tally[] = [];
/** Global index of every node ID of the whole network (from `directory`). */
const indexOf = new Map<string, number>();
let networkSize = 0;
let latencies: number[] = [];
const reports = new Map<string, number>();
/** The first few reports in words (what was skipped or late, where), for the suite's note. */
const reportSamples: string[] = [];
const MAX_SAMPLES = 8;
const errors = new Map<string, number>();
let sendSeq: number[] = [];
let lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
let cpuAtArm = process.cpuUsage();
let waiters: (() => void)[] = [];

/**
 * The main thread's CPU time and time spent runnable but waiting for a CPU (Linux
 * /proc/self/schedstat, ns), or null elsewhere: on a shared machine the second says how much of
 * the event-loop delay was the scheduler's and not this process's own work.
 */
function schedstat(): { runNs: number; waitNs: number } | null {
  try {
    const [run, wait] = readFileSync('/proc/self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return Number.isFinite(run) && Number.isFinite(wait) ? { runNs: run!, waitNs: wait! } : null;
  } catch {
    return null;
  }
}

let schedAtArm = schedstat();
let lastDeliveryAt = 0;

/** A report in words, senders as global indexes. */
function describeReport(r: OverlayReport): string {
  const who = (id: string): string => String(indexOf.get(id) ?? id.slice(0, 8));
  switch (r.kind) {
    case 'gap':
      return `gap: sender ${who(r.sender)} #${r.first}..${r.last} skipped (${r.reason})`;
    case 'late':
      return `late: sender ${who(r.id.sender)} #${r.id.seq} from ${who(r.from)} (${r.reason})`;
    case 'missed':
      return `missed: sender ${who(r.id.sender)} #${r.id.seq}`;
    default:
      return r.kind;
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function wake(): void {
  const w = waiters;
  waiters = [];
  for (const fn of w) fn();
}

/**
 * Resolves once `done()` holds (checked after every delivery), or, with `stallMs`, once no load
 * broadcast was delivered for that long (checked every 250 ms), or after `timeoutMs`; true if it held.
 */
function until(done: () => boolean, timeoutMs: number, stallMs?: number): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (): void => {
      clearTimeout(timer);
      clearInterval(stall);
      waiters = waiters.filter((w) => w !== check);
      resolve(done());
    };
    const timer = setTimeout(finish, timeoutMs);
    // Without `stallMs` only `done` or the timeout end the wait (the probe: load deliveries,
    // which `lastDeliveryAt` tracks, have nothing to do with it).
    const stall = setInterval(() => {
      if (stallMs !== undefined && clock() - lastDeliveryAt > stallMs) finish();
    }, 250);
    const check = (): void => {
      if (done()) finish();
      else waiters.push(check);
    };
    check();
  });
}

function freshTally(): Tally {
  return {
    last: new Int32Array(networkSize),
    delivered: 0,
    duplicates: 0,
    skipped: 0,
    wrong: 0,
    probes: new Set(),
    probeLastAt: 0,
  };
}

function onBytes(local: number, fromId: string, data: Uint8Array): void {
  const at = clock();
  const t = tallies[local]!;
  if (data.length !== PAYLOAD_BYTES) {
    t.wrong++;
    return;
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const sentAt = view.getFloat64(0, true);
  const sender = view.getUint32(8, true);
  const seq = view.getUint32(12, true);
  if (sender >= networkSize || indexOf.get(fromId) !== sender || sender === globals[local]) {
    t.wrong++;
    return;
  }
  const last = t.last[sender]!;
  if (seq <= last) t.duplicates++;
  else {
    if (seq !== last + 1) t.skipped++;
    t.last[sender] = seq;
    t.delivered++;
    latencies.push(at - sentAt);
  }
  lastDeliveryAt = at;
  wake();
}

serve(
  {
    /** Starts one overlay node per global index in `indexes`; returns their IDs and ports. */
    start: async ({ indexes, maxPeers }: { indexes: number[]; maxPeers: number }) => {
      const started: { id: string; port: number }[] = [];
      for (const g of indexes) {
        const local = nodes.length;
        const n = new P2PNode({
          host: '127.0.0.1',
          port: 0,
          overlay: true,
          maxPeers,
          name: `o${g}`,
        });
        n.on('bytes', (m) => onBytes(local, m.from.id, m.data));
        n.on('chat', (m) => {
          const t = tallies[local];
          if (!t || !m.text.startsWith('probe ')) return;
          t.probes.add(m.text);
          t.probeLastAt = clock();
          wake();
        });
        n.on('overlay-report', (e) => {
          bump(reports, e.report.kind);
          if (reportSamples.length < MAX_SAMPLES && e.report.kind !== 'join-failed') {
            reportSamples.push(`node ${g}: ${describeReport(e.report)}`);
          }
        });
        n.on('error', (e) => bump(errors, e.error.code));
        nodes.push(n);
        globals.push(g);
        await n.start();
        started.push({ id: n.id, port: n.port });
      }
      return started;
    },
    /** The whole network's node IDs, by global index. */
    directory: ({ ids }: { ids: string[] }) => {
      networkSize = ids.length;
      indexOf.clear();
      ids.forEach((id, i) => indexOf.set(id, i));
      tallies.length = 0;
      for (let i = 0; i < nodes.length; i++) tallies.push(freshTally());
      sendSeq = nodes.map(() => 0);
      return null;
    },
    /**
     * Each local node bootstraps through its contact (`null`: none) and so joins the overlay;
     * returns at once. `bootstrap` retries a failed dial (1, 2, 4, 8, 16 s), as a node started
     * with the `bootstrap` option does; a contact given up on counts as an error.
     */
    join: ({ contacts }: { contacts: (string | null)[] }) => {
      contacts.forEach((address, i) => {
        if (address === null) return;
        nodes[i]!.bootstrap(address).catch((err: { code?: string }) => bump(errors, `bootstrap:${err.code}`));
      });
      return null;
    },
    /** Active-view sizes and members of every local node. */
    views: () =>
      nodes.map((n) => {
        const s = n.overlayStats()!;
        return { active: s.active, passive: s.passive.length, joined: s.joined };
      }),
    /** Resets the counters and starts measuring loop delay and CPU. */
    arm: () => {
      // Each phase numbers its broadcasts from 1 again, so the receivers' order check starts anew.
      sendSeq.fill(0);
      for (let i = 0; i < tallies.length; i++) tallies[i] = freshTally();
      latencies = [];
      reports.clear();
      reportSamples.length = 0;
      errors.clear();
      lag.disable();
      lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
      lag.enable();
      cpuAtArm = process.cpuUsage();
      schedAtArm = schedstat();
      return null;
    },
    /**
     * Broadcasts on a schedule shared by every process: item [offset, local] at `startAt + offset`
     * (shared clock). Resolves when all were sent, with the send failures.
     */
    schedule: async ({ startAt, items }: { startAt: number; items: [number, number][] }) => {
      let failed = 0;
      let late = 0;
      await Promise.all(
        items.map(
          ([offset, local]) =>
            new Promise<void>((resolve) => {
              setTimeout(
                () => {
                  const at = clock();
                  if (at - (startAt + offset) > 20) late++;
                  const seq = ++sendSeq[local]!;
                  const payload = new Uint8Array(PAYLOAD_BYTES);
                  const view = new DataView(payload.buffer);
                  view.setFloat64(0, at, true);
                  view.setUint32(8, globals[local]!, true);
                  view.setUint32(12, seq, true);
                  nodes[local]!.broadcastBytes(payload).then(
                    (report) => {
                      if (report.sent.length === 0) bump(errors, 'send:no-neighbour-took-it');
                      resolve();
                    },
                    (err: { code?: string }) => {
                      failed++;
                      bump(errors, `send:${err.code}`);
                      resolve();
                    },
                  );
                },
                Math.max(0, startAt + offset - clock()),
              );
            }),
        ),
      );
      return { sent: items.length, failed, late };
    },
    /**
     * Waits until local node i has delivered `expected[i]` load broadcasts, or nothing arrived
     * for `stallMs` (counted from this call at the earliest), or `timeoutMs`.
     */
    waitDelivered: async ({
      expected,
      timeoutMs,
      stallMs,
    }: {
      expected: number[];
      timeoutMs: number;
      stallMs: number;
    }) => {
      lastDeliveryAt = Math.max(lastDeliveryAt, clock());
      const complete = await until(
        () => tallies.every((t, i) => t.delivered >= expected[i]!),
        timeoutMs,
        stallMs,
      );
      return { complete };
    },
    /** Local node `local` broadcasts the chat `text`; returns the send time (shared clock) and how many neighbours took it. */
    probe: async ({ local, text }: { local: number; text: string }) => {
      const at = clock();
      const report = await nodes[local]!.broadcastMessage(text);
      return { at, sent: report.sent.length };
    },
    /** Waits until every local node but `except` has the probe `text`; returns the last arrival. */
    waitProbe: async ({ text, except, timeoutMs }: { text: string; except: number; timeoutMs: number }) => {
      const complete = await until(
        () => tallies.every((t, i) => i === except || t.probes.has(text)),
        timeoutMs,
      );
      const lastAt = Math.max(0, ...tallies.map((t, i) => (i === except ? 0 : t.probeLastAt)));
      const missing = tallies.filter((t, i) => i !== except && !t.probes.has(text)).length;
      return { complete, lastAt, missing };
    },
    /** Everything counted since `arm`: per node tallies, latencies (ms), loop lag (ms), CPU (s). */
    results: () => {
      lag.disable();
      const cpu = process.cpuUsage(cpuAtArm);
      const sched = schedstat();
      const lagMs = (ns: number): number => Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS);
      return {
        perNode: tallies.map((t) => ({
          delivered: t.delivered,
          duplicates: t.duplicates,
          skipped: t.skipped,
          wrong: t.wrong,
        })),
        latencies,
        lag: {
          p50: lagMs(lag.percentile(50)),
          p99: lagMs(lag.percentile(99)),
          max: lagMs(lag.max),
          samples: lag.count,
        },
        cpuS: (cpu.user + cpu.system) / 1e6,
        runQueueWaitS: sched && schedAtArm ? (sched.waitNs - schedAtArm.waitNs) / 1e9 : null,
        reports: Object.fromEntries(reports),
        reportSamples,
        errors: Object.fromEntries(errors),
        rssMiB: process.memoryUsage().rss / 2 ** 20,
      };
    },
    /** Overlay reports and errors counted so far (since start or the last `arm`), with samples. */
    counts: () => ({
      reports: Object.fromEntries(reports),
      errors: Object.fromEntries(errors),
      reportSamples,
    }),
    /** CPU seconds used by this process so far. */
    cpu: () => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1e6;
    },
  },
  async () => {
    lag.disable();
    await Promise.all(nodes.map((n) => n.close().catch(() => undefined)));
  },
);
