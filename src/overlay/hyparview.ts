/**
 * HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007) as a sans-IO state machine: a small
 * symmetric active view (the connections) and a larger passive view of backup addresses kept
 * fresh by shuffles. Two departures from the paper, both for small networks and quick repair:
 * a FORWARD_JOIN walk also ends at a node whose active view has room (so a network of at most
 * maxPeers + 1 nodes becomes the full mesh at once), and the active view is topped up from the
 * passive view on every tick, not only after a failure (backing off when one short of full and
 * refused: MAX_REFILL_BACKOFF). Two additions: learned candidates (peer
 * exchange, peer book) kept apart from the passive view, and a periodic re-join probe that merges
 * split halves (README "How big networks work", "Partitions"); in small overlays, also an
 * outsider probe and high-priority requests after refusals, so that groups in which every view
 * is full (or every backup refuses) merge within seconds (README, "Small groups that are each
 * done").
 *
 * The shuffles (shuffles.ts, with the way back of their walks in walk-routes.ts), the size
 * sketch (size-estimate.ts), the re-join probes (rejoin-probes.ts) and the outsider probes
 * (outsider-probes.ts) live apart; joins and neighbour requests stay here, with the views and
 * the pending requests (pending-request.ts) they share.
 */
import type { ResolvedOverlayOptions } from './options.js';
import { PeerSet } from './peer-set.js';
import { hashId, SizeSketch } from './size-estimate.js';
import type { SketchEntry } from './size-estimate.js';
import { OutsiderProbes } from './outsider-probes.js';
import type { Pending } from './pending-request.js';
import { RejoinProbes } from './rejoin-probes.js';
import type { ActionSink, OverlayMessage, OverlayReport, PeerId, PeerInfo } from './types.js';
import { Shuffles } from './shuffles.js';

/**
 * After n NEIGHBOR requests refused in a row, a node one short of a full active view tops it up
 * only every 2^n ticks (n at most this): in a network of full nodes it would otherwise open a
 * short-lived connection to a full node every tick, forever (a large part of an idle node's CPU:
 * bench/probes/overlay-cpu.ts).
 */
const MAX_REFILL_BACKOFF = 4;

/**
 * After this many NEIGHBOR requests refused in a row, a node with less than half a view asks with
 * high priority: every backup it knows is full, and low priority would never get in (a pair of
 * nodes next to a group of full nodes stays apart forever otherwise).
 */
const ESCALATE_AFTER = 2;

/** What membership tells the broadcast layer. */
export interface MembershipHooks {
  /** `peer` entered the active view; actions go to `out` after the link's confirmation. */
  neighborUp(peer: PeerId, now: number, out: ActionSink): void;
  neighborDown(peer: PeerId): void;
}

type MembershipMessage = Extract<
  OverlayMessage,
  { type: 'join' | 'forward-join' | 'neighbor' | 'disconnect' | 'shuffle' | 'shuffle-reply' }
>;

/** The HyParView state of one node. */
export class HyParView {
  /** Neighbours: peers we keep a connection to and broadcast over. */
  readonly active = new PeerSet();
  /** Backup peers: addresses only, used to replace failed neighbours. */
  readonly passive = new PeerSet();
  /**
   * Candidates learned outside the overlay (peer exchange, peer book): never trusted over the
   * passive view (used only when it is empty, and for re-join probes), and kept when a dial
   * fails, so a node can still find the others after a mass failure or a partition.
   */
  readonly learned = new PeerSet();
  /** The network-size sketch (size-estimate.ts). */
  readonly sketch: SizeSketch;
  readonly #pending = new Map<PeerId, Pending>();
  readonly #shuffles: Shuffles;
  #joined = false;
  #nextShuffle = -Infinity;
  /** NEIGHBOR requests refused in a row, and when the tick may top up the view again. */
  #refused = 0;
  #nextRefill = -Infinity;
  readonly #outsiders: OutsiderProbes;
  readonly #probes: RejoinProbes;
  readonly #ownHash: number;
  #now = 0;
  readonly #o: ResolvedOverlayOptions;
  readonly #hooks: MembershipHooks;

