/**
 * The simulator's event queue: a bucket (calendar) queue with one bucket per virtual
 * millisecond, ordered by (time, insertion order) so every run is reproducible. Events are
 * slots in typed arrays, reused through a free list: a 10,000-node run schedules ~10^7 events
 * and neither allocates an object per event nor pays a heap's log n per push and pop.
 *
 * A future bucket is an array of slot numbers appended in insertion order; when it becomes
 * current it is stably sorted by time if it is not in order already (almost every link latency
 * is a whole number of ms, so most buckets are). An event scheduled into the current bucket is
 * inserted at its place among the events not yet run.
 */

/** What an event slot holds besides its time: kind, node, other node and a reference. */
export class EventQueue<M> {
  /** Time of each slot. */
  t: Float64Array;
  /** Kind, node and "from" of each slot (the simulator's meaning). */
  k: Uint8Array;
  n: Int32Array;
  f: Int32Array;
  m: (M | null)[];
  #free: number[] = [];
  #used = 0;
  readonly #buckets: (number[] | undefined)[];
  readonly #end: number;
  #cur: number[] = [];
  #pos = 0;
  #bucket = 0;
  /** Whether `#cur` is the bucket `#bucket`, being run. */
  #loaded = false;
  #size = 0;

  /**
   * Order events of one time by node index as well: `pop` then returns the waiting event least
   * by (time, node, insertion). A simulator's consecutive events then touch nodes in index
   * order, and nodes built in index order sit in memory in that order: fewer cache and TLB
   * misses than the insertion order, which jumps between random nodes. Per-node (so per-link)
   * insertion order is kept either way.
   */
  readonly #byNode: boolean;

  /** Events later than `end` (ms) are never run, so they are not stored. */
  constructor(end: number, options: { byNode?: boolean } = {}) {
    this.#byNode = options.byNode ?? false;
    this.#end = end;
    this.#buckets = new Array<number[] | undefined>(Math.floor(end) + 1);
    const cap = 1 << 16;
    this.t = new Float64Array(cap);
    this.k = new Uint8Array(cap);
    this.n = new Int32Array(cap);
    this.f = new Int32Array(cap);
    this.m = new Array<M | null>(cap).fill(null);
  }

  /** Events waiting. */
  get size(): number {
    return this.#size;
  }

  /** Schedules an event at `time` (not before the current bucket); false if past the end. */
  push(time: number, kind: number, node: number, from: number, ref: M | null): boolean {
    if (time > this.#end) return false;
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#used === this.t.length) this.#grow();
      slot = this.#used++;
    }
    this.t[slot] = time;
    this.k[slot] = kind;
    this.n[slot] = node;
    this.f[slot] = from;
    this.m[slot] = ref;
    this.#size++;
    const b = Math.floor(time);
    if (b === this.#bucket && this.#loaded) {
      // Into the bucket being run: after every waiting event at the same or an earlier time
      // (and, by node, the same time and a lower or equal node).
      const cur = this.#cur;
      let i = cur.length;
      if (this.#byNode) {
        const t = this.t;
        const n = this.n;
        while (i > this.#pos) {
          const prev = cur[i - 1]!;
          if (t[prev]! < time || (t[prev] === time && n[prev]! <= node)) break;
          i--;
        }
      } else {
        while (i > this.#pos && this.t[cur[i - 1]!]! > time) i--;
      }
      cur.splice(i, 0, slot);
      return true;
    }
    const list = this.#buckets[b];
    if (list === undefined) this.#buckets[b] = [slot];
    else list.push(slot);
    return true;
  }

  /** The next slot to run, or -1 when none is left. Read its fields, then `release` it. */
  pop(): number {
    while (this.#pos >= this.#cur.length) {
      if (this.#loaded) {
        this.#buckets[this.#bucket] = undefined;
        this.#bucket++;
        this.#loaded = false;
        this.#cur = [];
        this.#pos = 0;
      }
      if (this.#size === 0) return -1;
      const buckets = this.#buckets;
      while (this.#bucket < buckets.length && buckets[this.#bucket] === undefined) this.#bucket++;
      if (this.#bucket >= buckets.length) return -1;
      const list = buckets[this.#bucket]!;
      if (list.length > 1) this.#order(list);
      this.#cur = list;
      this.#loaded = true;
    }
    this.#size--;
    return this.#cur[this.#pos++]!;
  }

  /**
   * Puts back the slot `pop` just returned, unrun (the parallel engine pops the first event of
   * the next window, sees it is too late, and stops there). Only valid right after `pop`.
   */
  unpop(): void {
    this.#pos--;
    this.#size++;
  }

  /** Returns a slot to the free list (drops its reference). */
  release(slot: number): void {
    this.m[slot] = null;
    this.#free.push(slot);
  }

  /** Stable sort by time (and node), unless already in order (the common case by time). */
  #order(list: number[]): void {
    const t = this.t;
    if (this.#byNode) return this.#orderByNode(list);
    for (let i = 1; i < list.length; i++) {
      if (t[list[i]!]! < t[list[i - 1]!]!) {
        list.sort((a, b) => t[a]! - t[b]!);
        return;
      }
    }
  }

  /**
   * Sorts a bucket by (time, node, insertion). When every event has one time (whole-ms clocks:
   * nearly always), a native numeric sort of node × 2^21 + position does it without a
   * comparator call per pair.
   */
  #orderByNode(list: number[]): void {
    const t = this.t;
    const n = this.n;
    const len = list.length;
    const t0 = t[list[0]!]!;
    let oneTime = len < 1 << 21;
    for (let i = 1; oneTime && i < len; i++) if (t[list[i]!] !== t0) oneTime = false;
    if (!oneTime) {
      list.sort((a, b) => t[a]! - t[b]! || n[a]! - n[b]!); // stable: insertion order kept
      return;
    }
    let keys = this.#keys;
    if (keys.length < len) keys = this.#keys = new Float64Array(Math.max(len, 2 * keys.length));
    const view = keys.subarray(0, len);
    // node + 1: the simulator schedules global events (broadcasts, the kill) on node -1.
    for (let i = 0; i < len; i++) view[i] = (n[list[i]!]! + 1) * 2097152 + i;
    view.sort();
    const copy =
      this.#copy.length >= len ? this.#copy : (this.#copy = new Int32Array(Math.max(len, 2 * len)));
    for (let i = 0; i < len; i++) copy[i] = list[i]!;
    for (let i = 0; i < len; i++) list[i] = copy[view[i]! % 2097152]!;
  }

  #keys = new Float64Array(1024);
  #copy = new Int32Array(1024);

  #grow(): void {
    const cap = this.t.length * 2;
    const t = new Float64Array(cap);
    t.set(this.t);
    this.t = t;
    const k = new Uint8Array(cap);
    k.set(this.k);
    this.k = k;
    const n = new Int32Array(cap);
    n.set(this.n);
    this.n = n;
    const f = new Int32Array(cap);
    f.set(this.f);
    this.f = f;
    for (let i = this.m.length; i < cap; i++) this.m.push(null);
  }
}
