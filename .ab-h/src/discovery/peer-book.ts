/** An address this node has learned of, connected or not. */
export interface KnownPeer {
  address: string;
  /**
   * The peer's ID. Proven when `verified`; otherwise only what someone claimed (a PEERS list, an
   * inbound peer's hello), a hint that never blocks a dial.
   */
  id?: string;
  /**
   * True when `id` was proven by a dial of ours to this very address (the listener's
   * certificate). Only a verified ID is demanded when dialling, and only a dial can verify one:
   * a peer that claims someone else's address in its hello, or lists it in PEERS, binds nothing.
   */
  verified: boolean;
  /** Which source found it: `exchange`, `bootstrap`, `dial`, `lan`, `book`, ... */
  source: string;
  /**
   * Whose claim it is, for quotas and dial budgets: the peer that listed it (peer exchange),
   * else the source's name.
   */
  quotaKey: string;
  firstSeen: number;
  /** Consecutive failed dials; reset by a successful connection. */
  failures: number;
  /** Earliest time the next automatic dial may start (backoff after failures). */
  nextAttemptAt: number;
}

/** Longest backoff between automatic dials of one address. */
const MAX_BACKOFF_MS = 5 * 60_000;
/**
 * Share of the book one source's unproven claims may fill. A peer sending a huge PEERS list
 * (or many) fills at most this part: the rest stays open to other peers' addresses.
 */
const SOURCE_SHARE = 0.25;
/** Smallest per-source quota, so a tiny book still takes a real peer list. */
const MIN_SOURCE_QUOTA = 16;
/** Most addresses remembered as this node's own (learnt from self-dials); oldest forgotten first. */
const MAX_SELF_ADDRESSES = 256;

/**
 * The bounded set of known peer addresses (the original's "known peers"). It never grows past
 * `capacity`, no single source's claims take more than a quarter of it, and an address proven by
 * a successful dial is never evicted to make room for a claim. Addresses that belong to this node
 * are remembered separately (bounded too) and never dialled.
 */
