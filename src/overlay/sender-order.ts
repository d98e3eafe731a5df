/**
 * Exactly once, in order per sender: one small state per original sender (its epoch, the next
 * sequence number due, a bounded hold-back buffer of early arrivals). It doubles as the seen-set
 * of the broadcast layer, so no per-message ID is stored for messages already delivered.
 *
 * Rules (README "How big networks work"):
 * - the first message seen from a sender (or from a newer epoch of it) fixes where its order
 *   starts; an older one arriving later is dropped and reported `late` / `before-first`;
 * - a message ahead of the next due one is held back; if the gap is not filled within
 *   `gapTimeoutMs`, or more than `maxHoldBack` messages wait, the missing ones are skipped and
 *   reported (`gap`), and a skipped one arriving later is dropped and reported `late` / `skipped`;
 * - at most `maxSenders` senders are tracked; the least recently active is forgotten (reported).
 */
import type { ResolvedOverlayOptions } from './options.js';
import type { ActionSink, GossipMessage, MessageId, PeerId } from './types.js';

/** How a message relates to what this node has seen. */
export type Seen = 'new' | 'duplicate' | 'skipped' | 'before-first' | 'old-epoch';

/** Skipped ranges remembered per sender, to tell a late message from a duplicate. */
const MAX_SKIPPED_RANGES = 16;

/**
 * "Not set" for the time fields below (the driver's clock never runs below 0). A sentinel that
 * is a small integer, not ±Infinity: V8 keeps a field that only ever holds small integers inside
 * the object, while a field that once held a non-integer gets a separate heap box per object,
 * and a simulator holds a million of these states (10,000 nodes × 100 senders).
 */
const UNSET = -1;

interface Held {
  message: GossipMessage;
  from: PeerId;
}

/** What this node keeps per original sender. */
export interface SenderState {
  epoch: number;
  /** The next sequence number due for delivery. */
  next: number;
  /** The first sequence number this node saw (order starts there). */
  first: number;
  held: Map<number, Held> | null;
  /** Inclusive ranges given up on, newest last. */
  skipped: [number, number][] | null;
  /** When the current gap is given up; `UNSET` (-1) when nothing is held. */
  gapDeadline: number;
  /** While non-zero, the order's start is not fixed yet: nothing is delivered before then. */
  settleUntil: number;
  /**
   * This sender's broadcast tree here: the neighbours pruned from it (lazy: IHAVE only). Every
   * other neighbour is eager (gets the payload); null = none pruned yet.
   */
  lazy: PeerId[] | null;
  /** When the last message of this sender arrived (the state expires `senderTtlMs` later). */
  active: number;
  /** When the entry last moved to the back of the least-recently-active order; -1 never. */
  touched: number;
  /** The newest message of this sender since the last tick, re-announced on the tick. */
  latest: GossipMessage | null;
  latestFrom: PeerId;
  /** Hops of the last new message from this sender, and the neighbour it came from. */
  hops: number;
  parent: PeerId | null;
  /** Sequence number of the last message of this sender relayed (or sent) by this node. */
  relayed: number;
  /**
   * The sender's token bucket (`originRate`), kept here to avoid a second per-sender map: tokens
   * in thousandths (integers for integer times and rates, see `UNSET`), and when it was last
   * refilled (-1: not yet).
   */
  milliTokens: number;
  refilled: number;
}

/** Per-sender order and dedup state of one node. */
export class SenderOrder {
  readonly #senders = new Map<PeerId, SenderState>();
  readonly #o: ResolvedOverlayOptions;
  /**
   * The last sender looked up and its state: handling one message looks its sender up half a
   * dozen times, and with thousands of nodes in one process (the simulator) each Map lookup is
   * a cache miss. Cleared whenever that sender's entry is removed or replaced.
   */
  #memoSender: PeerId | null = null;
  #memoState: SenderState | undefined = undefined;

  constructor(options: ResolvedOverlayOptions) {
    this.#o = options;
  }

  /** Number of senders tracked. */
  get size(): number {
    return this.#senders.size;
  }

  /** Whether `id` is new to this node, a duplicate, or too late to be delivered in order. */
  classify(id: MessageId): Seen {
    const s = this.#get(id.sender);
    if (!s || id.epoch > s.epoch) return 'new';
    if (id.epoch < s.epoch) return 'old-epoch';
    if (id.seq < s.first) {
      return s.settleUntil !== 0 && s.first - id.seq <= this.#o.maxHoldBack ? 'new' : 'before-first';
    }
    if (id.seq < s.next) {
      if (s.skipped) for (const [a, b] of s.skipped) if (id.seq >= a && id.seq <= b) return 'skipped';
      return 'duplicate';
    }
    return s.held?.has(id.seq) ? 'duplicate' : 'new';
  }

  /** The state of `sender`, if tracked. */
  state(sender: PeerId): SenderState | undefined {
    return this.#get(sender);
  }

