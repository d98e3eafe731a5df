/**
 * A set of peers with O(1) add, remove, lookup and uniform random pick: HyParView picks random
 * members of its views all the time, and a Map alone cannot pick at random without copying.
 */
import type { PeerId, PeerInfo } from './types.js';

/** Peers in insertion order (until removals swap the last one into the hole). */
export class PeerSet {
  readonly #items: PeerInfo[] = [];
  /**
   * The members' IDs in the same order: the broadcast layer walks the neighbours' IDs for every
   * payload, and with thousands of nodes in one process (the simulator) reading each member's
   * info object for its ID is a cache miss per neighbour.
   */
  readonly #ids: PeerId[] = [];
  readonly #index = new Map<PeerId, number>();

  /** Number of peers. */
  get size(): number {
    return this.#items.length;
  }

  /** Whether `id` is in the set. */
  has(id: PeerId): boolean {
    return this.#index.has(id);
  }

  /** The stored info of `id`, if present. */
  get(id: PeerId): PeerInfo | undefined {
    const i = this.#index.get(id);
    return i === undefined ? undefined : this.#items[i];
  }

  /** Adds `peer`, or refreshes its address when already present (an empty address never wins). */
  add(peer: PeerInfo): void {
    const i = this.#index.get(peer.id);
    if (i !== undefined) {
      const old = this.#items[i]!;
      if (peer.address !== '' && peer.address !== old.address) this.#items[i] = peer;
      return;
    }
    this.#index.set(peer.id, this.#items.length);
    this.#items.push(peer);
    this.#ids.push(peer.id);
  }

  /** Removes `id`; returns its info if it was present. */
  delete(id: PeerId): PeerInfo | undefined {
    const i = this.#index.get(id);
    if (i === undefined) return undefined;
    const removed = this.#items[i]!;
    const last = this.#items.pop()!;
    this.#ids.pop();
    this.#index.delete(id);
    if (last !== removed) {
      this.#items[i] = last;
      this.#ids[i] = last.id;
      this.#index.set(last.id, i);
    }
    return removed;
  }

  /** A uniformly random member other than those in `exclude`, or undefined. */
  random(random: () => number, exclude?: (id: PeerId) => boolean): PeerInfo | undefined {
    const n = this.#items.length;
    if (n === 0) return undefined;
    const start = Math.floor(random() * n);
    // Probe from a random start: uniform when nothing is excluded, and still O(n) worst case.
    for (let k = 0; k < n; k++) {
      const p = this.#items[(start + k) % n]!;
      if (!exclude || !exclude(p.id)) return p;
    }
    return undefined;
  }

  /** Up to `count` distinct random members (partial Fisher-Yates on a copy). */
  sample(random: () => number, count: number, exclude?: (id: PeerId) => boolean): PeerInfo[] {
    const pool = exclude ? this.#items.filter((p) => !exclude(p.id)) : this.#items.slice();
    const k = Math.min(count, pool.length);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(random() * (pool.length - i));
      const t = pool[i]!;
      pool[i] = pool[j]!;
      pool[j] = t;
    }
    pool.length = k;
    return pool;
  }

  /** The members (a live view: do not modify while iterating over the set). */
  values(): readonly PeerInfo[] {
    return this.#items;
  }

  /** The members' IDs, in the order of `values()` (a live view: do not modify). */
  idList(): readonly PeerId[] {
    return this.#ids;
  }

  /** The members' IDs, copied. */
  ids(): PeerId[] {
    return this.#items.map((p) => p.id);
  }
}