  constructor(options: ResolvedOverlayOptions, hooks: MembershipHooks) {
    this.#o = options;
    this.#hooks = hooks;
    this.sketch = new SizeSketch(options.self.id, options.sizeSketchSize, options.sizeTtlMs);
    this.#ownHash = hashId(options.self.id);
    this.#outsiders = new OutsiderProbes(options, this.#ownHash, {
      sketchEntries: (now) => this.sketch.entries(now),
      overlap: (theirs, now) => this.sketch.overlap(theirs, now),
      estimate: (now) => this.sketch.estimate(now),
      known: (id) => this.passive.get(id) ?? this.learned.get(id),
      pick: (skip) => this.passive.random(this.#o.random, skip) ?? this.learned.random(this.#o.random, skip),
      busy: (id) => this.active.has(id) || this.#pending.has(id),
    });
    this.#shuffles = new Shuffles(options, this.#ownHash, {
      active: this.active,
      passive: this.passive,
      sketch: this.sketch,
      send: (to, message, out) => this.#send(to, message, out),
      integrate: (peers, evictFirst) => this.#integrate(peers, evictFirst),
      isPending: (id) => this.#pending.has(id),
      sketchSent: (length) => this.#outsiders.sketchLength(length),
    });
    this.#probes = new RejoinProbes(options, {
      active: this.active,
      passive: this.passive,
      learned: this.learned,
      pending: this.#pending,
      sketch: this.sketch,
      outsiders: this.#outsiders,
      peersFor: (id) => this.#shuffles.peersFor(id),
      send: (to, message, out) => this.#send(to, message, out),
    });
  }

  /** Estimated number of members of this node's overlay, itself included. */
  sizeEstimate(): number {
    return this.sketch.estimate(this.#now);
  }

  /**
   * Whether a contact has accepted our JOIN. Until then the driver should retry with other
   * contacts on `join-failed`: a node whose join was lost can still be picked as a contact by
   * newcomers, and would otherwise form an island with them.
   */
  get joined(): boolean {
    return this.#joined;
  }

  /** Peers we asked to become neighbours (or to let us join) and have not answered yet. */
  pendingIds(): PeerId[] {
    return [...this.#pending.keys()];
  }

  /** Asks `contact` (any member, full or not) to let us join. */
  join(contact: PeerInfo, now: number, out: ActionSink): void {
    this.#now = now;
    if (contact.id === this.#o.self.id || this.active.has(contact.id)) return;
    this.#pending.set(contact.id, { info: contact, deadline: now + this.#o.neighborTimeoutMs, kind: 'join' });
    this.#send(contact, { type: 'join', address: this.#o.self.address }, out);
  }

  /** Keeps addresses learned elsewhere (peer exchange, peer book) as candidates, bounded. */
  learn(peers: readonly PeerInfo[]): void {
    const max = this.#o.learnedViewSize;
    if (max === 0) return;
    for (const p of peers) {
      if (p.id === this.#o.self.id || p.address === '' || this.active.has(p.id)) continue;
      if (!this.learned.has(p.id) && this.learned.size >= max) {
        this.learned.delete(this.learned.random(this.#o.random)!.id);
      }
      this.learned.add(p);
    }
  }

  /** Handles a membership message from `from`. */
  handle(from: PeerId, msg: MembershipMessage, now: number, out: ActionSink): void {
    this.#now = now;
    switch (msg.type) {
      case 'join':
        return this.#onJoin({ id: from, address: msg.address }, now, out);
      case 'forward-join':
        return this.#onForwardJoin(from, msg.peer, msg.ttl, out);
      case 'neighbor':
        return this.#onNeighbor({ id: from, address: msg.address }, msg.high, out);
      case 'disconnect':
        return this.#onDisconnect(from, msg.alive, now, out);
      case 'shuffle':
        return this.#shuffles.onShuffle(from, msg, now, out);
      case 'shuffle-reply':
        if (msg.walk !== 0 && this.#shuffles.forwardReply(msg, now, out)) return;
        return this.#onShuffleReply(from, msg.peers, msg.sketch, now, out);
    }
  }

  /** The connection to `peer` is gone (closed, failed to open, or the peer died). */
  peerDown(peer: PeerId, now: number, out: ActionSink): void {
    this.#now = now;
    const wasActive = this.#removeActive(peer, out);
    const pending = this.#pending.get(peer);
    if (pending) {
      this.#pending.delete(peer);
      if (pending.kind === 'join') this.#report(out, { kind: 'join-failed', contact: peer });
    }
    this.passive.delete(peer);
    // A dead neighbour is replaced at once; so is a failed request (the passive view shrank, so
    // this cannot loop without bound).
    if (wasActive || pending) this.#refill(now, out);
  }

  /** Periodic maintenance: expire requests, top up the active view, shuffle. */
  tick(now: number, out: ActionSink): void {
    this.#now = now;
    this.#shuffles.expire(now);
    for (const [id, p] of this.#pending) {
      if (p.deadline > now) continue;
      this.#pending.delete(id);
      if (p.kind === 'join') this.#report(out, { kind: 'join-failed', contact: id });
      out.push({ type: 'disconnect', peer: id });
    }
    // Only a node one short of full waits (the idle case above); one with more room keeps
    // asking every tick, so young and repairing networks fill as fast as before.
    if (now >= this.#nextRefill || this.active.size < this.#o.maxPeers - 1) this.#refill(now, out);
    // A node with room in its active view shuffles every tick: it is short of peers it knows
    // (typical of a young or small network), and each shuffle teaches it up to
    // shuffleActive + shufflePassive more.
    const hungry = this.active.size < this.#o.maxPeers && this.passive.size === 0;
    if (now >= this.#nextShuffle || hungry) {
      this.#nextShuffle = now + this.#o.shuffleIntervalMs;
      this.#shuffles.shuffle(now, out);
    }
    this.#probes.tick(now, out);
  }

  #onShuffleReply(
    from: PeerId,
    peers: PeerInfo[],
    sketch: SketchEntry[] | undefined,
    now: number,
    out: ActionSink,
  ): void {
    const pending = this.#pending.get(from);
    if (pending?.kind === 'probe') this.#probes.answered(from, pending, sketch, now, out);
    else this.sketch.merge(sketch, now);
    this.#integrate(peers, this.#shuffles.lastSent);
    if (!this.active.has(from) && !this.#pending.has(from)) out.push({ type: 'disconnect', peer: from });
  }

  /** Leaves the overlay: tells every neighbour not to keep us even as a backup. */
  leave(out: ActionSink): void {
    for (const p of this.active.ids()) {
      this.#send(this.active.get(p)!, { type: 'disconnect', alive: false }, out);
      this.#removeActive(p, out);
      out.push({ type: 'disconnect', peer: p });
    }
    this.#pending.clear();
  }

  #onJoin(peer: PeerInfo, now: number, out: ActionSink): void {
    if (peer.id === this.#o.self.id) return;
    this.#addActive(peer, true, out);
    // The newcomer learns our view at once instead of waiting for its first shuffle.
    const sample = [
      ...this.active.values().filter((p) => p.id !== peer.id),
      ...this.passive.sample(this.#o.random, this.#o.shufflePassive),
    ];
    this.#send(
      peer,
      { type: 'shuffle-reply', walk: 0, peers: sample, sketch: this.sketch.entries(now) },
      out,
    );
    for (const p of this.active.values()) {
      if (p.id !== peer.id) this.#send(p, { type: 'forward-join', peer, ttl: this.#o.activeWalkLength }, out);
    }
  }

  #onForwardJoin(from: PeerId, peer: PeerInfo, ttl: number, out: ActionSink): void {
    if (peer.id === this.#o.self.id || this.active.has(peer.id)) return;
    if (ttl === 0 || this.active.size <= 1 || this.active.size < this.#o.maxPeers) {
      this.#addActive(peer, true, out);
      return;
    }
    if (ttl === this.#o.passiveWalkLength) this.#addPassive(peer, []);
    const next = this.active.random(this.#o.random, (id) => id === from || id === peer.id);
    if (!next) return this.#addActive(peer, true, out);
    this.#send(next, { type: 'forward-join', peer, ttl: ttl - 1 }, out);
  }

  #onNeighbor(peer: PeerInfo, high: boolean, out: ActionSink): void {
    if (this.active.has(peer.id)) {
      this.active.add(peer); // the confirmation of a request we accepted: refresh the address
      return;
    }
    const pending = this.#pending.get(peer.id);
    if (pending) {
      // The peer accepted our JOIN or NEIGHBOR request (or asked us at the same time). If others
      // filled the view meanwhile, decline rather than evict a working link: churn costs the
      // broadcast tree more than one link short does.
      if (this.active.size >= this.#o.maxPeers && pending.kind !== 'join' && pending.kind !== 'merge') {
        this.#pending.delete(peer.id);
        this.#send(peer, { type: 'disconnect', alive: true }, out);
        out.push({ type: 'disconnect', peer: peer.id });
        this.#addPassive(peer, []);
        return;
      }
      if (pending.kind === 'join') this.#joined = true;
      this.#addActive(peer, false, out);
      // Two groups just merged: a shuffle walk into the other group carries our sketch there
      // and brings its sketch back, so neither side keeps looking like an outsider to the other
      // (every member of our group would otherwise merge with it again).
      if (pending.kind === 'merge') this.#shuffles.shuffleTo(peer, this.#now, out);
      return;
    }
    if (high || this.active.size < this.#o.maxPeers) {
      this.#addActive(peer, true, out);
      return;
    }
    this.#send(peer, { type: 'disconnect', alive: true }, out);
    out.push({ type: 'disconnect', peer: peer.id });
    this.#addPassive(peer, []);
  }

  #onDisconnect(from: PeerId, alive: boolean, now: number, out: ActionSink): void {
    const info = this.active.get(from) ?? this.#pending.get(from)?.info;
    const refused = this.#pending.get(from)?.kind === 'neighbor';
    const wasPending = this.#pending.delete(from);
    const wasActive = this.#removeActive(from, out);
    out.push({ type: 'disconnect', peer: from });
    if (refused && !wasActive) {
      this.#refused = Math.min(this.#refused + 1, MAX_REFILL_BACKOFF);
      this.#nextRefill = now + this.#o.tickMs * 2 ** this.#refused;
    }
    if (alive && info) this.#addPassive(info, []);
    if (!alive) this.passive.delete(from);
    // A rejected request is retried on the next tick, not at once, so that a network of full
    // nodes is not flooded with requests; a lost neighbour is replaced now.
    if (wasActive && !wasPending) this.#refill(now, out);
  }

  /** Sends NEIGHBOR requests to passive peers until active + pending requests fill the view. */
  #refill(now: number, out: ActionSink): void {
    let want = this.#o.maxPeers - this.active.size - this.#pending.size;
    // At most one escalated (high-priority) request per round: each one evicts a link elsewhere.
    let escalate = this.#refused >= ESCALATE_AFTER && 2 * this.active.size < this.#o.maxPeers;
    while (want-- > 0) {
      // Learned candidates only when no proven backup is left (after a mass failure).
      const candidate =
        this.passive.random(this.#o.random) ??
        this.learned.random(this.#o.random, (id) => this.active.has(id) || this.#pending.has(id));
      if (!candidate) return;
      this.passive.delete(candidate.id);
      this.#pending.set(candidate.id, {
        info: candidate,
        deadline: now + this.#o.neighborTimeoutMs,
        kind: 'neighbor',
      });
      // High priority (it cannot be refused) when we have no neighbour at all (HyParView), or
      // less than half a view after ESCALATE_AFTER refusals in a row.
      const high = this.active.size === 0 || escalate;
      escalate = false;
      this.#send(candidate, { type: 'neighbor', high, address: this.#o.self.address }, out);
    }
  }

  #addActive(peer: PeerInfo, confirm: boolean, out: ActionSink): void {
    if (peer.id === this.#o.self.id) return;
    this.#pending.delete(peer.id);
    if (!this.active.has(peer.id)) {
      this.passive.delete(peer.id);
      if (this.active.size >= this.#o.maxPeers) {
        const victim = this.active.random(this.#o.random)!;
        this.#send(victim, { type: 'disconnect', alive: true }, out);
        this.#removeActive(victim.id, out);
        out.push({ type: 'disconnect', peer: victim.id });
        this.#addPassive(victim, []);
      }
      this.active.add(peer);
      this.#refused = 0;
      this.#nextRefill = -Infinity;
      out.push({ type: 'neighbor-up', peer: peer.id });
      if (confirm) this.#send(peer, { type: 'neighbor', high: true, address: this.#o.self.address }, out);
      this.#hooks.neighborUp(peer.id, this.#now, out);
      return;
    }
    this.active.add(peer);
    if (confirm) this.#send(peer, { type: 'neighbor', high: true, address: this.#o.self.address }, out);
  }

  #removeActive(id: PeerId, out: ActionSink): boolean {
    if (!this.active.delete(id)) return false;
    // A lost neighbour is replaced without waiting, then by every tick until the view is full.
    this.#refused = 0;
    this.#nextRefill = -Infinity;
    out.push({ type: 'neighbor-down', peer: id });
    this.#hooks.neighborDown(id);
    return true;
  }

  #addPassive(peer: PeerInfo, evictFirst: readonly PeerId[]): void {
    if (peer.id === this.#o.self.id || peer.address === '') return;
    if (this.active.has(peer.id) || this.#pending.has(peer.id)) return;
    if (!this.passive.has(peer.id) && this.passive.size >= this.#o.passiveViewSize) {
      const victim = evictFirst.find((id) => this.passive.has(id)) ?? this.passive.random(this.#o.random)!.id;
      this.passive.delete(victim);
    }
    this.passive.add(peer);
  }

  #integrate(peers: readonly PeerInfo[], evictFirst: readonly PeerId[]): void {
    for (const p of peers) this.#addPassive(p, evictFirst);
  }

  #send(to: PeerInfo, message: OverlayMessage, out: ActionSink): void {
    out.push({ type: 'send', to: to.id, address: to.address, message });
  }

  #report(out: ActionSink, report: OverlayReport): void {
    out.push({ type: 'report', report });
  }
}
