/**
 * The way back of shuffle walks: each node a SHUFFLE passes through remembers, per walk ID, the
 * neighbour it came from, so the SHUFFLE_REPLY retraces the walk over existing links instead of
 * opening a TLS connection to the origin (PROTOCOL.md O5). A walk may pass a node more than
 * once, so each walk keeps a short stack of previous hops, popped as the reply comes back.
 * Bounded in walks, in hops per walk and in time; a reply that finds no way back is sent straight
 * to the origin, as before.
 */
import type { PeerId, PeerInfo } from './types.js';

/** Most walks remembered at once (the oldest is forgotten first). */
export const MAX_WALK_ROUTES = 256;
/** Most visits of one walk remembered at one node. */
const MAX_VISITS = 8;

interface Route {
  /** Previous hops, the latest visit last. */
  prev: PeerId[];
  origin: PeerInfo;
  expires: number;
}

/** Walk ID → previous hops, for the replies still to come. */
export class WalkRoutes {
  readonly #routes = new Map<number, Route>();

  constructor(private readonly ttlMs: number) {}

  /** Number of walks remembered. */
  get size(): number {
    return this.#routes.size;
  }

  /** A walk passed through here, coming from `prev`. */
  remember(walk: number, prev: PeerId, origin: PeerInfo, now: number): void {
    const r = this.#routes.get(walk);
    if (r && r.origin.id === origin.id) {
      if (r.prev.length < MAX_VISITS) r.prev.push(prev);
      return;
    }
    if (!r && this.#routes.size >= MAX_WALK_ROUTES) {
      this.#routes.delete(this.#routes.keys().next().value!);
    }
    this.#routes.delete(walk);
    this.#routes.set(walk, { prev: [prev], origin, expires: now + this.ttlMs });
  }

  /**
   * The hop a reply to `walk` goes back to, and the walk's origin (to answer straight if that
   * hop is gone); undefined when the walk is not (or no longer) known here.
   */
  take(walk: number, now: number): { prev: PeerId; origin: PeerInfo } | undefined {
    const r = this.#routes.get(walk);
    if (!r) return undefined;
    const prev = r.prev.pop()!;
    if (r.prev.length === 0) this.#routes.delete(walk);
    if (r.expires < now) return undefined;
    return { prev, origin: r.origin };
  }

  /** Forgets walks whose reply is overdue. */
  expire(now: number): void {
    for (const [walk, r] of this.#routes) {
      if (r.expires >= now) return;
      this.#routes.delete(walk);
    }
  }
}
