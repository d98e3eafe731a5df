/**
 * Outsider probes: how a small overlay finds a group it is split from when nobody would ask
 * anybody (README "How big networks work", "Small groups that are each done"). With a small
 * `maxPeers`, a young network can settle into groups with no link between them whose views are
 * all full (with maxPeers 3, eight nodes as two cliques of four). The periodic re-join probe
 * cannot tell them apart while each still holds the other's sketch entries from before the split
 * (up to the sketch TTL, 2 minutes).
 *
 * While the size sketch holds fewer than k members it lists every member heard of recently
 * (size-estimate.ts), and within one overlay the shuffle walks refresh every member's entry
 * everywhere within a period or two. So a backup whose entry is missing or stale hints at
 * another group: it is probed (a one-step SHUFFLE, as the re-join probe), and the reply decides.
 * In such a small, mature overlay these probes replace the periodic one. State and decisions
 * only; HyParView sends the probes and the merge requests.
 */
import type { ResolvedOverlayOptions } from './options.js';
import { hashId } from './size-estimate.js';
import type { SketchEntry } from './size-estimate.js';
import type { PeerId, PeerInfo } from './types.js';

/**
 * A sketch entry older than this many shuffle periods is stale. Within one overlay of 20-120
 * nodes an entry was seen up to ~1.8 periods old (the simulator starts every node's shuffles in
 * step, the worst case); 1.5 merged overlays that were one (~90 times per 20 runs).
 */
const STALE_SHUFFLES = 2.5;

/**
 * Outsiders are looked for only this many shuffle periods after the node's first neighbour: until
 * then its sketch is still filling, and nearly every backup would look like an outsider.
 */
const MATURE_SHUFFLES = 2;

/** Probes back off up to tickMs × 2^this between them (and never beyond rejoinIntervalMs). */
const MAX_BACKOFF = 5;

/**
 * Below this sketch overlap the target is in another group without confirmation. In the
 * simulator two groups showed 0.03-0.13, and nodes of one 120-node overlay whose sketches lagged
 * 0.26-0.44 (the targets of these probes are the nodes our sketch lags on, and theirs on us).
 */
const CLEAR_OVERLAP = 0.2;

/** What the probes need from membership. */
export interface OutsiderHost {
  /** Our sketch's entries (our own first, age 0). */
  sketchEntries(now: number): SketchEntry[];
  /** The overlap of our sketch with `theirs` (SizeSketch.overlap). */
  overlap(theirs: readonly SketchEntry[], now: number): number;
  /** Estimated members of our overlay, ourselves included. */
  estimate(now: number): number;
  /** A backup (passive view) or learned candidate with this ID. */
  known(id: PeerId): PeerInfo | undefined;
  /** A random backup, else a random learned candidate, other than those `skip` excludes. */
  pick(skip: (id: PeerId) => boolean): PeerInfo | undefined;
  /** Whether `id` is a neighbour or has a request of ours pending. */
  busy(id: PeerId): boolean;
}

/** The outsider-probe state of one node. */
export class OutsiderProbes {
  /** Whether the sketch lists every member heard of (fewer than k entries). */
  #small = true;
  #backoff = 0;
  /** A node a probe found in another group, to be probed once more before merging. */
  #suspect: { id: PeerId; at: number } | undefined;
  /** When this node first had a neighbour (its sketch matures from then on). */
  #since: number | undefined;
  #next = -Infinity;
  readonly #o: ResolvedOverlayOptions;
  readonly #ownHash: number;
  readonly #host: OutsiderHost;

  constructor(options: ResolvedOverlayOptions, ownHash: number, host: OutsiderHost) {
    this.#o = options;
    this.#ownHash = ownHash;
    this.#host = host;
  }

  /** The length of the sketch just sent in a shuffle (computed there anyway): big overlays skip all this. */
  sketchLength(length: number): void {
    this.#small = length <= this.#o.sizeSketchSize;
  }

