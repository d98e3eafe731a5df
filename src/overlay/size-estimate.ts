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

/** The sketch of one node. */
export class SizeSketch {
  /** hash → time (driver clock) its owner last vouched for it, as far as we know. */
  readonly #fresh = new Map<number, number>();
  readonly #own: number;
  readonly #k: number;
  readonly #ttlMs: number;

  constructor(selfId: string, k: number, ttlMs: number) {
    this.#own = hashId(selfId);
    this.#k = k;
    this.#ttlMs = ttlMs;
  }

  /** Merges entries heard from a peer (invalid ones are skipped). */
  merge(entries: readonly SketchEntry[] | undefined, now: number): void {
    if (!entries) return;
    for (const e of entries) {
      if (e.hash === this.#own || !(e.age >= 0)) continue;
      const t = now - e.age * 1000;
      if (now - t > this.#ttlMs) continue;
      const known = this.#fresh.get(e.hash);
      if (known === undefined || t > known) this.#fresh.set(e.hash, t);
    }
    if (this.#fresh.size > 2 * this.#k) {
      const keep = this.#sorted().slice(0, 2 * this.#k);
      const cut = keep[keep.length - 1]!;
      for (const h of [...this.#fresh.keys()]) if (h > cut) this.#fresh.delete(h);
    }
  }

  /** What to send: the k smallest fresh hashes and our own, with their ages. */
  entries(now: number): SketchEntry[] {
    this.#expire(now);
    const out: SketchEntry[] = [{ hash: this.#own, age: 0 }];
    for (const h of this.#sorted().slice(0, this.#k)) {
      // Rounded up: rounding down would make an entry a little fresher at every hop, and one
      // circulating among live nodes would then never expire.
      const age = Math.min(MAX_SKETCH_AGE_S, Math.max(0, Math.ceil((now - this.#fresh.get(h)!) / 1000)));
      out.push({ hash: h, age });
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

  #withOwn(): number[] {
    const all = this.#sorted();
    let i = 0;
    while (i < all.length && all[i]! < this.#own) i++;
    all.splice(i, 0, this.#own);
    return all;
  }

  #sorted(): number[] {
    return [...this.#fresh.keys()].sort((a, b) => a - b);
  }

  #expire(now: number): void {
    for (const [h, t] of this.#fresh) if (now - t > this.#ttlMs) this.#fresh.delete(h);
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
