/**
 * The simulator's event queue: a bucket (calendar) queue with one bucket per virtual
 * millisecond, ordered by (time, insertion order) so every run is reproducible. A 10,000-node
 * run schedules ~2.5 × 10^7 events; neither a heap's log n per push and pop nor an object per
 * event would do.
 *
 * Each bucket stores its events' fields itself, in typed arrays in insertion order, so running
 * a bucket reads memory front to back: events are run some 10^4 to 10^5 events after they were
 * scheduled, long after their memory left the CPU caches, and a front-to-back read is one the
 * hardware prefetches. (Earlier, each event was a slot in shared arrays, reused through a free
 * list: five scattered cache misses to run one, ~6 % of a 10,000-node run.) A finished bucket's
 * arrays are reused for a later one.
 *
 * When a bucket becomes current its run order is computed, a stable sort by time unless it is in
 * order already (almost every link latency is a whole number of ms, so most buckets are). An
 * event scheduled into the current bucket is put at its place among the events not yet run.
 */

/** One millisecond's events, in insertion order. */
class Bucket<M> {
  t: Float64Array;
  /** Kind, node and from of each event, three per event. */
  knf: Int32Array;
  m: (M | null)[];
  len = 0;

  constructor(cap: number) {
    this.t = new Float64Array(cap);
    this.knf = new Int32Array(3 * cap);
    this.m = new Array<M | null>(cap).fill(null);
  }

  add(time: number, kind: number, node: number, from: number, ref: M | null): number {
    const r = this.len;
    if (r === this.t.length) this.#grow();
    this.t[r] = time;
    const x = 3 * r;
    this.knf[x] = kind;
    this.knf[x + 1] = node;
    this.knf[x + 2] = from;
    this.m[r] = ref;
    this.len = r + 1;
    return r;
  }

  #grow(): void {
    const cap = 2 * this.t.length;
    const t = new Float64Array(cap);
    t.set(this.t);
    this.t = t;
    const knf = new Int32Array(3 * cap);
    knf.set(this.knf);
    this.knf = knf;
    for (let i = this.m.length; i < cap; i++) this.m.push(null);
  }
}

/** The event queue; `M` is what an event refers to (the simulator's message or timer). */
export class EventQueue<M> {
  /** The event `pop` took: its time, kind, node, "from" and reference (the simulator's meaning). */
  time = 0;
  kind = 0;
  node = 0;
  from = 0;
  ref: M | null = null;

