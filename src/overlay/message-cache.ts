/**
 * Recent payloads kept to answer GRAFTs, bounded in count and in time. A ring buffer: adding is
 * O(1) and allocation-free, and a lookup scans newest first. GRAFTs are rare (a repair, not the
 * normal path), so a scan of at most `maxCachedMessages` entries is cheaper overall than keeping
 * a per-message index for every broadcast.
 */
import type { GossipMessage, MessageId } from './types.js';

/** A bounded, time-limited store of the last broadcasts seen. */
export class MessageCache {
  #messages: (GossipMessage | undefined)[];
  /**
   * When each entry was added. A plain array, not a Float64Array: V8 stores numbers unboxed in
   * it all the same, on its own heap, where a typed array adds an ArrayBuffer and a backing
   * store elsewhere in memory (two more cold reads per `add` with 10,000 simulated nodes).
   */
  #times: number[];
  /** Current ring size: starts small and doubles up to `capacity` (10,000 simulated nodes). */
  #cap = 16;
  /** Index of the oldest entry. */
  #head = 0;
  #size = 0;
  /**
   * No entry is older than this (a lower bound of the oldest entry's time, exact after each
   * `expire` that looked). `add` checks expiry against this field instead of reading the times
   * array: one cache miss less per payload with 10,000 simulated nodes (2 % of the run). An
   * eviction for room leaves it lower than the new oldest entry's time, which is safe: `expire`
   * then looks at the array once and refreshes it.
   */
  #oldestAt = 0;

  constructor(
    private readonly capacity: number,
    private readonly retentionMs: number,
  ) {
    this.#cap = Math.min(this.#cap, capacity);
    this.#messages = new Array<GossipMessage | undefined>(this.#cap);
    this.#times = new Array<number>(this.#cap).fill(0);
  }

  /** Number of payloads held. */
  get size(): number {
    return this.#size;
  }

  /** Stores `message` (received at `now`), evicting the oldest entry when full. */
  add(message: GossipMessage, now: number): void {
    this.expire(now);
    if (this.#size === this.#cap && this.#cap < this.capacity) this.#grow();
    const cap = this.#cap;
    if (this.#size === cap) {
      this.#head = (this.#head + 1) % cap;
      this.#size--;
    }
    const i = (this.#head + this.#size) % cap;
    this.#messages[i] = message;
    this.#times[i] = now;
    if (this.#size === 0) this.#oldestAt = now;
    this.#size++;
  }

  /** The cached payload of `id`, if still held. */
  get(id: MessageId, now: number): GossipMessage | undefined {
    this.expire(now);
    const cap = this.#cap;
    for (let k = this.#size - 1; k >= 0; k--) {
      const m = this.#messages[(this.#head + k) % cap]!;
      if (m.seq === id.seq && m.sender === id.sender && m.epoch === id.epoch) return m;
    }
    return undefined;
  }

  /**
   * Visits the payloads held, newest first, until `visit` returns false. O(size): for rare paths
   * only (a new neighbour is told the newest message of each sender, plumtree.ts `neighborUp`).
   */
  forEachNewest(now: number, visit: (m: GossipMessage) => boolean): void {
    this.expire(now);
    const cap = this.#cap;
    for (let k = this.#size - 1; k >= 0; k--) {
      if (!visit(this.#messages[(this.#head + k) % cap]!)) return;
    }
  }

  /** Doubles the ring (up to `capacity`), oldest entry first. */
  #grow(): void {
    const cap = Math.min(this.capacity, this.#cap * 2);
    const messages = new Array<GossipMessage | undefined>(cap);
    const times = new Array<number>(cap).fill(0);
    for (let k = 0; k < this.#size; k++) {
      const i = (this.#head + k) % this.#cap;
      messages[k] = this.#messages[i];
      times[k] = this.#times[i]!;
    }
    this.#messages = messages;
    this.#times = times;
    this.#head = 0;
    this.#cap = cap;
  }

  /** Drops entries older than the retention time. */
  expire(now: number): void {
    const limit = now - this.retentionMs;
    if (this.#size === 0 || this.#oldestAt >= limit) return;
    const cap = this.#cap;
    while (this.#size > 0 && this.#times[this.#head]! < limit) {
      this.#messages[this.#head] = undefined;
      this.#head = (this.#head + 1) % cap;
      this.#size--;
    }
    if (this.#size > 0) this.#oldestAt = this.#times[this.#head]!;
  }
}
