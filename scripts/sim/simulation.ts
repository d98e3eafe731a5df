/**
 * The overlay simulator: N overlay cores in one process on a virtual clock, linked by in-memory
 * links with a fixed per-link latency (so links stay FIFO, like TCP) and optional frame loss.
 * Everything random comes from the seed, so the same options give the same output.
 *
 * Timeline: node i joins at i × joinSpacingMs through a random earlier node; after a warm-up,
 * `messages` broadcasts start from random live nodes every `intervalMs`; with `kill`, that
 * fraction of the nodes dies at once halfway through; then the run settles and is measured.
 */
import { MeshwireError } from '../../src/errors.js';
import type { OverlayAction, OverlayTimer } from '../../src/overlay/index.js';
import { countComponentsOf } from './components.js';
import { linkLatency } from './latency.js';
import { countDelivery, FRAME_INDEX, newCounters, summarize } from './measure.js';
import { estimateSummary } from '../../src/overlay/size-estimate.js';
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
import { seededRandom } from './rng.js';
import { stubSigner, stubVerifier } from './stub-signer.js';
import { runPlan } from './run-plan.js';
import type { SimOptions, SimResult } from './types.js';

export type { SimOptions, SimResult };

export { stubSigner, stubVerifier };

/** Checks the options of the parallel engine; throws ERR_INVALID_OPTION naming the bad one. */
function checkThreads(opts: SimOptions): number {
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'simulator option threads must be an integer in 1..64');
  }
  if (threads === 1) return 1;
  if (!((opts.latency?.[0] ?? 5) > 0)) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      'simulator option threads > 1 needs latency[0] > 0 (the window the workers run in without exchanging events)',
    );
  }
  if (opts.inspect !== undefined || opts.onReport !== undefined) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      'simulator options inspect and onReport need threads 1 (the cores live in worker threads)',
    );
  }
  if (opts.partition !== undefined && opts.partition !== 'modulo' && opts.partition !== 'range') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'simulator option partition must be modulo or range');
  }
  return threads;
}

/**
 * Runs one simulation on `opts.threads` threads (default 1: `runSimulation`; more: the
 * parallel engine of `parallel.ts`, in worker threads).
 */
export async function simulate(opts: SimOptions): Promise<SimResult> {
  if (checkThreads(opts) === 1) return runSimulation(opts);
  const { runSimulationParallel } = await import('./parallel.js');
  return runSimulationParallel(opts);
}

