/**
 * What both simulator engines share about nodes and events: how a node's core is built, the
 * event kinds, and how the three that go to a node's core (a frame arriving, a timer, a
 * connection failing) are run.
 */
import { Overlay } from '../../src/overlay/index.js';
import type {
  BroadcastMode,
  GossipMessage,
  OverlayAction,
  OverlayMessage,
  OverlayOptions,
  OverlayTimer,
} from '../../src/overlay/index.js';
import { mix3, seededRandom } from './rng.js';
import { stubSigner, stubVerifier } from './stub-signer.js';

export const K_MESSAGE = 0;
export const K_TIMER = 1;
export const K_DOWN = 2;
export const K_JOIN = 3;
export const K_BROADCAST = 4;
export const K_KILL = 5;
export const K_PROBE = 6;

/** An event's reference: the message (K_MESSAGE) or the timer (K_TIMER). */
export type EventRef = OverlayMessage | OverlayTimer;

/** The broadcast number the simulator writes into the first 4 bytes of every payload. */
export function msgIndex(m: GossipMessage): number {
  const p = m.payload;
  return p[0]! | (p[1]! << 8) | (p[2]! << 16) | (p[3]! << 24);
}

/** What running a node's event needs from its engine. */
export interface NodeEventHost {
  readonly nodes: readonly (Overlay | undefined)[];
  readonly ids: readonly string[];
  readonly alive: Uint8Array;
  readonly out: OverlayAction[];
  /** Payload copies received, per broadcast. */
  readonly copies: Uint32Array;
  readonly timersByKind: Record<OverlayTimer['kind'], number>;
  /** Performs (and clears) the actions node `i` pushed to `out`. */
  perform(i: number, now: number): void;
  schedule(t: number, k: number, n: number, f: number, m: EventRef | null): void;
  latency(a: number, b: number): number;
}

/**
 * Returns the runner of K_MESSAGE, K_TIMER and K_DOWN events at node `i`: false for any other
 * kind (the engine's own). One event object per kind, refilled each time: the cores keep no
 * reference to it.
 */
export function nodeEventRunner(
  h: NodeEventHost,
): (kind: number, i: number, from: number, ref: EventRef | null, now: number) => boolean {
  const { nodes, ids, alive, out, copies, timersByKind } = h;
  const messageEvent = { type: 'message' as const, from: '', message: null as unknown as OverlayMessage };
  const timerEvent = { type: 'timer' as const, timer: null as unknown as OverlayTimer };
  const downEvent = { type: 'peer-down' as const, peer: '' };
  return (kind, i, from, ref, now) => {
    switch (kind) {
      case K_MESSAGE: {
        if (!alive[i]) {
          // The connection is refused or reset: the sender learns after a round trip.
          if (alive[from]) h.schedule(now + h.latency(i, from), K_DOWN, from, i, null);
          return true;
        }
        const m = ref as OverlayMessage;
        if (m.type === 'gossip') copies[msgIndex(m)]!++;
        messageEvent.from = ids[from]!;
        messageEvent.message = m;
        nodes[i]!.handle(messageEvent, now, out);
        h.perform(i, now);
        return true;
      }
      case K_TIMER:
        if (!alive[i]) return true;
        timersByKind[(ref as OverlayTimer).kind]++;
        timerEvent.timer = ref as OverlayTimer;
        nodes[i]!.handle(timerEvent, now, out);
        h.perform(i, now);
        return true;
      case K_DOWN:
        if (!alive[i]) return true;
        downEvent.peer = ids[from]!;
        nodes[i]!.handle(downEvent, now, out);
        h.perform(i, now);
        return true;
      default:
        return false;
    }
  };
}

/** The overlay core of simulated node `i`, as both engines build it. */
export function simCore(
  i: number,
  id: string,
  overlay: Partial<OverlayOptions> | undefined,
  seed: number,
  mode: BroadcastMode,
): Overlay {
  return new Overlay({
    maxPeers: 10,
    // A lost frame is noticed only by this timeout here (a real connection that breaks is
    // noticed at once), so the simulator uses a shorter one than the node's 10 s.
    neighborTimeoutMs: 2000,
    ...overlay,
    self: { id, address: id },
    signer: stubSigner,
    verifier: stubVerifier,
    random: seededRandom(mix3(i, 7, seed)),
    mode,
  });
}