export class PeerBook {
  readonly #capacity: number;
  readonly #sourceQuota: number;
  readonly #known = new Map<string, KnownPeer>();
  /** Insertion-ordered, so the oldest is forgotten first when it is full. */
  readonly #self = new Set<string>();
  readonly #verifiedIds = new Set<string>();
  /** Unproven entries per source. */
  readonly #perSource = new Map<string, number>();

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#sourceQuota = Math.min(capacity, Math.max(MIN_SOURCE_QUOTA, Math.floor(capacity * SOURCE_SHARE)));
  }

  get size(): number {
    return this.#known.size;
  }

  get capacity(): number {
    return this.#capacity;
  }

  get(address: string): KnownPeer | undefined {
    return this.#known.get(address);
  }

  values(): IterableIterator<KnownPeer> {
    return this.#known.values();
  }

  /** How many unproven entries are charged to `quotaKey`. */
  countFrom(quotaKey: string): number {
    return this.#perSource.get(quotaKey) ?? 0;
  }

  /**
   * Adds a claimed address; returns true when it was new. Ignored when it is our own, when the
   * source already holds its share of the book, or when the book is full of better entries.
   */
  add(address: string, now: number, source: string, quotaKey: string, id?: string): boolean {
    if (this.#self.has(address)) return false;
    const existing = this.#known.get(address);
    // Another spelling (localhost vs 127.0.0.1) of a peer whose ID we verified is no new peer.
    if (!existing && id && this.#verifiedIds.has(id)) return false;
    if (existing) {
      if (id && !existing.id) existing.id = id;
      return false;
    }
    if (this.countFrom(quotaKey) >= this.#sourceQuota) return false;
    if (this.#known.size >= this.#capacity && !this.#evictOne(quotaKey)) return false;
    this.#known.set(address, {
      address,
      id,
      verified: false,
      source,
      quotaKey,
      firstSeen: now,
      failures: 0,
      nextAttemptAt: 0,
    });
    this.#perSource.set(quotaKey, this.countFrom(quotaKey) + 1);
    return true;
  }

  /** Marks an address as this node's own: it is forgotten and never added again. */
  markSelf(address: string): void {
    this.#self.delete(address);
    this.#self.add(address);
    if (this.#self.size > MAX_SELF_ADDRESSES) {
      const oldest = this.#self.values().next().value as string;
      this.#self.delete(oldest);
    }
    this.#forget(address);
  }

  isSelf(address: string): boolean {
    return this.#self.has(address);
  }

  /** Records a failed dial and pushes the next automatic attempt out exponentially. */
  recordFailure(address: string, now: number, baseDelayMs: number): void {
    const entry = this.#known.get(address);
    if (!entry) return;
    entry.failures++;
    // Never shortens a longer wait set meanwhile (a LAN goodbye holds a departed peer's address
    // while a dial of it may still be in flight).
    const backoff = now + Math.min(baseDelayMs * 2 ** (entry.failures - 1), MAX_BACKOFF_MS);
    entry.nextAttemptAt = Math.max(entry.nextAttemptAt, backoff);
  }

  /**
   * Records a successful dial of `address` that proved `id`: the address is bound to that ID
   * (verified), its backoff cleared. Added first if the book did not hold it (a dial the user
   * asked for, a redial), making room by evicting an unproven entry if need be.
   */
  recordDial(address: string, id: string, now: number): void {
    let entry = this.#known.get(address);
    if (!entry) {
      if (this.#self.has(address)) return;
      if (this.#known.size >= this.#capacity && !this.#evictOne(undefined)) return;
      entry = {
        address,
        id,
        verified: true,
        source: 'dial',
        quotaKey: 'dial',
        firstSeen: now,
        failures: 0,
        nextAttemptAt: 0,
      };
      this.#known.set(address, entry);
    } else if (!entry.verified) {
      this.#uncount(entry);
    }
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
      if (other !== entry && other.id === id) this.#forget(other.address);
    }
  }

  /**
   * Records a connection that proved nothing about the address (an inbound peer's claimed listen
   * address, or any compat peer): clears the backoff, keeps whatever binding the address had.
   */
  recordClaim(address: string, id: string, now: number, quotaKey: string): void {
    this.add(address, now, 'exchange', quotaKey, id);
    const entry = this.#known.get(address);
    if (!entry) return;
    entry.failures = 0;
    entry.nextAttemptAt = 0;
  }

  #forget(address: string): void {
    const entry = this.#known.get(address);
    if (!entry) return;
    this.#known.delete(address);
    if (!entry.verified) this.#uncount(entry);
  }

  #uncount(entry: KnownPeer): void {
    const left = this.countFrom(entry.quotaKey) - 1;
    if (left > 0) this.#perSource.set(entry.quotaKey, left);
    else this.#perSource.delete(entry.quotaKey);
  }

  /**
   * Makes room for one entry: drops the unproven entry that failed most often, else the oldest
   * unproven entry of the source holding the most (never `forSource`'s own claims for itself, and
   * never a proven address).
   */
  #evictOne(forQuotaKey: string | undefined): boolean {
    let worst: KnownPeer | undefined;
    for (const entry of this.#known.values()) {
      if (!entry.verified && entry.failures > 0 && (!worst || entry.failures > worst.failures)) worst = entry;
    }
    if (!worst) {
      let biggest: string | undefined;
      for (const [source, count] of this.#perSource) {
        if (source !== forQuotaKey && (!biggest || count > this.countFrom(biggest))) biggest = source;
      }
      if (biggest === undefined) return false;
      for (const entry of this.#known.values()) {
        if (!entry.verified && entry.quotaKey === biggest) {
          worst = entry;
          break;
        }
      }
    }
    if (!worst) return false;
    this.#forget(worst.address);
    return true;
  }
}
