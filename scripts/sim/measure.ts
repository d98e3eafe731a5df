/**
 * Turns a run's counters into the result line. Shared by the single-threaded engine and the
 * parallel one (whose coordinator first merges the workers' counters into one `RunCounters`).
 */
import type { BroadcastMode, GossipMessage } from '../../src/overlay/index.js';
import type { SimResult } from './types.js';

/** Frame types counted in `frames_by_type`, in the order they are reported. */
export const FRAME_TYPES = [
  'join',
  'forward-join',
  'neighbor',
  'disconnect',
  'shuffle',
  'shuffle-reply',
  'gossip',
  'ihave',
  'graft',
  'prune',
] as const;

/** Index of each frame type in `RunCounters.byType`. */
export const FRAME_INDEX = new Map<string, number>(FRAME_TYPES.map((t, i) => [t, i]));

/** What an engine counts during a run (per worker in the parallel engine, then merged). */
export interface RunCounters {
  /** Per message: deliveries, payload copies received, most hops of a delivery. */
  deliveries: Uint32Array;
  copies: Uint32Array;
  maxHop: Uint8Array;
  /** Bit k × N + i: message k delivered at node i. */
  delivered: Uint8Array;
  duplicates: number;
  orderViolations: number;
  frames: number;
  framesLost: number;
  events: number;
  /** Frames sent, by `FRAME_INDEX`. */
  byType: Float64Array;
  reports: Record<string, number>;
  timersByKind: Record<string, number>;
}

/** Fresh zeroed counters for `n` nodes and `m` messages. */
export function newCounters(n: number, m: number): RunCounters {
  return {
    deliveries: new Uint32Array(m),
    copies: new Uint32Array(m),
    maxHop: new Uint8Array(m),
    delivered: new Uint8Array(Math.ceil((n * m) / 8)),
    duplicates: 0,
    orderViolations: 0,
    frames: 0,
    framesLost: 0,
    events: 0,
    byType: new Float64Array(FRAME_TYPES.length),
    reports: {},
    timersByKind: { tick: 0, ihave: 0, graft: 0, gap: 0 },
  };
}

/**
 * Counts node `i`'s delivery of `m` (message number `k`, of a run of `n` nodes): a second
 * delivery of the same message is a duplicate, and with `lastSeq` (the node's last delivered
 * sequence number per sender; null when order is not checked) an out-of-order one a violation.
 */
export function countDelivery(
  c: RunCounters,
  k: number,
  m: GossipMessage,
  i: number,
  n: number,
  lastSeq: Map<string, number> | null,
): void {
  const bit = k * n + i;
  if (c.delivered[bit >> 3]! & (1 << (bit & 7))) {
    c.duplicates++;
    return;
  }
  c.delivered[bit >> 3]! |= 1 << (bit & 7);
  c.deliveries[k]!++;
  if (m.hops > c.maxHop[k]!) c.maxHop[k] = m.hops;
  if (lastSeq) {
    if (m.seq <= (lastSeq.get(m.sender) ?? 0)) c.orderViolations++;
    lastSeq.set(m.sender, m.seq);
  }
}

/** Adds `b` into `a` (sums, max of hops, OR of the delivered bits). */
export function mergeCounters(a: RunCounters, b: RunCounters): void {
  for (let k = 0; k < a.deliveries.length; k++) {
    a.deliveries[k]! += b.deliveries[k]!;
    a.copies[k]! += b.copies[k]!;
    if (b.maxHop[k]! > a.maxHop[k]!) a.maxHop[k] = b.maxHop[k]!;
  }
  for (let x = 0; x < a.delivered.length; x++) a.delivered[x]! |= b.delivered[x]!;
  a.duplicates += b.duplicates;
  a.orderViolations += b.orderViolations;
  a.frames += b.frames;
  a.framesLost += b.framesLost;
  a.events += b.events;
  for (let x = 0; x < a.byType.length; x++) a.byType[x]! += b.byType[x]!;
  for (const [k, v] of Object.entries(b.reports)) a.reports[k] = (a.reports[k] ?? 0) + v;
  for (const [k, v] of Object.entries(b.timersByKind)) a.timersByKind[k] = (a.timersByKind[k] ?? 0) + v;
}

