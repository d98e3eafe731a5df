/**
 * One partition of the parallel simulator: the engine of `simulation.ts` for the nodes this
 * worker owns, run in windows of `latency[0]` virtual ms. No frame or connection failure
 * reaches another node sooner than that, so everything a window sends to another partition
 * arrives in a later window: each partition runs its events before the window's end, swaps
 * the events it scheduled for the others (`WindowSync`), queues the ones it got, and goes on.
 *
 * Determinism: every partition makes the script's draws from the global stream in the same
 * order (the joins, the broadcasts' senders, the kill; they depend only on `alive`, which the
 * kill changes the same way everywhere), a join retry draws from a stream of its own (node,
 * time), frame loss from the partition's own stream, and received events are queued in the
 * order their partition sent them, partition by partition. Same seed and thread count, same run.
 */
import type { Overlay } from '../../src/overlay/index.js';
import type { OverlayAction, OverlayMessage, OverlayTimer } from '../../src/overlay/index.js';
import { CrossWriter, readBatch, spareOf } from './cross-codec.js';
import { PayloadIntern } from './payload-intern.js';
import type { CrossBatch } from './cross-codec.js';
import { linkLatency } from './latency.js';
import { countDelivery, FRAME_INDEX, newCounters } from './measure.js';
import type { RunCounters } from './measure.js';
import { EventQueue } from './queue.js';
import { drawSender, drawSenderPool, killRandom, sendBroadcast } from './script-draws.js';
import {
  K_BROADCAST,
  K_DOWN,
  K_JOIN,
  K_KILL,
  K_MESSAGE,
  K_PROBE,
  K_TIMER,
  msgIndex,
  nodeEventRunner,
  simCore,
} from './node-events.js';
import type { EventRef } from './node-events.js';
import { indexOfId, simIds } from './ids.js';
import { mix3, seededRandom } from './rng.js';
import { runPlan } from './run-plan.js';
import type { SimOptions } from './types.js';
import type { WindowSync } from './window-sync.js';

/** The options a worker gets: `SimOptions` without the callbacks. */
export type PartitionOptions = Omit<SimOptions, 'inspect' | 'onReport' | 'progress'>;

/** What a partition reports while it runs (to the coordinator). */
export type PartitionPost =
  | { type: 'progress'; record: Record<string, unknown> }
  /** Active views of this partition's live nodes at `d` ms after the kill (0: at the kill). */
  | { type: 'probe'; d: number; t: number; part: number; views: Int32Array };

/** What a partition hands back at the end. */
export interface PartitionResult {
  part: number;
  counters: RunCounters;
  alive: Uint8Array;
  senderOf: Int32Array;
  sentAt: Float64Array;
  killed: number;
  killIndex: number;
  senders: number;
  /** Time of the last event run. */
  now: number;
  /** Final active views of this partition's live nodes (see `viewsOf`). */
  views: Int32Array;
  /** Size estimate of each live node of this partition; NaN elsewhere. */
  estimates: Float64Array;
  windows: number;
  waitedMs: number;
}

/** Which partition owns node `i`: `modulo` (i mod threads) or `range` (contiguous blocks). */
export function ownerOf(i: number, n: number, threads: number, partition: 'modulo' | 'range'): number {
  return partition === 'modulo' ? i % threads : Math.floor((i * threads) / n);
}