  readonly #buckets: (Bucket<M> | undefined)[];
  readonly #spare: Bucket<M>[] = [];
  readonly #end: number;
  /** The bucket being run (index `#bucket`), or null. */
  #cur: Bucket<M> | null = null;
  #bucket = 0;
  /** Run order of the current bucket (its event numbers), and how far it has run. */
  #order = new Int32Array(1024);
  #orderLen = 0;
  #pos = 0;
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
    this.#buckets = new Array<Bucket<M> | undefined>(Math.floor(end) + 1);
  }

  /** Events waiting. */
  get size(): number {
    return this.#size;
  }

  /** Schedules an event at `time` (not before the current bucket); false if past the end. */
  push(time: number, kind: number, node: number, from: number, ref: M | null): boolean {
    if (time > this.#end) return false;
    this.#size++;
    const b = Math.floor(time);
    const cur = this.#cur;
    if (cur !== null && b === this.#bucket) {
      this.#insertCurrent(cur, cur.add(time, kind, node, from, ref), time, node);
      return true;
    }
    let bucket = this.#buckets[b];
    if (bucket === undefined) bucket = this.#buckets[b] = this.#spare.pop() ?? new Bucket<M>(256);
    bucket.add(time, kind, node, from, ref);
    return true;
  }

  /**
   * The time of the next event `pop` would take, or Infinity when none is left (the parallel
   * engine stops a window at the first event past its end).
   */
  nextTime(): number {
    if (!this.#load()) return Infinity;
    return this.#cur!.t[this.#order[this.#pos]!]!;
  }

  /** Takes the next event into `time`, `kind`, `node`, `from` and `ref`; false when none is left. */
  pop(): boolean {
    if (!this.#load()) return false;
    const cur = this.#cur!;
    const r = this.#order[this.#pos++]!;
    this.#size--;
    this.time = cur.t[r]!;
    const x = 3 * r;
    this.kind = cur.knf[x]!;
    this.node = cur.knf[x + 1]!;
    this.from = cur.knf[x + 2]!;
    this.ref = cur.m[r]!;
    cur.m[r] = null; // the queue keeps no reference to what it has handed out
    return true;
  }

  /** Makes the bucket of the next event current; false when no event is left. */
  #load(): boolean {
    while (this.#pos >= this.#orderLen) {
      const done = this.#cur;
      if (done !== null) {
        this.#buckets[this.#bucket] = undefined;
        this.#bucket++;
        this.#cur = null;
        this.#pos = this.#orderLen = 0;
        done.len = 0;
        this.#spare.push(done);
      }
      if (this.#size === 0) return false;
      const buckets = this.#buckets;
      while (this.#bucket < buckets.length && buckets[this.#bucket] === undefined) this.#bucket++;
      if (this.#bucket >= buckets.length) return false;
      const bucket = buckets[this.#bucket]!;
      this.#cur = bucket;
      this.#orderBucket(bucket);
    }
    return true;
  }

  /**
   * Puts event `r`, just added to the current bucket, at its place among the events not yet
   * run: after every one at the same or an earlier time (and, by node, the same time and a lower
   * or equal node).
   */
  #insertCurrent(cur: Bucket<M>, r: number, time: number, node: number): void {
    if (this.#orderLen === this.#order.length) {
      const grown = new Int32Array(2 * this.#order.length);
      grown.set(this.#order);
      this.#order = grown;
    }
    const order = this.#order;
    const t = cur.t;
    const knf = cur.knf;
    let i = this.#orderLen;
    while (i > this.#pos) {
      const prev = order[i - 1]!;
      const tp = t[prev]!;
      if (tp < time) break;
      if (tp === time && (!this.#byNode || knf[3 * prev + 1]! <= node)) break;
      i--;
    }
    order.copyWithin(i + 1, i, this.#orderLen);
    order[i] = r;
    this.#orderLen++;
  }

  /** Computes the run order of a bucket that becomes current. */
  #orderBucket(bucket: Bucket<M>): void {
    const len = bucket.len;
    if (this.#order.length < len) this.#order = new Int32Array(Math.max(len, 2 * this.#order.length));
    const order = this.#order;
    this.#orderLen = len;
    this.#pos = 0;
    const t = bucket.t;
    let inTime = true;
    for (let r = 0; r < len; r++) {
      order[r] = r;
      if (r > 0 && t[r]! < t[r - 1]!) inTime = false;
    }
    if (len < 2) return;
    if (this.#byNode) return this.#orderByNode(bucket);
    if (inTime) return;
    const sorted = Array.from(order.subarray(0, len)).sort((a, b) => t[a]! - t[b]! || a - b);
    order.set(sorted);
  }

  /**
   * Sorts a bucket by (time, node, insertion). When every event has one time (whole-ms clocks:
   * nearly always), a native numeric sort of node × 2^21 + insertion does it without a
   * comparator call per pair.
   */
  #orderByNode(bucket: Bucket<M>): void {
    const len = bucket.len;
    const t = bucket.t;
    const knf = bucket.knf;
    const order = this.#order;
    const t0 = t[0]!;
    let oneTime = len < 1 << 21;
    for (let r = 1; oneTime && r < len; r++) if (t[r] !== t0) oneTime = false;
    if (!oneTime) {
      const sorted = Array.from(order.subarray(0, len)).sort(
        (a, b) => t[a]! - t[b]! || knf[3 * a + 1]! - knf[3 * b + 1]! || a - b,
      );
      order.set(sorted);
      return;
    }
    let keys = this.#keys;
    if (keys.length < len) keys = this.#keys = new Float64Array(Math.max(len, 2 * keys.length));
    const view = keys.subarray(0, len);
    // node + 1: the simulator schedules global events (broadcasts, the kill) on node -1.
    for (let r = 0; r < len; r++) view[r] = (knf[3 * r + 1]! + 1) * 2097152 + r;
    view.sort();
    for (let r = 0; r < len; r++) order[r] = view[r]! % 2097152;
  }

  #keys = new Float64Array(1024);
}