/** Everything `summarize` needs besides the counters. */
export interface RunOutcome {
  protocol: BroadcastMode;
  nodes: number;
  messages: number;
  senders: number;
  seed: number;
  latency: [number, number];
  loss: number;
  killFraction: number;
  killed: number;
  /** First message sent after the kill (`messages` without a kill). */
  killIndex: number;
  alive: Uint8Array;
  /** Per message: its sender's index (-1: never sent) and when it was sent. */
  senderOf: Int32Array;
  sentAt: Float64Array;
  components: number;
  components2s: number | null;
  repairMs: number | null;
  sizeEstimate: SimResult['size_estimate'];
  /** Virtual ms at the end. */
  now: number;
  /** `performance.now()` and `process.cpuUsage()` at the start. */
  started: number;
  cpuStarted: NodeJS.CpuUsage;
}

function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The result line of a run. */
export function summarize(o: RunOutcome, c: RunCounters): SimResult {
  const N = o.nodes;
  const M = o.messages;
  const { alive, senderOf, sentAt } = o;
  let pairs = 0;
  let got = 0;
  let pairsAfter = 0;
  let gotAfter = 0;
  let copiesAll = 0;
  let delivAll = 0;
  let copiesSettled = 0;
  let delivSettled = 0;
  let survivors = 0;
  for (let i = 0; i < N; i++) survivors += alive[i]!;
  const hops: number[] = [];
  const undelivered: SimResult['undelivered'] = [];
  for (let k = 0; k < M; k++) {
    const s = senderOf[k]!;
    if (s < 0) continue;
    let receivers = survivors - (alive[s] ? 1 : 0);
    let d = 0;
    for (let i = 0; i < N; i++) {
      if (!alive[i] || i === s) continue;
      const bit = k * N + i;
      if (c.delivered[bit >> 3]! & (1 << (bit & 7))) d++;
      else if (undelivered.length < 5)
        undelivered.push({ message: k, sender: `n${s}`, node: `n${i}`, at: sentAt[k]! });
    }
    if (receivers < 0) receivers = 0;
    pairs += receivers;
    got += d;
    if (k >= o.killIndex || o.killFraction === 0) {
      pairsAfter += receivers;
      gotAfter += d;
    }
    copiesAll += c.copies[k]!;
    delivAll += c.deliveries[k]!;
    if (k >= M / 2) {
      copiesSettled += c.copies[k]!;
      delivSettled += c.deliveries[k]!;
    }
    hops.push(c.maxHop[k]!);
  }
  hops.sort((a, b) => a - b);
  const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;
  const cpu = process.cpuUsage(o.cpuStarted);
  return {
    protocol: o.protocol,
    nodes: N,
    messages: M,
    senders: o.senders,
    killed: o.killed,
    seed: o.seed,
    latency: `${o.latency[0]}-${o.latency[1]}`,
    loss: o.loss,
    delivered: round(pairs === 0 ? 1 : got / pairs, 6),
    delivered_after_kill: round(pairsAfter === 0 ? 1 : gotAfter / pairsAfter, 6),
    rmr: round(delivAll === 0 ? 0 : copiesAll / delivAll - 1),
    rmr_settled: round(delivSettled === 0 ? 0 : copiesSettled / delivSettled - 1),
    ldh_p50: percentile(hops, 50),
    ldh_p99: percentile(hops, 99),
    ldh_max: hops[hops.length - 1] ?? 0,
    components: o.components,
    components_2s: o.components2s,
    size_estimate: o.sizeEstimate,
    repair_ms: o.killFraction > 0 ? o.repairMs : null,
    undelivered,
    duplicates: c.duplicates,
    order_violations: c.orderViolations,
    frames: c.frames,
    frames_lost: c.framesLost,
    frames_by_type: Object.fromEntries(
      FRAME_TYPES.flatMap((t, x) => (c.byType[x]! > 0 ? [[t, c.byType[x]!] as const] : [])),
    ),
    reports: c.reports,
    events: c.events,
    timers_by_kind: c.timersByKind as SimResult['timers_by_kind'],
    virtual_s: round(o.now / 1000, 3),
    wall_s: round((performance.now() - o.started) / 1000, 2),
    cpu_s: round((cpu.user + cpu.system) / 1e6, 2),
    rss_mb: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}
