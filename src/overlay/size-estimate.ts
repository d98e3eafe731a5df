/**
 * Network-size estimate: a k-minimum-values (KMV) sketch of the members' ID hashes, carried in
 * SHUFFLE and SHUFFLE_REPLY messages (PROTOCOL.md O10). Every node hashes each ID to 32 bits;
 * the sketch keeps the k smallest hashes it has heard of, each with the time its owner last
 * vouched for it. If the network has n members, the k-th smallest of n uniform hashes is about
 * k/n of the hash space, so n ≈ (k − 1) / U(k) (Bar-Yossef et al. 2002; unbiased, relative
 * standard error ≈ 1 / sqrt(k − 2): 9 % at the default k = 128). With fewer than k members
 * known the sketch holds them all, and the estimate is their exact count.
 *
 * Departed members must leave the sketch: an entry's age grows as it travels, only its owner
 * resets it (every node puts its own hash, age 0, in what it sends), and entries older than the
 * TTL are dropped. The node keeps 2k entries, so when one of the k smallest expires the next is
 * already at hand. The sketch doubles as a component fingerprint: two nodes of one connected
 * overlay hold nearly the same k smallest hashes, two nodes of halves split for longer than the
 * TTL share almost none (`overlap`), which is what tells a re-join probe to merge.
 *
 * Bounded: 2k entries in memory, at most k + 1 on the wire (6 bytes each). Not authenticated:
 * a member can inflate the estimate by sending made-up small hashes; it is informational only.
 */

/** One sketch entry on the wire: a 32-bit ID hash and its age in whole seconds. */
export interface SketchEntry {
  hash: number;
  age: number;
}

/** Largest age on the wire (u16 seconds). */
export const MAX_SKETCH_AGE_S = 0xffff;

/** The 32-bit hash of an ID: FNV-1a over its characters, then MurmurHash3's finaliser. */
export function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Scratch space for `merge`, shared by every sketch of the process (merges never nest): a
 * simulator runs 10,000 sketches in one process, and per-merge arrays were a large part of its
 * garbage.
 */
let scratchHashes = new Uint32Array(0);
let scratchTimes = new Float64Array(0);

function ensureScratch(n: number): void {
  if (scratchHashes.length >= n) return;
  const cap = Math.max(n, 2 * scratchHashes.length, 64);
  scratchHashes = new Uint32Array(cap);
  scratchTimes = new Float64Array(cap);
}

/**
 * The sketch of one node. Entries live in two parallel typed arrays sorted by hash (hash, time
 * its owner last vouched for it on the driver's clock): sorted is what every reader wants, a
 * merge is one linear pass, and 2k entries take 12 bytes each instead of a Map's ~56.
 */
export class SizeSketch {
  #hashes: Uint32Array;
  #times: Float64Array;
  #n = 0;
  readonly #own: number;
  readonly #k: number;
  readonly #ttlMs: number;

  constructor(selfId: string, k: number, ttlMs: number) {
    this.#own = hashId(selfId);
    this.#k = k;
    this.#ttlMs = ttlMs;
    // Small at first: a node of a small network never holds 2k entries.
    const cap = Math.min(16, 2 * k);
    this.#hashes = new Uint32Array(cap);
    this.#times = new Float64Array(cap);
  }