  /** Whether an order state exists for `sender` at `epoch` or later. */
  tracks(sender: PeerId, epoch: number): boolean {
    const s = this.#get(sender);
    return s !== undefined && s.epoch >= epoch;
  }

  /** The sequence numbers below `seq` still missing for `sender` (at most `limit`), oldest first. */
  missingBefore(id: MessageId, limit: number): number[] {
    const s = this.#get(id.sender);
    if (!s || s.epoch !== id.epoch) return [];
    const out: number[] = [];
    // While the start is not fixed, the earlier messages (a sender counts from 1) may be on
    // their way or still cached next door: look for the last `limit` of them.
    const from = s.settleUntil !== 0 ? Math.max(1, id.seq - limit) : s.next;
    for (let q = from; q < id.seq && out.length < limit; q++) if (!s.held?.has(q)) out.push(q);
    return out;
  }

  /** Records our own broadcast so its echoes are recognised as duplicates. */
  own(id: MessageId): void {
    let s = this.#get(id.sender);
    if (!s || s.epoch !== id.epoch) s = this.#create(id.sender, id.epoch, id.seq, null);
    s.next = id.seq + 1;
  }

  /**
   * Accepts a message `classify` called new: delivers it and whatever it unblocks, in order, or
   * holds it back. Pushes `deliver`, `timer` and `report` actions.
   */
  accept(message: GossipMessage, from: PeerId, now: number, out: ActionSink, firstHint?: number): void {
    let s = this.#get(message.sender);
    if (!s || message.epoch > s.epoch) {
      if (s) this.#flush(message.sender, s, out); // the sender restarted: nothing older will come
      // Order starts at the first message seen, or earlier when an IHAVE announced an earlier
      // one that is still on its way (then it is awaited like any gap).
      let first = message.seq;
      if (
        firstHint !== undefined &&
        firstHint >= 1 &&
        firstHint < first &&
        first - firstHint <= this.#o.maxHoldBack
      ) {
        first = firstHint;
      }
      s = this.#create(message.sender, message.epoch, first, out);
      s.active = now;
      if (first > 1) {
        // We may be seeing this sender's messages out of order: wait a moment for earlier ones
        // before fixing where its order starts (`settleUntil`). Also when an IHAVE announced an
        // earlier one (`firstHint`): one earlier still may be on a slower path (seen in the
        // simulator with seeded trees: seq 2 announced, seq 3 arrived, then seq 1 was dropped).
        // Long enough for a graft of the earlier ones (timer up to 2x graftTimeoutMs, then a
        // round trip) to come back.
        s.settleUntil = now + 2 * this.#o.graftTimeoutMs + this.#o.graftRetryMs + this.#o.ihaveIntervalMs;
        s.held = new Map([[message.seq, { message, from }]]);
        s.gapDeadline = s.settleUntil;
        out.push({ type: 'timer', at: s.gapDeadline, timer: { kind: 'gap', sender: message.sender } });
        return;
      }
    } else if (s.settleUntil > now) {
      // Still settling: an earlier message moves the start back; nothing is delivered yet.
      this.#touch(message.sender, s, now);
      if (message.seq < s.first) s.first = s.next = message.seq;
      s.held!.set(message.seq, { message, from });
      return;
    } else {
      this.#touch(message.sender, s, now);
    }
    s.active = now;
    if (message.seq === s.next) {
      out.push({ type: 'deliver', message, from });
      s.next++;
      if (s.held) this.#drain(message.sender, s, now, out);
      return;
    }
    s.held ??= new Map();
    s.held.set(message.seq, { message, from });
    if (s.held.size > this.#o.maxHoldBack) {
      this.#skipTo(message.sender, s, 'overflow', out);
      this.#drain(message.sender, s, now, out);
    } else if (s.gapDeadline === UNSET) {
      this.#armGap(message.sender, s, now, out);
    }
  }

  /**
   * Takes one token from `sender`'s bucket (`originRate`); false when the sender is over its
   * rate. A sender not tracked yet has a full bucket.
   */
  take(sender: PeerId, now: number): boolean {
    const s = this.#get(sender);
    if (!s) return true;
    const { perSecond, burst } = this.#o.originRate;
    if (s.refilled === UNSET) s.refilled = now;
    if (now > s.refilled) {
      s.milliTokens = Math.min(burst * 1000, s.milliTokens + (now - s.refilled) * perSecond);
      s.refilled = now;
    }
    if (s.milliTokens < 1000) return false;
    s.milliTokens -= 1000;
    return true;
  }

