/**
 * The simulator's event queue: a bucket (calendar) queue with one bucket per virtual
 * millisecond, ordered by (time, insertion order) so every run is reproducible. Events are
 * slots, reused through a free list: a 10,000-node run schedules ~2.5 × 10^7 events and neither
 * allocates an object per event nor pays a heap's log n per push and pop. A slot's time, kind,
 * node and "from" sit side by side in one array (one cache line): an event runs 10^4 to 10^5
 * events after it was scheduled, long after its slot left the CPU caches, and four separate
 * arrays were four misses to run it.
 *
 * A future bucket is an array of slot numbers appended in insertion order; when it becomes
 * current it is stably sorted by time if it is not in order already (almost every link latency
 * is a whole number of ms, so most buckets are). An event scheduled into the current bucket is
 * inserted at its place among the events not yet run.
 */

/** Fields per slot in `#rec`: time, kind, node, from. */
const STRIDE = 4;

/** The event queue; `M` is what an event refers to (the simulator's message or timer). */
export class EventQueue<M> {
  /** The event `pop` took: its time, kind, node, "from" and reference (the simulator's meaning). */
  time = 0;
  kind = 0;
  node = 0;
  from = 0;
  ref: M | null = null;

  /** Time, kind, node and from of each slot (`STRIDE` numbers per slot). */
  #rec: Float64Array;
  #m: (M | null)[];
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
    this.#rec = new Float64Array(STRIDE * cap);
    this.#m = new Array<M | null>(cap).fill(null);
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
      if (this.#used === this.#m.length) this.#grow();
      slot = this.#used++;
    }
    const rec = this.#rec;
    const x = STRIDE * slot;
    rec[x] = time;
    rec[x + 1] = kind;
    rec[x + 2] = node;
    rec[x + 3] = from;
    this.#m[slot] = ref;
    this.#size++;
    const b = Math.floor(time);
    if (b === this.#bucket && this.#loaded) {
      // Into the bucket being run: after every waiting event at the same or an earlier time
      // (and, by node, the same time and a lower or equal node).
      const cur = this.#cur;
      let i = cur.length;
      while (i > this.#pos) {
        const p = STRIDE * cur[i - 1]!;
        const tp = rec[p]!;
        if (tp < time || (tp === time && (!this.#byNode || rec[p + 2]! <= node))) break;
        i--;
      }
      cur.splice(i, 0, slot);
      return true;
    }
    const list = this.#buckets[b];
    if (list === undefined) this.#buckets[b] = [slot];
    else list.push(slot);
    return true;
  }

  /**
   * The time of the next event `pop` would take, or Infinity when none is left (the parallel
   * engine stops a window at the first event past its end).
   */
  nextTime(): number {
    if (!this.#load()) return Infinity;
    return this.#rec[STRIDE * this.#cur[this.#pos]!]!;
  }

  /** Takes the next event into `time`, `kind`, `node`, `from` and `ref`; false when none is left. */
  pop(): boolean {
    if (!this.#load()) return false;
    const slot = this.#cur[this.#pos++]!;
    this.#size--;
    const rec = this.#rec;
    const x = STRIDE * slot;
    this.time = rec[x]!;
    this.kind = rec[x + 1]!;
    this.node = rec[x + 2]!;
    this.from = rec[x + 3]!;
    this.ref = this.#m[slot]!;
    this.#m[slot] = null; // the queue keeps no reference to what it has handed out
    this.#free.push(slot);
    return true;
  }

  /** Makes the bucket of the next event current; false when no event is left. */
  #load(): boolean {
    while (this.#pos >= this.#cur.length) {
      if (this.#loaded) {
        this.#buckets[this.#bucket] = undefined;
        this.#bucket++;
        this.#loaded = false;
        this.#cur = [];
        this.#pos = 0;
      }
      if (this.#size === 0) return false;
      const buckets = this.#buckets;
      while (this.#bucket < buckets.length && buckets[this.#bucket] === undefined) this.#bucket++;
      if (this.#bucket >= buckets.length) return false;
      const list = buckets[this.#bucket]!;
      if (list.length > 1) this.#order(list);
      this.#cur = list;
      this.#loaded = true;
    }
    return true;
  }

  /** Stable sort by time (and node), unless already in order (the common case by time). */
  #order(list: number[]): void {
    if (this.#byNode) return this.#orderByNode(list);
    const rec = this.#rec;
    for (let i = 1; i < list.length; i++) {
      if (rec[STRIDE * list[i]!]! < rec[STRIDE * list[i - 1]!]!) {
        list.sort((a, b) => rec[STRIDE * a]! - rec[STRIDE * b]!);
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
    const rec = this.#rec;
    const len = list.length;
    const t0 = rec[STRIDE * list[0]!]!;
    let oneTime = len < 1 << 21;
    for (let i = 1; oneTime && i < len; i++) if (rec[STRIDE * list[i]!] !== t0) oneTime = false;
    if (!oneTime) {
      // Stable: insertion order kept.
      list.sort((a, b) => rec[STRIDE * a]! - rec[STRIDE * b]! || rec[STRIDE * a + 2]! - rec[STRIDE * b + 2]!);
      return;
    }
    let keys = this.#keys;
    if (keys.length < len) keys = this.#keys = new Float64Array(Math.max(len, 2 * keys.length));
    const view = keys.subarray(0, len);
    // node + 1: the simulator schedules global events (broadcasts, the kill) on node -1.
    for (let i = 0; i < len; i++) view[i] = (rec[STRIDE * list[i]! + 2]! + 1) * 2097152 + i;
    view.sort();
    const copy =
      this.#copy.length >= len ? this.#copy : (this.#copy = new Int32Array(Math.max(len, 2 * len)));
    for (let i = 0; i < len; i++) copy[i] = list[i]!;
    for (let i = 0; i < len; i++) list[i] = copy[view[i]! % 2097152]!;
  }

  #keys = new Float64Array(1024);
  #copy = new Int32Array(1024);

  #grow(): void {
    const cap = this.#m.length * 2;
    const rec = new Float64Array(STRIDE * cap);
    rec.set(this.#rec);
    this.#rec = rec;
    for (let i = this.#m.length; i < cap; i++) this.#m.push(null);
  }
}
