/**
 * Plumtree (Leitão, Pereira, Rodrigues, SRDS 2007), epidemic broadcast trees, as a sans-IO state
 * machine: payloads go over eager links, which a duplicate turns lazy (PRUNE), so the eager links
 * settle into a spanning tree; lazy links carry batched IHAVE announcements, and a message
 * announced but not received in time is pulled with a GRAFT, which also turns that link eager
 * again. Each sender has its own tree (as in Riak's plumtree; the paper and iroh-gossip share
 * one): with one shared tree, broadcasts from several senders in flight at once prune different
 * edges of the same cycle, which splits the tree, and the grafts that repair it start the next
 * round of that (measured in the simulator: rmr 0.5 to 0.9 at 25 to 100 broadcasts/s in 100
 * nodes). Per-sender trees cannot interfere; each settles on the sender's fastest paths after its
 * first broadcast, which floods. The tree lives in the per-sender state (`SenderState.lazy`).
 *
 * Extras over the paper: every payload is signed by its sender and verified before it counts as
 * seen; delivery is exactly once and in order per sender (`SenderOrder`); a hop limit; per-peer
 * and per-sender token buckets; and a gap in a sender's sequence is also grafted from the peer
 * that delivered the later message, which repairs a lost payload even without an IHAVE.
 */
import { MeshwireError } from '../errors.js';
import { Announcer } from './announcer.js';
import { MessageCache } from './message-cache.js';
import { MissingMessages } from './missing-messages.js';
import type { ResolvedOverlayOptions } from './options.js';
import { SenderOrder } from './sender-order.js';
import type { SenderState } from './sender-order.js';
import { idOf, isLazy, makeEager, makeLazy, withHops } from './sender-tree.js';
import { TokenBucket } from './token-bucket.js';
import type { ActionSink, GossipMessage, IHaveEntry, MessageId, OverlayReport, PeerId } from './types.js';
import { MAX_IHAVE_ENTRIES, MAX_GRAFT_IDS } from './wire.js';

/** Hops a lazy path must save before the tree switches to it (the paper's threshold). */
const OPTIMIZE_HOPS = 3;
/** Most missing predecessors grafted when a message reveals a gap. */
const MAX_GAP_GRAFTS = 16;

/** What the broadcast layer needs from membership. */
export interface BroadcastHost {
  isNeighbor(id: PeerId): boolean;
  /** The neighbours' IDs (a live list: not kept across calls). */
  neighborIds(): readonly PeerId[];
}

/** What `broadcast` reports back. */
export interface BroadcastResult {
  id: MessageId;
  /** Neighbours the payload itself was sent to. */
  eager: number;
  /** Neighbours that will be told about it by IHAVE. */
  lazy: number;
}

/** The broadcast state of one node. */
export class Plumtree {
  readonly order: SenderOrder;
  readonly cache: MessageCache;
  readonly #missing: MissingMessages;
  #seq = 0;
  readonly #peerBuckets = new Map<PeerId, TokenBucket>();
  readonly #announcer: Announcer;
  readonly #o: ResolvedOverlayOptions;
  readonly #host: BroadcastHost;
  readonly #prune: boolean;
  readonly #seedTrees: boolean;
  /**
   * The tree new senders' trees are seeded from (see `#seed`): the tracked sender with the
   * lowest ID whose tree has been pruned. Every node picks by the same rule, so the seeds agree.
   */
  #template: { sender: PeerId; state: SenderState } | null = null;

  constructor(options: ResolvedOverlayOptions, host: BroadcastHost) {
    this.#o = options;
    this.#host = host;
    this.#prune = options.mode === 'plumtree';
    this.#seedTrees = this.#prune && options.seedTrees;
    this.order = new SenderOrder(options);
    this.cache = new MessageCache(options.maxCachedMessages, options.cacheRetentionMs);
    this.#announcer = new Announcer(options, host);
    this.#missing = new MissingMessages(options, this.order, host);
  }

  /** Messages announced to us that we are still trying to get. */
  get missingCount(): number {
    return this.#missing.size;
  }

  /** The neighbours that get `sender`'s payloads from us (the rest get IHAVEs). */
  eagerFor(sender: PeerId): PeerId[] {
    const s = this.order.state(sender);
    return this.#host.neighborIds().filter((id) => !isLazy(s, id));
  }