/** Runs partition `part` of `threads` to the end of the run. */
export function runPartition(
  opts: PartitionOptions,
  part: number,
  threads: number,
  partition: 'modulo' | 'range',
  sync: WindowSync,
  post: (m: PartitionPost) => void,
): PartitionResult {
  const plan = runPlan(opts);
  const { N, M, seed, protocol, latMin, latMax, loss, lossAll, interval, joinSpacing } = plan;
  const { killFraction, checkOrder, senderCount, tStart, killIndex, tKill, tEnd } = plan;
  const rng = seededRandom(seed);
  // Each partition loses frames from its own stream: deterministic per partition.
  const netRng = seededRandom(mix3(part, 0x5bd1e995, seed));

  const owner = new Uint8Array(N);
  for (let i = 0; i < N; i++) owner[i] = ownerOf(i, N, threads, partition);
  const ids = simIds(N);
  const alive = new Uint8Array(N).fill(1);
  // Only this partition's cores are built, in index order (so they sit in memory in that order).
  const nodes = new Array<Overlay | undefined>(N).fill(undefined);
  for (let i = 0; i < N; i++) {
    if (owner[i] !== part) continue;
    nodes[i] = simCore(i, ids[i]!, opts.overlay, seed, protocol);
  }

  // The global draws, in simulation.ts's order.
  const senderPool = drawSenderPool(rng, N, senderCount);
  const latency = linkLatency(N, [latMin, latMax], opts.latencyModel ?? 'coordinates', rng, seed);

  const c = newCounters(N, M);
  const { copies, byType, reports } = c;
  const timersByKind = c.timersByKind as Record<OverlayTimer['kind'], number>;
  const senderOf = new Int32Array(M).fill(-1);
  const sentAt = new Float64Array(M);
  const lastSeq: (Map<string, number> | null)[] = new Array<Map<string, number> | null>(N).fill(null);
  if (checkOrder) for (let i = 0; i < N; i++) if (owner[i] === part) lastSeq[i] = new Map();

  let killed = 0;

  const queue = new EventQueue<EventRef>(tEnd, { byNode: true });
  const intern = new PayloadIntern();
  /** Buffers of the batch each partition sent last, to hand back to it with the next batch. */
  const back = new Array<CrossBatch['spare']>(threads).fill(null);
  const writers = Array.from({ length: threads }, (_, q) => (q === part ? null : new CrossWriter(N)));
  let windowEnd = latMin;
  /** Schedules an event for node n, here or in n's partition. */
  const schedule = (t: number, k: number, n: number, f: number, m: EventRef | null): void => {
    if (n < 0 || owner[n] === part) {
      queue.push(t, k, n, f, m);
      return;
    }
    if (t < windowEnd)
      throw new Error(`event for another partition at ${t}, inside the window ending ${windowEnd}`);
    if (t <= tEnd) writers[owner[n]!]!.add(t, k, n, f, m as OverlayMessage | null);
  };
  const pushReceived = (t: number, k: number, n: number, f: number, m: OverlayMessage | null): void => {
    queue.push(t, k, n, f, m);
  };

  const out: OverlayAction[] = [];
  const perform = (i: number, now: number): void => {
    for (let a = 0; a < out.length; a++) {
      const act = out[a]!;
      switch (act.type) {
        case 'send': {
          const j = indexOfId(act.to);
          if (j < 0 || j >= N) break;
          c.frames++;
          byType[FRAME_INDEX.get(act.message.type)!]!++;
          const t = act.message.type;
          const lossy = lossAll || t === 'gossip' || t === 'ihave' || t === 'graft' || t === 'prune';
          if (loss > 0 && lossy && netRng() < loss) {
            c.framesLost++;
            break;
          }
          schedule(now + latency(i, j), K_MESSAGE, j, i, act.message);
          break;
        }
        case 'timer': {
          const at = Math.ceil(act.at); // whole milliseconds, as in simulation.ts
          schedule(at > now ? at : now, K_TIMER, i, -1, act.timer);
          break;
        }
        case 'deliver':
          countDelivery(c, msgIndex(act.message), act.message, i, N, checkOrder ? lastSeq[i]! : null);
          break;
        case 'report':
          reports[act.report.kind] = (reports[act.report.kind] ?? 0) + 1;
          if (act.report.kind === 'join-failed') schedule(now + 1000, K_JOIN, i, -1, null);
          break;
        default:
          break;
      }
    }
    out.length = 0;
  };

  /** This partition's live nodes' active views: [node, count, peer...] per node. */
  const viewsOf = (): Int32Array => {
    const v: number[] = [];
    for (let i = 0; i < N; i++) {
      if (owner[i] !== part || !alive[i]) continue;
      const at = v.length;
      v.push(i, 0);
      for (const p of nodes[i]!.membership.active.values()) v.push(indexOfId(p.id));
      v[at + 1] = v.length - at - 2;
    }
    return Int32Array.from(v);
  };

  // Script the run: every partition makes every draw, and keeps the events of its own nodes.
  if (owner[0] === part) {
    nodes[0]!.start(0, out);
    perform(0, 0);
  }
  for (let i = 1; i < N; i++) {
    const contact = Math.floor(rng() * i);
    if (owner[i] === part) queue.push(i * joinSpacing, K_JOIN, i, contact, null);
  }
  for (let k = 0; k < M; k++) queue.push(tStart + k * interval, K_BROADCAST, -1, k, null);
  if (killFraction > 0) queue.push(tKill, K_KILL, -1, -1, null);

  const runNodeEvent = nodeEventRunner({
    nodes,
    ids,
    alive,
    out,
    copies,
    timersByKind,
    perform,
    schedule,
    latency,
  });
  let now = 0;
  const windows = Math.floor(tEnd / latMin) + 1;
  for (let w = 1; w <= windows; w++) {
    windowEnd = w * latMin;
    while (queue.nextTime() < windowEnd && queue.pop()) {
      now = queue.time;
      const evF = queue.from;
      const evM = queue.ref;
      const evK = queue.kind;
      const i = queue.node;
      c.events++;
      if (runNodeEvent(evK, i, evF, evM, now)) continue;
      switch (evK) {
        case K_JOIN: {
          if (!alive[i]) break;
          let contact = evF;
          if (contact < 0) {
            // A retry draws from a stream of its own (node, time), not the global one: the
            // other partitions do not see this node's join fail.
            if (nodes[i]!.membership.joined) break;
            const r = seededRandom(mix3(i, Math.floor(now), seed ^ 0x2545f491));
            do contact = Math.floor(r() * N);
            while (contact === i || !alive[contact]);
          }
          nodes[i]!.join({ id: ids[contact]!, address: ids[contact]! }, now, out);
          perform(i, now);
          if (i === N - 1 && evF >= 0)
            post({ type: 'progress', record: { event: 'joined', t: now, events: c.events } });
          break;
        }
        case K_BROADCAST: {
          const k = evF;
          const sender = drawSender(rng, senderPool, alive);
          if (part === 0 && k > 0 && k % 250 === 0) {
            post({ type: 'progress', record: { event: 'broadcasts', t: now, sent: k, events: c.events } });
          }
          senderOf[k] = sender;
          sentAt[k] = now;
          if (owner[sender] !== part) break;
          sendBroadcast(nodes[sender]!, k, now, out, reports);
          perform(sender, now);
          break;
        }
        case K_KILL: {
          const want = Math.floor(N * killFraction);
          killed = killRandom(rng, alive, killed, want);
          for (let x = 0; x < N; x++) {
            if (owner[x] !== part || !alive[x]) continue;
            const st = nodes[x]!.membership;
            for (const p of [...st.active.ids(), ...st.pendingIds()]) {
              const j = indexOfId(p);
              if (!alive[j]) queue.push(now + latency(x, j), K_DOWN, x, j, null);
            }
          }
          post({ type: 'probe', d: 0, t: now, part, views: viewsOf() });
          for (let d = 250; d <= 10_000; d += 250) queue.push(now + d, K_PROBE, -1, d, null);
          break;
        }
        case K_PROBE:
          post({ type: 'probe', d: evF, t: now, part, views: viewsOf() });
          break;
      }
    }
    const batches = writers.map((x, q) => {
      if (x === null) return null;
      const b = x.take();
      b.spare = back[q]!;
      back[q] = null;
      return b;
    });
    const got = sync.exchange(w, batches);
    for (let q = 0; q < threads; q++) {
      const b = got[q];
      if (!b) continue;
      writers[q]!.recycle(b.spare);
      readBatch(b, ids, pushReceived, intern);
      back[q] = spareOf(b);
    }
  }

  const estimates = new Float64Array(N).fill(NaN);
  for (let i = 0; i < N; i++)
    if (owner[i] === part && alive[i]) estimates[i] = nodes[i]!.membership.sizeEstimate();
  return {
    part,
    counters: c,
    alive,
    senderOf,
    sentAt,
    killed,
    killIndex,
    senders: senderCount,
    now,
    views: viewsOf(),
    estimates,
    windows,
    waitedMs: sync.waitedMs,
  };
}