  /** Merges entries heard from a peer (invalid ones are skipped). */
  merge(entries: readonly SketchEntry[] | undefined, now: number): void {
    if (!entries || entries.length === 0) return;
    // The valid incoming entries, sorted by hash, each hash once with its freshest time.
    ensureScratch(2 * entries.length + this.#n);
    const inH = scratchHashes;
    const inT = scratchTimes;
    let m = 0;
    let sorted = true;
    for (const e of entries) {
      if (e.hash === this.#own || !(e.age >= 0)) continue;
      const t = now - e.age * 1000;
      if (now - t > this.#ttlMs) continue;
      if (m > 0 && e.hash < inH[m - 1]!) sorted = false;
      inH[m] = e.hash;
      inT[m] = t;
      m++;
    }
    if (m === 0) return;
    if (!sorted) sortPairs(inH, inT, m);
    // Merge ours and theirs into the scratch space after theirs (the later time winning on
    // equal hashes), keeping only the 2k smallest hashes, then copy back.
    const limit = 2 * this.#k;
    const ownH = this.#hashes;
    const ownT = this.#times;
    const n = this.#n;
    const base = m;
    let a = 0;
    let b = 0;
    let o = 0;
    while (o < limit && (a < n || b < m)) {
      let h: number;
      let t: number;
      if (b >= m || (a < n && ownH[a]! < inH[b]!)) {
        h = ownH[a]!;
        t = ownT[a++]!;
      } else {
        h = inH[b]!;
        t = inT[b++]!;
        // Equal hashes (repeated in theirs, or in ours too): keep the freshest time.
        while (b < m && inH[b] === h) if (inT[b++]! > t) t = inT[b - 1]!;
        if (a < n && ownH[a] === h) if (ownT[a++]! > t) t = ownT[a - 1]!;
      }
      inH[base + o] = h;
      inT[base + o++] = t;
    }
    if (o > ownH.length) {
      const cap = Math.min(limit, Math.max(o, 2 * ownH.length));
      this.#hashes = new Uint32Array(cap);
      this.#times = new Float64Array(cap);
    }
    this.#hashes.set(inH.subarray(base, base + o));
    this.#times.set(inT.subarray(base, base + o));
    this.#n = o;
  }

  /** What to send: the k smallest fresh hashes and our own, with their ages. */
  entries(now: number): SketchEntry[] {
    this.#expire(now);
    const out: SketchEntry[] = [{ hash: this.#own, age: 0 }];
    const k = Math.min(this.#k, this.#n);
    for (let i = 0; i < k; i++) {
      // Rounded up: rounding down would make an entry a little fresher at every hop, and one
      // circulating among live nodes would then never expire.
      const age = Math.min(MAX_SKETCH_AGE_S, Math.max(0, Math.ceil((now - this.#times[i]!) / 1000)));
      out.push({ hash: this.#hashes[i]!, age });
    }
    return out;
  }

  /** The estimated number of members, this node included. */
  estimate(now: number): number {
    this.#expire(now);
    const all = this.#withOwn();
    if (all.length < this.#k) return all.length;
    const kth = all[this.#k - 1]!;
    return Math.round((this.#k - 1) / ((kth + 1) / 2 ** 32));
  }

  /**
   * Of the k smallest hashes of both sketches together, the share both hold: about 1 within one
   * connected overlay, about 0 between halves split for longer than the TTL.
   */
  overlap(theirs: readonly SketchEntry[], now: number): number {
    this.#expire(now);
    const mine = new Set(this.#withOwn());
    const other = new Set<number>();
    for (const e of theirs) if (e.age * 1000 <= this.#ttlMs) other.add(e.hash);
    const union = [...new Set([...mine, ...other])].sort((a, b) => a - b).slice(0, this.#k);
    if (union.length === 0) return 1;
    let both = 0;
    for (const h of union) if (mine.has(h) && other.has(h)) both++;
    return both / union.length;
  }

  /** Our hashes and our own, sorted. */
  #withOwn(): number[] {
    const all: number[] = [];
    let own = false;
    for (let i = 0; i < this.#n; i++) {
      const h = this.#hashes[i]!;
      if (!own && h >= this.#own) {
        all.push(this.#own);
        own = true;
      }
      all.push(h);
    }
    if (!own) all.push(this.#own);
    return all;
  }

  /** Drops entries whose owner has not vouched for them within the TTL (order kept). */
  #expire(now: number): void {
    const h = this.#hashes;
    const t = this.#times;
    let o = 0;
    for (let i = 0; i < this.#n; i++) {
      if (now - t[i]! > this.#ttlMs) continue;
      if (o !== i) {
        h[o] = h[i]!;
        t[o] = t[i]!;
      }
      o++;
    }
    this.#n = o;
  }
}

/** Sorts the first `n` (hash, time) pairs by hash (insertion sort: the lists are short). */
function sortPairs(h: Uint32Array, t: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const x = h[i]!;
    const y = t[i]!;
    let j = i - 1;
    while (j >= 0 && h[j]! > x) {
      h[j + 1] = h[j]!;
      t[j + 1] = t[j]!;
      j--;
    }
    h[j + 1] = x;
    t[j + 1] = y;
  }
}

/** The spread of the nodes' estimates against the true size (the simulator's `size_estimate`). */
export function estimateSummary(
  nodes: readonly { membership: { sizeEstimate(): number } }[],
  alive: ArrayLike<number>,
): { actual: number; min: number; p50: number; max: number } {
  const estimates: number[] = [];
  for (let i = 0; i < nodes.length; i++) if (alive[i]) estimates.push(nodes[i]!.membership.sizeEstimate());
  estimates.sort((a, b) => a - b);
  return {
    actual: estimates.length,
    min: estimates[0] ?? 0,
    p50: estimates[Math.floor(estimates.length / 2)] ?? 0,
    max: estimates.at(-1) ?? 0,
  };
}
