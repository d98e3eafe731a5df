/**
 * The messages a node has heard of (by IHAVE, or as a gap in a sender's sequence) but not
 * received: who announced each, and the GRAFT timer that pulls it from them in turn. Plumtree's
 * repair path; rarely used once the trees have settled, so kept out of the payload path except
 * for one counter check.
 */
import type { ResolvedOverlayOptions } from './options.js';
import type { SenderOrder } from './sender-order.js';
import { keyOf, makeEager } from './sender-tree.js';
import type { ActionSink, MessageId, OverlayReport, PeerId } from './types.js';

/** Most announcers remembered per missing message. */
const MAX_SOURCES = 8;
/** How many times each announcer of a missing message is asked before giving up on it. */
const MAX_GRAFT_ROUNDS = 3;

interface Missing {
  id: MessageId;
  sources: PeerId[];
  /** GRAFTs sent so far (in this round of sources). */
  attempts: number;
  /** Whether every neighbour has been made a source (the last resort). */
  widened: boolean;
  armed: boolean;
  expires: number;
}

/** What the tracker needs from membership. */
interface Neighbors {
  isNeighbor(id: PeerId): boolean;
  neighborIds(): readonly PeerId[];
}

/** The missing messages of one node (owned by its `Plumtree`). */
export class MissingMessages {
  readonly #missing = new Map<string, Missing>();
  /** `#missing.size`, kept as a field: checked for every payload, rarely non-zero. */
  #count = 0;
  /** Lowest announced sequence per sender not yet tracked by `order` (see `expect`). */
  readonly #lowest = new Map<PeerId, { epoch: number; seq: number }>();
  readonly #o: ResolvedOverlayOptions;
  readonly #order: SenderOrder;
  readonly #host: Neighbors;

  constructor(options: ResolvedOverlayOptions, order: SenderOrder, host: Neighbors) {
    this.#o = options;
    this.#order = order;
    this.#host = host;
  }

  /** Messages still being pulled. */
  get size(): number {
    return this.#count;
  }

  /**
   * A new message arrived: it is no longer missing. Returns the lowest sequence announced for its
   * sender while this node had no order for it (where that order should start), if any.
   */
  received(m: MessageId): number | undefined {
    if (this.#count > 0) this.#forget(keyOf(m));
    // `tracks` first: the sender's state was just looked up (memoised), the map is elsewhere.
    if (this.#order.tracks(m.sender, m.epoch) || this.#lowest.size === 0) return undefined;
    const low = this.#lowest.get(m.sender);
    this.#lowest.delete(m.sender);
    return low && low.epoch === m.epoch ? low.seq : undefined;
  }

  /** Records that `id` exists and `from` has it; arms a graft timer if none is pending. */
  expect(id: MessageId, from: PeerId, now: number, out: ActionSink): void {
    const key = keyOf(id);
    let m = this.#missing.get(key);
    if (!m) {
      m = {
        id: { sender: id.sender, epoch: id.epoch, seq: id.seq },
        sources: [],
        attempts: 0,
        widened: false,
        armed: false,
        expires: 0,
      };
      this.#missing.set(key, m);
      this.#count = this.#missing.size;
    }
    m.expires = now + this.#o.cacheRetentionMs;
    if (!this.#order.tracks(id.sender, id.epoch)) {
      // Remember the lowest announced message of a sender we have no order for yet, so that a
      // later message overtaking it does not start the order past it.
      const low = this.#lowest.get(id.sender);
      if (!low || id.epoch > low.epoch || (id.epoch === low.epoch && id.seq < low.seq)) {
        if (this.#lowest.size >= this.#o.maxSenders) this.#lowest.clear();
        this.#lowest.set(id.sender, { epoch: id.epoch, seq: id.seq });
      }
    }
    if (m.sources.length < MAX_SOURCES && !m.sources.includes(from)) m.sources.push(from);
    if (!m.armed) {
      m.armed = true;
      // Jitter (1x to 2x): the nodes that missed a payload hear of it at about the same time;
      // spreading their grafts lets the first repaired copy reach the others before they pull
      // their own (fewer duplicates).
      const delay = this.#o.graftTimeoutMs * (1 + this.#o.random());
      out.push({ type: 'timer', at: now + delay, timer: { kind: 'graft', key } });
    }
  }

  /** A graft timer: pull the message from the next announcer, or wait for another announcement. */
  graftTimer(key: string, now: number, out: ActionSink): void {
    const m = this.#missing.get(key);
    if (!m) return;
    m.armed = false;
    if (this.#order.classify(m.id) !== 'new') {
      this.#forget(key);
      return;
    }
    // Announcers are asked in turn, round after round (a GRAFT or its answer can be lost too),
    // at most MAX_GRAFT_ROUNDS times each. If none of them had it (a gap seen in the sequence
    // numbers, where the only hint is the neighbour that sent the next message), every
    // neighbour is asked once; after that only a new announcement re-arms the timer.
    if (m.attempts >= m.sources.length * MAX_GRAFT_ROUNDS && !m.widened) {
      m.widened = true;
      m.attempts = 0;
      m.sources = this.#host.neighborIds().slice(0, MAX_SOURCES);
    }
    while (m.sources.length > 0 && m.attempts < m.sources.length * (m.widened ? 1 : MAX_GRAFT_ROUNDS)) {
      const source = m.sources[m.attempts++ % m.sources.length]!;
      if (!this.#host.isNeighbor(source)) {
        m.sources.splice(m.sources.indexOf(source), 1);
        continue;
      }
      makeEager(this.#order.state(m.id.sender), source);
      out.push({ type: 'send', to: source, address: '', message: { type: 'graft', ids: [m.id] } });
      m.armed = true;
      out.push({ type: 'timer', at: now + this.#o.graftRetryMs, timer: { kind: 'graft', key } });
      return;
    }
  }

  /**
   * Drops what arrived meanwhile; a message announced to us that we never got, however often we
   * grafted it, is reported (`missed`) when its entry expires: it may never show up as a gap
   * (when no later message of its sender reaches us).
   */
  expire(now: number, out: ActionSink): void {
    for (const [key, m] of this.#missing) {
      if (this.#order.classify(m.id) !== 'new') {
        this.#forget(key);
      } else if (m.expires <= now) {
        this.#forget(key);
        const report: OverlayReport = { kind: 'missed', id: m.id };
        out.push({ type: 'report', report });
      }
    }
  }

  #forget(key: string): void {
    this.#missing.delete(key);
    this.#count = this.#missing.size;
  }
}
