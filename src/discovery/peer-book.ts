/** An address this node has learned of, connected or not. */
export interface KnownPeer {
  address: string;
  /** The peer's ID, when a native PEERS frame or a past connection told us. */
  id?: string;
  /**
   * True when `id` was proven by a connection of ours (its certificate), not merely claimed in
   * someone's PEERS list. Only a verified ID is demanded when dialling: otherwise any peer could
   * block an honest address for good by pairing it with a made-up ID.
   */
  verified: boolean;
  firstSeen: number;
  /** Consecutive failed dials; reset by a successful connection. */
  failures: number;
  /** Earliest time the next automatic dial may start (backoff after failures). */
  nextAttemptAt: number;
}

const MAX_BACKOFF_MS = 5 * 60_000;

/**
 * The bounded set of known peer addresses (the original's "known peers"). It never grows past
 * `capacity`, so a peer flooding PEERS lists cannot exhaust memory; addresses that belong to this
 * node are remembered separately and never dialled.
 */
export class PeerBook {
  readonly #capacity: number;
  readonly #known = new Map<string, KnownPeer>();
  readonly #self = new Set<string>();
  readonly #verifiedIds = new Set<string>();

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#known.size;
  }

  get(address: string): KnownPeer | undefined {
    return this.#known.get(address);
  }

  values(): IterableIterator<KnownPeer> {
    return this.#known.values();
  }

  /** Adds an address; returns true when it was new. Full book or own address: ignored. */
  add(address: string, now: number, id?: string): boolean {
    if (this.#self.has(address)) return false;
    const existing = this.#known.get(address);
    // Another spelling (localhost vs 127.0.0.1) of a peer whose ID we verified is no new peer.
    if (!existing && id && this.#verifiedIds.has(id)) return false;
    if (existing) {
      if (id && !existing.id) existing.id = id;
      return false;
    }
    if (this.#known.size >= this.#capacity && !this.#evictOne()) return false;
    this.#known.set(address, { address, id, verified: false, firstSeen: now, failures: 0, nextAttemptAt: 0 });
    return true;
  }

  /** Marks an address as this node's own: it is forgotten and never added again. */
  markSelf(address: string): void {
    this.#self.add(address);
    this.#known.delete(address);
  }

  isSelf(address: string): boolean {
    return this.#self.has(address);
  }

  /** Records a failed dial and pushes the next automatic attempt out exponentially. */
  recordFailure(address: string, now: number, baseDelayMs: number): void {
    const entry = this.#known.get(address);
    if (!entry) return;
    entry.failures++;
    entry.nextAttemptAt = now + Math.min(baseDelayMs * 2 ** (entry.failures - 1), MAX_BACKOFF_MS);
  }

  /** Records a successful connection (clears the backoff) and the ID found there. */
  recordSuccess(address: string, id: string): void {
    const entry = this.#known.get(address);
    if (!entry) return;
    entry.failures = 0;
    entry.nextAttemptAt = 0;
    entry.id = id;
    entry.verified = true;
    this.#verifiedIds.add(id);
    if (this.#verifiedIds.size > this.#capacity) {
      // Peers come and go with fresh identities: keep only the IDs still in the book.
      this.#verifiedIds.clear();
      for (const known of this.#known.values())
        if (known.verified && known.id) this.#verifiedIds.add(known.id);
    }
    // Forget other spellings of the same peer's address, so it is listed and dialled once.
    for (const other of this.#known.values()) {
      if (other !== entry && other.id === id) this.#known.delete(other.address);
    }
  }

  /** Drops the entry that failed most often, to make room for a fresh one. */
  #evictOne(): boolean {
    let worst: KnownPeer | undefined;
    for (const entry of this.#known.values()) {
      if (entry.failures > 0 && (!worst || entry.failures > worst.failures)) worst = entry;
    }
    if (!worst) return false;
    this.#known.delete(worst.address);
    return true;
  }
}