  /**
   * Whether outsider probes stand in for the periodic re-join probe now: the overlay is small
   * and this node's sketch has matured.
   */
  inCharge(now: number, neighbours: number): boolean {
    if (this.#since === undefined && neighbours > 0) {
      this.#since = now;
      // The first check, jittered (1x to 1.5x the maturing time): the members of a group mature
      // together and would all probe the same outsiders at once. The jitter comes from our ID's
      // hash, not from `random`, so that runs shorter than that keep their random sequence (the
      // simulator's results and seeded tests).
      const jitter = 1 + (0.5 * this.#ownHash) / 2 ** 32;
      this.#next = now + MATURE_SHUFFLES * this.#o.shuffleIntervalMs * jitter;
    }
    return (
      this.#small &&
      this.#since !== undefined &&
      now - this.#since >= MATURE_SHUFFLES * this.#o.shuffleIntervalMs
    );
  }

  /** The node to probe now, if a check is due and some known node looks like an outsider. */
  target(now: number): PeerInfo | undefined {
    if (now < this.#next) return undefined;
    const entries = this.#host.sketchEntries(now);
    if (entries.length > this.#o.sizeSketchSize) {
      this.#small = false;
      return undefined;
    }
    const fresh = this.#freshHashes(entries);
    const skip = (id: PeerId): boolean => this.#host.busy(id) || fresh.has(hashId(id));
    // A suspect is probed again, unless it has turned out to be with us.
    const s = this.#suspect;
    const suspect = s && !skip(s.id) ? this.#host.known(s.id) : undefined;
    if (!suspect) this.#suspect = undefined;
    const target = suspect ?? this.#host.pick(skip);
    if (!target) return undefined;
    // Jittered: the members of one group mature together and would all probe the same outsider.
    const wait = Math.min(this.#o.tickMs * 2 ** this.#backoff, this.#o.rejoinIntervalMs);
    this.#next = now + wait * (0.5 + this.#o.random());
    this.#backoff = Math.min(this.#backoff + 1, MAX_BACKOFF);
    return target;
  }

  /**
   * Whether to merge with the node a probe went to, given its reply's sketch: a clear sketch
   * difference, or a confirmed outsider. Every member of a group finds the other group at about
   * the same time, and each merge evicts a link on both sides, so each acts with probability
   * 2 / (its group's size): about two merges, not one per member (11 in one 20-node run). One
   * that holds back probes the same node again later; by then a merge by another member has
   * usually made it look like one of us.
   */
  shouldMerge(from: PeerId, theirs: readonly SketchEntry[], now: number): boolean {
    if (this.#host.overlap(theirs, now) >= CLEAR_OVERLAP && !this.#confirmed(from, theirs, now)) return false;
    if (this.#o.random() * this.#host.estimate(now) >= 2) {
      this.#suspect = { id: from, at: now - this.#o.shuffleIntervalMs };
      this.#next = now + this.#o.shuffleIntervalMs * (0.5 + this.#o.random());
      return false;
    }
    this.#suspect = undefined;
    return true;
  }

  /**
   * The target must look like an outsider (`#disjoint`) twice, at least a shuffle period apart.
   * Within one overlay the fresh sets drift with the shuffle rounds, and a one-off disjoint pair
   * (seen in 20-120 node overlays, whose shuffles the simulator starts in step) rarely lasts a
   * round; between two groups it lasts.
   */
  #confirmed(from: PeerId, theirs: readonly SketchEntry[], now: number): boolean {
    if (!this.#disjoint(theirs, now)) {
      if (this.#suspect?.id === from) this.#suspect = undefined;
      return false;
    }
    const s = this.#suspect;
    if (s?.id === from && now - s.at >= this.#o.shuffleIntervalMs) {
      this.#suspect = undefined;
      return true;
    }
    if (s?.id !== from) this.#suspect = { id: from, at: now };
    this.#next = now + this.#o.shuffleIntervalMs;
    return false;
  }

  /**
   * No member is fresh in both sketches. Fresh entries come only from one's own group (a group
   * split off stops refreshing them), so two groups' fresh sets are disjoint, while within one
   * overlay the shuffle walks spread every member's fresh entry to many nodes, so two members'
   * fresh sets share some (each holds its own, age 0).
   */
  #disjoint(theirs: readonly SketchEntry[], now: number): boolean {
    const mine = this.#freshHashes(this.#host.sketchEntries(now));
    for (const h of this.#freshHashes(theirs)) if (mine.has(h)) return false;
    return true;
  }

  /** The hashes of entries vouched for within STALE_SHUFFLES shuffle periods. */
  #freshHashes(entries: readonly SketchEntry[]): Set<number> {
    // Ages travel in whole seconds, rounded up: never less than 2 s.
    const limitS = Math.max(2, Math.ceil((STALE_SHUFFLES * this.#o.shuffleIntervalMs) / 1000));
    const fresh = new Set<number>();
    for (const e of entries) if (e.age <= limitS) fresh.add(e.hash);
    return fresh;
  }
}
