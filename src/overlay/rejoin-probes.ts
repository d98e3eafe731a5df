/**
 * The re-join probes of membership: how two halves of a healed partition find each other again
 * (README "How big networks work", "Partitions"). Every `rejoinIntervalMs` (jittered) a node
 * sends a one-step SHUFFLE to a known node that is not a neighbour (a backup or a learned
 * candidate). The reply carries that node's size sketch; if the sketches show two different
 * overlays, a NEIGHBOR request with high priority follows, and one link merges the halves.
 * Within one overlay a probe costs one short-lived connection and a shuffle, and no link
 * changes. In a small, mature overlay the outsider probes (outsider-probes.ts) stand in for the
 * periodic one. The probes live in membership's pending requests, which HyParView owns.
 */
import type { ResolvedOverlayOptions } from './options.js';
import type { OutsiderProbes } from './outsider-probes.js';
import type { PeerSet } from './peer-set.js';
import type { Pending } from './pending-request.js';
import type { SizeSketch, SketchEntry } from './size-estimate.js';
import type { ActionSink, OverlayMessage, PeerId, PeerInfo } from './types.js';

/** Below this sketch overlap, a re-join probe's target is taken to be in another overlay. */
const MERGE_OVERLAP = 0.5;

/** What the probes need from membership. */
export interface ProbeHost {
  readonly active: PeerSet;
  readonly passive: PeerSet;
  readonly learned: PeerSet;
  /** Membership's pending requests: a probe is one, and so is the merge request it may lead to. */
  readonly pending: Map<PeerId, Pending>;
  readonly sketch: SizeSketch;
  readonly outsiders: OutsiderProbes;
  /** The peers a SHUFFLE to `id` carries (Shuffles.peersFor). */
  peersFor(id: PeerId): PeerInfo[];
  send(to: PeerInfo, message: OverlayMessage, out: ActionSink): void;
}

/** The re-join probe state of one node. */
export class RejoinProbes {
  #next: number | undefined;
  readonly #o: ResolvedOverlayOptions;
  readonly #h: ProbeHost;

  constructor(options: ResolvedOverlayOptions, host: ProbeHost) {
    this.#o = options;
    this.#h = host;
  }

  /** The tick's part: an outsider probe in a small overlay, else the periodic re-join probe. */
  tick(now: number, out: ActionSink): void {
    const h = this.#h;
    // Nothing to probe in a full mesh (every known node is a neighbour): no timer, no randomness.
    if (h.passive.size + h.learned.size === 0) return;
    if (h.outsiders.inCharge(now, h.active.size)) {
      // In a small overlay the outsider probes stand in for the periodic re-join probe: they go
      // only to nodes that look like another group's, and no more often than it would.
      const target = h.outsiders.target(now);
      if (target) this.#probeTo(target, true, now, out);
      return;
    }
    this.#next ??= now + this.#jittered();
    if (now >= this.#next) {
      this.#next = now + this.#jittered();
      this.#probe(now, out);
    }
  }

  /**
   * The SHUFFLE reply to our probe `pending` of `from`: the probe is done, and if the sketches
   * show another overlay, a NEIGHBOR request with high priority (pending as `merge`) follows.
   * The reply's sketch is compared, never merged: the sketches spread over links only.
   */
  answered(
    from: PeerId,
    pending: Pending,
    sketch: SketchEntry[] | undefined,
    now: number,
    out: ActionSink,
  ): void {
    const h = this.#h;
    h.pending.delete(from);
    if (
      sketch &&
      !h.active.has(from) &&
      // The re-join rule; outsider probes go to nodes whose sketches tend to lag behind ours,
      // so they need a clearer verdict, or a confirmed outsider (with the other group's stale
      // entries still in both sketches, the overlap looks like one overlay's).
      (pending.outsider
        ? h.outsiders.shouldMerge(from, sketch, now)
        : h.sketch.overlap(sketch, now) < MERGE_OVERLAP)
    ) {
      h.pending.set(from, { info: pending.info, deadline: now + this.#o.neighborTimeoutMs, kind: 'merge' });
      h.send(pending.info, { type: 'neighbor', high: true, address: this.#o.self.address }, out);
    }
  }

  #jittered(): number {
    return this.#o.rejoinIntervalMs * (0.5 + this.#o.random());
  }

  /** A probe of a random backup or learned candidate (each first half the time). */
  #probe(now: number, out: ActionSink): void {
    const h = this.#h;
    const random = this.#o.random;
    const skip = (id: PeerId): boolean => h.active.has(id) || h.pending.has(id);
    const fromLearned = random() < 0.5;
    const target =
      (fromLearned ? h.learned.random(random, skip) : h.passive.random(random, skip)) ??
      (fromLearned ? h.passive.random(random, skip) : h.learned.random(random, skip));
    if (target) this.#probeTo(target, false, now, out);
  }

  #probeTo(target: PeerInfo, outsider: boolean, now: number, out: ActionSink): void {
    const h = this.#h;
    h.pending.set(target.id, {
      info: target,
      deadline: now + this.#o.neighborTimeoutMs,
      kind: 'probe',
      outsider,
    });
    h.send(
      target,
      {
        type: 'shuffle',
        walk: 0, // answered straight over this connection
        origin: this.#o.self,
        ttl: 1,
        peers: h.peersFor(target.id),
        sketch: h.sketch.entries(now),
      },
      out,
    );
  }
}