  /**
   * Forgets senders silent for `senderTtlMs` (nothing of theirs can still be in flight: payloads
   * are cached 30 s at most), oldest first; the Map is in least-recently-active order, so this
   * stops at the first recent one.
   */
  expire(now: number): void {
    const limit = now - this.#o.senderTtlMs;
    for (const [sender, s] of this.#senders) {
      if (s.active > limit) return;
      if (s.held) continue;
      this.#senders.delete(sender);
      if (sender === this.#memoSender) this.#memoSender = null;
    }
  }

  /** Handles a `gap` timer: skips the gap if it is still open and due. */
  gapTimer(sender: PeerId, now: number, out: ActionSink): void {
    const s = this.#get(sender);
    if (!s || !s.held || s.gapDeadline === UNSET || s.gapDeadline > now) return;
    if (s.settleUntil !== 0) {
      // The start is fixed now: deliver from there, gaps as usual. Whatever came before it was
      // not delivered here, which the application is told.
      s.settleUntil = 0;
      if (s.first > 1) {
        out.push({
          type: 'report',
          report: { kind: 'gap', sender, epoch: s.epoch, first: 1, last: s.first - 1, reason: 'start' },
        });
      }
    } else {
      this.#skipTo(sender, s, 'timeout', out);
    }
    this.#drain(sender, s, now, out);
  }

  #get(sender: PeerId): SenderState | undefined {
    if (sender === this.#memoSender) return this.#memoState;
    const s = this.#senders.get(sender);
    this.#memoSender = sender;
    this.#memoState = s;
    return s;
  }

  /**
   * Keeps the Map in least-recently-active order (for eviction and `expire`), roughly: an entry
   * moves to the back only when it was last moved a while ago, which saves a delete and an
   * insert per message. Entries are then out of order by at most that while, so `expire` may
   * keep a silent sender up to `senderTtlMs / 16` longer (never shorter).
   */
  #touch(sender: PeerId, s: SenderState, now: number): void {
    if (s.touched !== UNSET && now - s.touched < this.#o.senderTtlMs / 16) return;
    s.touched = now;
    this.#senders.delete(sender);
    this.#senders.set(sender, s);
  }

  #create(sender: PeerId, epoch: number, first: number, out: ActionSink | null): SenderState {
    this.#senders.delete(sender);
    this.#memoSender = null;
    this.#memoState = undefined;
    if (this.#senders.size >= this.#o.maxSenders) {
      const [oldest, state] = this.#senders.entries().next().value as [PeerId, SenderState];
      this.#senders.delete(oldest);
      if (out) {
        this.#flush(oldest, state, out);
        out.push({ type: 'report', report: { kind: 'sender-evicted', sender: oldest } });
      }
    }
    const s: SenderState = {
      epoch,
      next: first,
      first,
      held: null,
      skipped: null,
      gapDeadline: UNSET,
      settleUntil: 0,
      lazy: null,
      hops: 0,
      parent: null,
      relayed: 0,
      active: 0,
      touched: UNSET,
      latest: null,
      latestFrom: '',
      milliTokens: this.#o.originRate.burst * 1000,
      refilled: UNSET,
    };
    this.#senders.set(sender, s);
    this.#memoSender = sender;
    this.#memoState = s;
    return s;
  }

  #armGap(sender: PeerId, s: SenderState, now: number, out: ActionSink): void {
    s.gapDeadline = now + this.#o.gapTimeoutMs;
    out.push({ type: 'timer', at: s.gapDeadline, timer: { kind: 'gap', sender } });
  }

  /** Gives up on the messages before the oldest held one. */
  #skipTo(sender: PeerId, s: SenderState, reason: 'timeout' | 'overflow', out: ActionSink): void {
    let lowest = Infinity;
    for (const seq of s.held!.keys()) if (seq < lowest) lowest = seq;
    if (lowest <= s.next) return;
    out.push({
      type: 'report',
      report: { kind: 'gap', sender, epoch: s.epoch, first: s.next, last: lowest - 1, reason },
    });
    s.skipped ??= [];
    s.skipped.push([s.next, lowest - 1]);
    if (s.skipped.length > MAX_SKIPPED_RANGES) s.skipped.shift();
    s.next = lowest;
  }

  /** Delivers held messages that are now due; re-arms the gap timer if a gap remains. */
  #drain(sender: PeerId, s: SenderState, now: number, out: ActionSink): void {
    const held = s.held!;
    let h: Held | undefined;
    while ((h = held.get(s.next)) !== undefined) {
      held.delete(s.next);
      out.push({ type: 'deliver', message: h.message, from: h.from });
      s.next++;
    }
    if (held.size === 0) {
      s.held = null;
      s.gapDeadline = UNSET;
    } else {
      this.#armGap(sender, s, now, out);
    }
  }

  /** Delivers everything held (skipping gaps, reported) before the state is dropped. */
  #flush(sender: PeerId, s: SenderState, out: ActionSink): void {
    while (s.held && s.held.size > 0) {
      this.#skipTo(sender, s, 'overflow', out);
      let h: Held | undefined;
      while ((h = s.held.get(s.next)) !== undefined) {
        s.held.delete(s.next);
        out.push({ type: 'deliver', message: h.message, from: h.from });
        s.next++;
      }
    }
    s.held = null;
  }
}
