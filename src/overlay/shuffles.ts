/**
 * HyParView's shuffles: a node periodically sends a sample of its views on a random walk; the
 * node where the walk ends answers with a sample of its passive view, and both keep what they
 * learn as backups. Replies retrace the walk over existing links (walk-routes.ts), and both
 * directions carry the size sketch. Split from hyparview.ts, which owns the views this reads
 * and the rest of the protocol (joins, neighbour requests, probes).
 */
import type { ResolvedOverlayOptions } from './options.js';
import type { PeerSet } from './peer-set.js';
import type { SizeSketch } from './size-estimate.js';
import type { ActionSink, OverlayMessage, PeerId, PeerInfo } from './types.js';
import { WalkRoutes } from './walk-routes.js';

type ShuffleMessage = Extract<OverlayMessage, { type: 'shuffle' }>;
type ShuffleReply = Extract<OverlayMessage, { type: 'shuffle-reply' }>;

/** What the shuffles need from membership. */
export interface ShuffleHost {
  readonly active: PeerSet;
  readonly passive: PeerSet;
  readonly sketch: SizeSketch;
  send(to: PeerInfo, message: OverlayMessage, out: ActionSink): void;
  /** Keeps `peers` as backups, evicting those in `evictFirst` first when the view is full. */
  integrate(peers: readonly PeerInfo[], evictFirst: readonly PeerId[]): void;
  /** Whether a request to `id` is pending (its connection must stay up). */
  isPending(id: PeerId): boolean;
  /** The length of the sketch we just sent (the outsider probes check the overlay's size). */
  sketchSent(length: number): void;
}

/** The shuffle state of one node (owned by its `HyParView`). */
export class Shuffles {
  /** IDs in our last shuffle: evicted first when the reply's peers need room. */
  #sent: PeerId[] = [];
  /** The way back of the shuffle walks that passed through here (walk-routes.ts). */
  readonly #routes: WalkRoutes;
  #walks = 0;
  readonly #ownHash: number;
  readonly #o: ResolvedOverlayOptions;
  readonly #host: ShuffleHost;

  constructor(options: ResolvedOverlayOptions, ownHash: number, host: ShuffleHost) {
    this.#o = options;
    this.#ownHash = ownHash;
    this.#host = host;
    this.#routes = new WalkRoutes(options.neighborTimeoutMs);
  }

  /** The IDs our last shuffle (or probe) offered. */
  get lastSent(): readonly PeerId[] {
    return this.#sent;
  }

  /** Forgets the ways back of walks that timed out. */
  expire(now: number): void {
    this.#routes.expire(now);
  }

  /** Starts a shuffle walk through a random neighbour. */
  shuffle(now: number, out: ActionSink): void {
    const target = this.#host.active.random(this.#o.random);
    if (target) this.shuffleTo(target, now, out);
  }

  /** Starts a shuffle walk through `target` (a neighbour). */
  shuffleTo(target: PeerInfo, now: number, out: ActionSink): void {
    const peers = this.peersFor(target.id);
    const sketch = this.#host.sketch.entries(now);
    // Re-checked here, where the entries are computed anyway: a big overlay pays nothing per tick.
    this.#host.sketchSent(sketch.length);
    this.#host.send(
      target,
      {
        type: 'shuffle',
        walk: this.#nextWalk(),
        origin: this.#o.self,
        ttl: this.#o.shuffleWalkLength,
        peers,
        sketch,
      },
      out,
    );
  }

  /** The sample a shuffle to `target` offers: ourselves, some neighbours and some backups. */
  peersFor(target: PeerId): PeerInfo[] {
    const r = this.#o.random;
    const peers = [
      this.#o.self,
      ...this.#host.active.sample(r, this.#o.shuffleActive, (id) => id === target),
      ...this.#host.passive.sample(r, this.#o.shufflePassive),
    ];
    this.#sent = peers.map((p) => p.id);
    return peers;
  }

  /** A shuffle walk reached us: pass it on, or answer it here. */
  onShuffle(from: PeerId, msg: ShuffleMessage, now: number, out: ActionSink): void {
    const { origin, ttl, peers } = msg;
    const host = this.#host;
    if (origin.id === this.#o.self.id) return;
    if (ttl > 1 && host.active.size > 1) {
      const next = host.active.random(this.#o.random, (id) => id === from || id === origin.id);
      if (next) {
        host.sketch.merge(msg.sketch, now);
        if (msg.walk !== 0) this.#routes.remember(msg.walk, from, origin, now);
        host.send(next, { ...msg, ttl: ttl - 1 }, out);
        return;
      }
    }
    // Answer from the passive view, topped up from the active view when it is short (a small
    // network keeps everyone active and would otherwise teach the origin nothing).
    const reply = host.passive.sample(this.#o.random, peers.length, (id) => id === origin.id);
    if (reply.length < peers.length) {
      const more = host.active.sample(this.#o.random, peers.length - reply.length, (id) => id === origin.id);
      reply.push(...more);
    }
    // The reply retraces the walk (walk-routes.ts): it goes to the hop the shuffle came from,
    // over that link, never over a new connection to the origin. A probe comes straight from
    // its origin over the connection the reply goes back on.
    const back = from === origin.id ? origin : (host.active.get(from) ?? { id: from, address: '' });
    host.send(
      back,
      { type: 'shuffle-reply', walk: msg.walk, peers: reply, sketch: host.sketch.entries(now) },
      out,
    );
    // A re-join probe (one step, straight from a non-neighbour) only compares sketches: merging
    // them would make two split halves look alike without any link between them, and the next
    // probes would keep them so. Its connection stays up: the prober may ask to become a
    // neighbour on it next (it closes it otherwise).
    const probe = from === origin.id && !host.active.has(from);
    if (!probe) host.sketch.merge(msg.sketch, now);
    host.integrate(
      peers,
      reply.map((p) => p.id),
    );
  }

  /**
   * Passes a reply to a walk that went through here back to the hop it came from; true when
   * handled. Should that hop no longer be a neighbour, the reply goes straight to the origin (a
   * short-lived connection, as every reply did before the walks were retraced).
   */
  forwardReply(msg: ShuffleReply, now: number, out: ActionSink): boolean {
    const route = this.#routes.take(msg.walk, now);
    if (!route) return false;
    const prev = this.#host.active.get(route.prev);
    if (prev) {
      this.#host.send(prev, msg, out);
      return true;
    }
    // A walk that came back through its origin: the reply is ours, whichever hop is gone.
    if (route.origin.id === this.#o.self.id) return false;
    if (route.origin.address === '') return true;
    this.#host.send(route.origin, msg, out);
    if (!this.#host.active.has(route.origin.id) && !this.#host.isPending(route.origin.id)) {
      out.push({ type: 'disconnect', peer: route.origin.id });
    }
    return true;
  }

  /**
   * A non-zero u32 for our next walk, unlikely to equal another origin's walks in flight: our ID
   * hash plus a counter (no draw from `random`, so runs keep their random sequence).
   */
  #nextWalk(): number {
    this.#walks++;
    return (this.#ownHash + Math.imul(this.#walks, 0x9e3779b9)) >>> 0 || 1;
  }
}