/** Runs one simulation to completion on this thread (`threads` must be 1: see `simulate`). */
export function runSimulation(opts: SimOptions): SimResult {
  if (checkThreads(opts) !== 1) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      'simulator option threads > 1 needs simulate(), not runSimulation()',
    );
  }
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const plan = runPlan(opts);
  const { N, M, seed, protocol, latMin, latMax, loss, lossAll, interval, joinSpacing } = plan;
  const { killFraction, checkOrder, senderCount, tStart, killIndex, tKill, tEnd } = plan;
  const rng = seededRandom(seed);
  const netRng = seededRandom(seed ^ 0x5bd1e995);

  const ids = simIds(N);
  const index = new Map(ids.map((id, i) => [id, i]));
  const alive = new Uint8Array(N).fill(1);
  const nodes = ids.map((id, i) => simCore(i, id, opts.overlay, seed, protocol));

  const senderPool = drawSenderPool(rng, N, senderCount);

  const latency = linkLatency(N, [latMin, latMax], opts.latencyModel ?? 'coordinates', rng, seed);

  // Metrics.
  const c = newCounters(N, M);
  const { copies, byType, reports } = c;
  const senderOf = new Int32Array(M).fill(-1);
  const sentAt = new Float64Array(M);
  const lastSeq: (Map<string, number> | null)[] = checkOrder ? ids.map(() => new Map()) : [];
  const timersByKind = c.timersByKind as Record<OverlayTimer['kind'], number>;

  let killed = 0;
  let components2s: number | null = null;
  let repairMs: number | null = null;

  const queue = new EventQueue<EventRef>(tEnd, { byNode: true });
  const schedule = (t: number, k: number, n: number, f: number, m: EventRef | null): void => {
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
          // Timers fire on whole milliseconds (a driver may hand a timer back late, never early):
          // the clock then only holds integers, which V8 keeps unboxed in the cores' state, and
          // every queue bucket is in time order.
          const at = Math.ceil(act.at);
          schedule(at > now ? at : now, K_TIMER, i, -1, act.timer);
          break;
        }
        case 'deliver':
          countDelivery(c, msgIndex(act.message), act.message, i, N, checkOrder ? lastSeq[i]! : null);
          break;
        case 'report':
          reports[act.report.kind] = (reports[act.report.kind] ?? 0) + 1;
          // A node whose join got no answer tries another contact a second later, as the real
          // node's bootstrap does.
          if (act.report.kind === 'join-failed') schedule(now + 1000, K_JOIN, i, -1, null);
          opts.onReport?.(i, act.report, now);
          break;
        default:
          break; // disconnect, neighbor-up/down: links are implicit in the simulator
      }
    }
    out.length = 0;
  };

  const countComponents = (): number => countComponentsOf(nodes, alive, index);

  // Script the run.
  nodes[0]!.start(0, out);
  perform(0, 0);
  for (let i = 1; i < N; i++) schedule(i * joinSpacing, K_JOIN, i, Math.floor(rng() * i), null);
  for (let k = 0; k < M; k++) schedule(tStart + k * interval, K_BROADCAST, -1, k, null);
  if (killFraction > 0) schedule(tKill, K_KILL, -1, -1, null);

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
  while (queue.pop()) {
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
          // A retry: until some contact accepted our join, through any live node.
          if (nodes[i]!.membership.joined) break;
          do contact = Math.floor(rng() * N);
          while (contact === i || !alive[contact]);
        }
        nodes[i]!.join({ id: ids[contact]!, address: ids[contact]! }, now, out);
        perform(i, now);
        if (i === N - 1 && evF >= 0) opts.progress?.({ event: 'joined', t: now, events: c.events });
        break;
      }
      case K_BROADCAST: {
        const k = evF;
        const sender = drawSender(rng, senderPool, alive);
        if (k > 0 && k % 250 === 0)
          opts.progress?.({ event: 'broadcasts', t: now, sent: k, events: c.events });
        senderOf[k] = sender;
        sentAt[k] = now;
        sendBroadcast(nodes[sender]!, k, now, out, reports);
        perform(sender, now);
        break;
      }
      case K_KILL: {
        const want = Math.floor(N * killFraction);
        killed = killRandom(rng, alive, killed, want);
        // Every live node connected to a dead one sees its connection reset.
        for (let x = 0; x < N; x++) {
          if (!alive[x]) continue;
          const st = nodes[x]!.membership;
          for (const p of [...st.active.ids(), ...st.pendingIds()]) {
            const j = index.get(p)!;
            if (!alive[j]) schedule(now + latency(x, j), K_DOWN, x, j, null);
          }
        }
        opts.progress?.({ event: 'kill', t: now, killed, components: countComponents() });
        for (let d = 250; d <= 10_000; d += 250) schedule(now + d, K_PROBE, -1, d, null);
        break;
      }
      case K_PROBE: {
        if (repairMs !== null && evF > 2000) break;
        const c = countComponents();
        if (evF === 2000) components2s = c;
        if (c === 1 && repairMs === null) repairMs = evF;
        break;
      }
    }
  }

  opts.inspect?.(nodes, alive);
  return summarize(
    {
      protocol,
      nodes: N,
      messages: M,
      senders: senderCount,
      seed,
      latency: [latMin, latMax],
      loss,
      killFraction,
      killed,
      killIndex,
      alive,
      senderOf,
      sentAt,
      components: countComponents(),
      components2s,
      repairMs,
      sizeEstimate: estimateSummary(nodes, alive),
      now,
      started,
      cpuStarted,
    },
    c,
  );
}