  /**
   * A new neighbour: tell it, in one IHAVE, the newest cached message of each sender (own ones
   * included), so that it grafts whatever it lacks and ignores what it has. Without this, a node
   * whose links to every holder of a sender's last message were replaced before the one
   * re-announcement of that message (the next tick) would never hear of it: no later message of
   * that sender reveals the gap (issue 13's lost message). The newest message suffices: an
   * earlier one it lacks shows up as a gap and is grafted too (`missingBefore`). Bounded by the
   * cache (count and retention), `maxSenders` and MAX_IHAVE_ENTRIES; the peer's own messages
   * are left out.
   */
  neighborUp(peer: PeerId, now: number, out: ActionSink): void {
    if (this.#o.mode === 'direct' || this.cache.size === 0) return;
    const senders = new Set<PeerId>();
    const entries: IHaveEntry[] = [];
    const limit = Math.min(MAX_IHAVE_ENTRIES, this.#o.maxSenders);
    this.cache.forEachNewest(now, (m) => {
      if (senders.has(m.sender)) return true;
      senders.add(m.sender);
      if (m.sender !== peer) entries.push(m);
      return entries.length < limit;
    });
    if (entries.length > 0)
      out.push({ type: 'send', to: peer, address: '', message: { type: 'ihave', entries } });
  }

  /** A neighbour left: forget its rate-limit state (its tree entries go stale harmlessly). */
  neighborDown(peer: PeerId): void {
    this.#peerBuckets.delete(peer);
  }

  /** Broadcasts our own payload. Throws `ERR_RATE_LIMITED` beyond `originRate`. */
  broadcast(kind: number, payload: Uint8Array, now: number, out: ActionSink): BroadcastResult {
    const self = this.#o.self.id;
    if (this.#seq === 0) this.order.own({ sender: self, epoch: this.#o.epoch, seq: 0 });
    if (!this.order.take(self, now)) {
      throw new MeshwireError('ERR_RATE_LIMITED', 'broadcast rate limit (originRate) exceeded');
    }
    const seq = ++this.#seq;
    const signature = this.#o.signer.sign({ sender: self, epoch: this.#o.epoch, seq, kind, payload });
    // A literal with the fields in the order of `withHops`: every payload object then has one
    // shape, which keeps property reads on them monomorphic.
    const message: GossipMessage = {
      type: 'gossip',
      sender: self,
      epoch: this.#o.epoch,
      seq,
      kind,
      payload,
      hops: 1,
      signature,
    };
    this.order.own(message);
    this.cache.add(message, now);
    const state = this.order.state(self)!;
    if (seq === 1) this.#seed(self, state, null);
    state.relayed = seq;
    let eager = 0;
    let lazy = 0;
    for (const id of this.#host.neighborIds()) {
      if (isLazy(state, id)) {
        lazy++;
      } else {
        out.push({ type: 'send', to: id, address: '', message });
        eager++;
      }
    }
    if (lazy > 0 || this.#o.announceToEager) this.#announcer.announce(message, self, state, now, out);
    this.#announcer.setLatest(state, message, self);
    return { id: { sender: self, epoch: this.#o.epoch, seq }, eager, lazy };
  }

  /** Handles a payload from `from`. */
  onGossip(from: PeerId, m: GossipMessage, now: number, out: ActionSink): void {
    // A peer with a bucket is a neighbour (buckets go with `neighborDown`): one look-up, not two.
    let bucket = this.#peerBuckets.get(from);
    const neighbor = bucket !== undefined || this.#host.isNeighbor(from);
    if (neighbor && bucket === undefined)
      this.#peerBuckets.set(from, (bucket = new TokenBucket(this.#o.peerRate, now)));
    if (bucket !== undefined && !bucket.take(now)) {
      return this.#report(out, { kind: 'rate-limited', from, scope: 'peer', id: idOf(m) });
    }
    if (m.hops < 1 || m.hops > this.#o.maxHops)
      return this.#report(out, { kind: 'hop-limit', from, id: idOf(m) });
    const seen = this.order.classify(m);
    if (seen === 'duplicate') {
      // PRUNE even when `from` is lazy here already: it may still count us as eager (a PRUNE and
      // a payload can cross), and it must stop sending. One exception: when `from` was eager
      // here and is not where our copy came from, we relayed this very message to it, so our
      // copy reaches it as a duplicate too and it prunes us on its side without being told.
      // That is most duplicates of a flood (both ends of a link relay before hearing from the
      // other), so most PRUNEs of a first broadcast are saved. Should our copy be lost, `from`
      // sends the next message again, `from` is lazy here by then, and the PRUNE goes out.
      // Never the parent: its copy comes second only after one that crossed our PRUNE of the
      // old parent (see below), and pruning it would cut us off from the sender's tree.
      const state = this.#prune && neighbor ? this.order.state(m.sender) : undefined;
      if (this.#prune && neighbor && (state === undefined || state.parent !== from)) {
        const crossed =
          state !== undefined && state.parent !== from && state.relayed === m.seq && !isLazy(state, from);
        this.#lazy(m.sender, state, from);
        if (!crossed) {
          out.push({ type: 'send', to: from, address: '', message: { type: 'prune', sender: m.sender } });
        }
      }
      return;
    }
    if (seen !== 'new') return this.#report(out, { kind: 'late', from, id: idOf(m), reason: seen });
    // Verified before it counts as seen: a forged copy must not shadow the real one.
    if (!this.#o.verifier.verify(m, m.signature)) {
      return this.#report(out, { kind: 'bad-signature', from, id: idOf(m) });
    }
    const hint = this.#missing.received(m);
    this.order.accept(m, from, now, out, hint);
    const state = this.order.state(m.sender)!;
    // No parent yet: the first message of this sender (or of its new epoch) seen here.
    if (state.parent === null) this.#seed(m.sender, state, from);
    // Over a link pruned here: a copy sent before our PRUNE arrived, typically from the old
    // parent right after the tree optimisation moved us. It is delivered and relayed down, but
    // the parent stays, and the copy does not go up to it: the parent has the message or gets it
    // first, and a copy from us would make it prune us (the 10,000-node run lost a pair so).
    const crossedPrune = state.parent !== null && state.parent !== from && isLazy(state, from);
    const parent = crossedPrune ? state.parent : null;
    if (!crossedPrune) {
      state.hops = m.hops;
      state.parent = from;
    }
    if (this.#o.mode !== 'direct') {
      for (const seq of this.order.missingBefore(m, MAX_GAP_GRAFTS)) {
        this.#missing.expect({ sender: m.sender, epoch: m.epoch, seq }, from, now, out);
      }
    }
    if (!this.order.take(m.sender, now)) {
      // Delivered here, but neither relayed, nor announced, nor kept for GRAFTs.
      return this.#report(out, { kind: 'rate-limited', from, scope: 'origin', id: idOf(m) });
    }
    this.cache.add(m, now);
    if (this.#o.mode !== 'direct') this.#announcer.setLatest(state, m, from);
    if (this.#o.mode === 'direct' || m.hops >= this.#o.maxHops) return;
    const copy = withHops(m, m.hops + 1);
    state.relayed = m.seq;
    let lazy = false;
    for (const id of this.#host.neighborIds()) {
      if (id === from || id === parent) continue;
      if (isLazy(state, id)) lazy = true;
      else out.push({ type: 'send', to: id, address: '', message: copy });
    }
    if (lazy || this.#o.announceToEager) this.#announcer.announce(m, from, state, now, out);
  }

  /** Handles an IHAVE batch from `from`. */
  onIHave(from: PeerId, entries: readonly IHaveEntry[], now: number, out: ActionSink): void {
    if (entries.length > MAX_IHAVE_ENTRIES) {
      return this.#report(out, { kind: 'protocol', from, detail: 'too many IHAVE entries' });
    }
    for (const e of entries) {
      const seen = this.order.classify(e);
      if (seen === 'new') this.#missing.expect(e, from, now, out);
      else if (seen === 'duplicate' && this.#prune) this.#optimize(e, from, out);
    }
  }

  /**
   * The paper's tree optimisation: when a lazy neighbour announces a sender's message with at
   * least OPTIMIZE_HOPS fewer hops than the path it reached us by, that neighbour becomes our
   * parent for this sender (GRAFT without a payload: seq 0) and the old parent is pruned. This
   * undoes the drift that repairs (grafts after losses) cause in a tree over time.
   */
  #optimize(e: IHaveEntry, from: PeerId, out: ActionSink): void {
    const state = this.order.state(e.sender);
    if (!state || state.epoch !== e.epoch || state.parent === null || state.parent === from) return;
    if (state.hops - (e.hops + 1) < OPTIMIZE_HOPS || !this.#host.isNeighbor(from)) return;
    const old = state.parent;
    makeEager(state, from);
    out.push({
      type: 'send',
      to: from,
      address: '',
      message: { type: 'graft', ids: [{ ...idOf(e), seq: 0 }] },
    });
    if (this.#host.isNeighbor(old)) {
      this.#lazy(e.sender, state, old);
      out.push({ type: 'send', to: old, address: '', message: { type: 'prune', sender: e.sender } });
    }
    state.parent = from;
    state.hops = e.hops + 1;
  }

  /** Handles a GRAFT: `from` rejoins those senders' trees and gets the payloads still cached. */
  onGraft(from: PeerId, ids: readonly MessageId[], now: number, out: ActionSink): void {
    if (ids.length > MAX_GRAFT_IDS) {
      return this.#report(out, { kind: 'protocol', from, detail: 'too many GRAFT ids' });
    }
    for (const id of ids) {
      makeEager(this.order.state(id.sender), from);
      if (id.seq === 0) continue; // tree only (the optimisation), no payload wanted
      const m = this.cache.get(id, now);
      if (!m) continue;
      const hops = m.sender === this.#o.self.id ? 1 : m.hops + 1;
      if (hops > this.#o.maxHops) continue;
      out.push({ type: 'send', to: from, address: '', message: withHops(m, hops) });
    }
  }

  /** Handles a PRUNE: `from` leaves `sender`'s tree here (it gets IHAVEs instead). */
  onPrune(from: PeerId, sender: PeerId): void {
    if (this.#prune && this.#host.isNeighbor(from)) this.#lazy(sender, this.order.state(sender), from);
  }

  /** The IHAVE batch timer (see `Announcer.flush`). */
  flushIHave(out: ActionSink): void {
    this.#announcer.flush(out);
  }

  /** A graft timer (see `MissingMessages.graftTimer`). */
  graftTimer(key: string, now: number, out: ActionSink): void {
    this.#missing.graftTimer(key, now, out);
  }

  /**
   * Periodic cleanup of the cache and of missing entries. A message announced to us that we
   * never got, however often we grafted it, is reported (`missed`) when its entry expires: it
   * may never show up as a gap (when no later message of its sender reaches us).
   */
  tick(now: number, out: ActionSink): void {
    this.#announcer.reannounceQuiet(now, out);
    this.cache.expire(now);
    this.order.expire(now);
    this.#missing.expire(now, out);
  }

  /** Prunes `peer` from `sender`'s tree; a pruned tree can serve as the template. */
  #lazy(sender: PeerId, state: SenderState | undefined, peer: PeerId): void {
    if (!state) return;
    makeLazy(state, peer, this.#o.maxPeers, this.#host.isNeighbor);
    if (this.#seedTrees) this.#offerTemplate(sender, state);
  }

  #offerTemplate(sender: PeerId, state: SenderState): void {
    const t = this.#template;
    if (t === null || sender <= t.sender || this.order.state(t.sender) !== t.state) {
      this.#template = { sender, state };
    }
  }

  /**
   * Seeds a new sender's tree from the template tree instead of starting with every link eager.
   * A first broadcast over an all-eager tree floods: every node gets about maxPeers copies and
   * prunes all but one (at 10,000 nodes and 100 senders, 40 % of all frames were these floods
   * and their PRUNEs). The template is another sender's pruned tree, and the eager links of a
   * settled tree form a spanning tree of the overlay whatever the root, so the new sender's
   * first broadcast reaches every node about once. Its paths are the template's, not the new
   * sender's fastest: the tree optimisation (`#optimize`) then moves nodes to shorter lazy
   * paths, and a link the template lacks (changed neighbours) is repaired by IHAVE and GRAFT
   * like any loss. The neighbour the first message came from stays eager (it is the parent).
   */
  #seed(sender: PeerId, state: SenderState, from: PeerId | null): void {
    if (!this.#seedTrees || state.lazy !== null) return;
    const t = this.#template;
    if (t === null || t.sender === sender || this.order.state(t.sender) !== t.state) {
      if (t !== null && t.sender !== sender) this.#template = null; // forgotten: pick anew
      return;
    }
    const lazy = t.state.lazy;
    if (lazy === null) return;
    const isNeighbor = this.#host.isNeighbor;
    const seeded: PeerId[] = [];
    for (const p of lazy) if (p !== from && isNeighbor(p)) seeded.push(p);
    state.lazy = seeded;
    this.#offerTemplate(sender, state);
  }

  #report(out: ActionSink, report: OverlayReport): void {
    out.push({ type: 'report', report });
  }
}
