import { REDIAL_FINAL_ERRORS, toMeshwireError } from '../errors.js';
import type { CandidateSource, PeerRef, PeersDiscoveredMessage, WithoutTime } from '../messages.js';
import type { Peer } from '../peers/peer.js';
import { DialBudget } from './dial-budget.js';
import { PeerBook, type KnownPeer } from './peer-book.js';

/** How long the end of a link that should not dial first waits before it dials anyway. */
const DEFER_MS = 2000;
/** Most automatic dials one node keeps in flight: more only burn CPU on handshakes that time out. */
const MAX_AUTO_DIALS = 8;
/** Automatic dials, per second, that all sources together may start (sustained; see DialBudget). */
const GLOBAL_DIALS_PER_SECOND = 16;
/** Burst of automatic dials above the sustained rate. */
const GLOBAL_DIAL_BURST = 32;
/** Sources whose dial credit is tracked at once. */
const MAX_TRACKED_SOURCES = 1024;
/** First redial delay after a peer drops; doubles per failure. */
const REDIAL_BASE_MS = 1000;
/** Longest wait between two redials of one dropped peer. */
const REDIAL_MAX_DELAY_MS = 60_000;
/**
 * Redials of one dropped peer (about 3 minutes of trying with the delays above); after that the
 * periodic discovery round keeps retrying it on the peer book's slower backoff.
 */
const REDIAL_MAX_ATTEMPTS = 8;

/** How a source hands an address to discovery ({@link Discovery.addCandidate}). */
export interface CandidateOptions {
  /** Which source found it; recorded in the peer book and in `peers-discovered`. */
  source: CandidateSource;
  /** The peer whose claim it is (peer exchange): its claims share one budget and one book quota. */
  via?: string;
  /** The peer ID said to listen there (a hint unless `verified`). */
  id?: string;
  /** True when `id` is proven (a signed record, a dial of ours). */
  verified?: boolean;
}

/** Settings discovery reads. */
export interface DiscoveryOptions {
  maxKnownPeers: number;
  autoConnectMax: number;
  autoConnectJitterMs: number;
  discoveryIntervalMs: number;
}

/** What discovery needs from the node: who is connected, and a way to dial. */
export interface DiscoveryHost {
  isClosed(): boolean;
  /** This node's ID and port (the dial-order rule). */
  selfId(): string;
  selfPort(): number;
  isSelfAddress(address: string): boolean;
  /** True when a peer connected at `address` (proven or claimed) or with `id` is connected. */
  isConnected(address: string, id?: string): boolean;
  /** Free peer slots. */
  freeSlots(): number;
  /** True while a dial to `address` is in progress. */
  isDialing(address: string): boolean;
  dial(address: string): Promise<PeerRef>;
  report(message: WithoutTime<PeersDiscoveredMessage>): void;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/**
 * Candidate addresses from any source (peer exchange, bootstrap, LAN, the persisted book) go
 * into one bounded peer book through {@link addCandidate}; discovery dials them automatically,
 * within the dial budget, and redials peers lost to a crash with backoff. New candidates are
 * dialled at once, so a mesh converges without waiting for the discovery timer.
 */
export class Discovery {
  readonly book: PeerBook;
  readonly #host: DiscoveryHost;
  readonly #options: DiscoveryOptions;
  readonly #budget: DialBudget;
  readonly #scheduled = new Set<string>();
  /** Addresses of dropped peers with a redial pending. */
  readonly #redials = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #followUp: NodeJS.Timeout | undefined;
  #followUpAt = Infinity;
  #inFlight = 0;

  constructor(host: DiscoveryHost, options: DiscoveryOptions) {
    this.#host = host;
    this.#options = options;
    this.book = new PeerBook(options.maxKnownPeers);
    this.#budget = new DialBudget({
      perSource: Math.max(2, 2 * options.autoConnectMax),
      globalPerSecond: GLOBAL_DIALS_PER_SECOND,
      globalBurst: GLOBAL_DIAL_BURST,
      maxSources: MAX_TRACKED_SOURCES,
    });
  }

  /**
   * The one way in for every source: remembers `address` (bounded per source) and dials it when
   * it should. Returns true when the address was new.
   */
  addCandidate(address: string, options: CandidateOptions, now = Date.now()): boolean {
    if (this.#host.isSelfAddress(address)) return false;
    const quotaKey = options.via ?? options.source;
    const added = this.book.add(address, now, options.source, quotaKey, options.id);
    if (options.verified && options.id) this.book.recordDial(address, options.id, now);
    return added;
  }

  /** Adds a batch from one source, reports what was new, and starts dialling. */
  addCandidates(
    addresses: { address: string; id?: string }[],
    options: CandidateOptions,
    from?: PeerRef,
  ): string[] {
    const now = Date.now();
    const added: string[] = [];
    for (const entry of addresses) {
      const opts = entry.id ? { ...options, id: entry.id } : options;
      if (this.addCandidate(entry.address, opts, now)) added.push(entry.address);
    }
    if (added.length > 0) {
      this.#host.report({
        type: 'peers-discovered',
        source: options.source,
        ...(from ? { from } : {}),
        newCount: added.length,
        totalKnown: this.book.size,
        addresses: added,
      });
    }
    this.autoConnect();
    return added;
  }

  /**
   * Called once a handshake completes. Only our own dial proves that an address belongs to an
   * ID; what an inbound peer says it listens on is a claim, kept as a hint that binds nothing.
   * Returns true when the address was new to the book.
   */
  onConnected(peer: Peer): boolean {
    if (!peer.advertised) return false;
    const now = Date.now();
    const isNew = !this.book.get(peer.address);
    if (peer.direction === 'outbound') this.book.recordDial(peer.address, peer.id, now);
    else this.book.recordClaim(peer.address, peer.id, now, peer.id);
    return isNew;
  }

  /** Records a dial that failed (`self`: the address turned out to be this node's). */
  onDialFailed(address: string, self: boolean): void {
    if (self) this.book.markSelf(address);
    else this.book.recordFailure(address, Date.now(), this.#options.discoveryIntervalMs / 4);
  }

  /**
   * A peer that dropped unexpectedly (crash, network failure) is redialled with backoff (1 s,
   * 2 s, 4 s, ... up to {@link REDIAL_MAX_ATTEMPTS} tries) until it is back, whatever the book
   * holds, so a peer that restarts on the same address rejoins without a bootstrap of its own.
   * The first redial also refills other free slots from the peer book.
   */
  onDisconnected(peer: Peer, redial: boolean): void {
    if (!redial || this.#host.isClosed() || !peer.advertised) return;
    const entry = this.book.get(peer.address);
    // The redial owns this address for now: autoConnect leaves it alone until the first attempt.
    if (entry) entry.nextAttemptAt = Date.now() + REDIAL_BASE_MS;
    this.#scheduleRedial(peer.address, peer.id, 1);
  }

  #scheduleRedial(address: string, id: string, attempt: number): void {
    if (this.#redials.has(address)) return;
    this.#redials.add(address);
    const delay = Math.min(REDIAL_BASE_MS * 2 ** (attempt - 1), REDIAL_MAX_DELAY_MS);
    this.#later(delay + Math.random() * this.#options.autoConnectJitterMs, () => {
      this.#redials.delete(address);
      void this.#redial(address, id, attempt);
      if (attempt === 1) this.autoConnect();
    });
  }

  async #redial(address: string, id: string, attempt: number): Promise<void> {
    const host = this.#host;
    if (host.isClosed() || this.book.isSelf(address) || host.isSelfAddress(address)) return;
    // Back already (it dialled us, or a PEERS list led to it), or no room: nothing to redial.
    if (host.isConnected(address, id) || host.freeSlots() <= 0) return;
    try {
      await host.dial(address);
    } catch (err) {
      // dial() reported connection-failed already.
      if (host.isClosed() || attempt >= REDIAL_MAX_ATTEMPTS) return;
      if (REDIAL_FINAL_ERRORS.has(toMeshwireError(err).code)) return;
      this.#scheduleRedial(address, id, attempt + 1);
    }
  }

  /**
   * Dials up to `limit` random known peers that are neither connected nor being dialled,
   * keeping at most {@link MAX_AUTO_DIALS} of its own dials in flight and each source within
   * its budget; each finished dial starts the next round, so a node fills its mesh as fast as
   * handshakes complete.
   */
  autoConnect(limit = this.#options.autoConnectMax): void {
    const host = this.#host;
    if (host.isClosed()) return;
    const now = Date.now();
    const free = host.freeSlots() - this.#scheduled.size - this.#inFlight;
    const room = MAX_AUTO_DIALS - this.#scheduled.size - this.#inFlight;
    let waitingUntil = Infinity;
    const candidates = [...this.book.values()].filter((known) => {
      if (
        known.nextAttemptAt > now ||
        host.isConnected(known.address, known.id) ||
        this.#scheduled.has(known.address) ||
        host.isDialing(known.address) ||
        host.isSelfAddress(known.address)
      ) {
        return false;
      }
      // What other peers named is dialled within their budget only (see DialBudget).
      if (!known.verified && !this.#budget.allows(known.quotaKey, now)) {
        waitingUntil = Math.min(waitingUntil, this.#budget.nextAllowedAt(known.quotaKey, now));
        return false;
      }
      // Both ends of a missing link usually learn of each other at the same moment; if both
      // dialled, one connection would be wasted on the tie-break. So the end that ranks first
      // dials at once and the other only once the address has been known for a grace period, in
      // case the first never learns of it.
      if (this.#defers(known) && now - known.firstSeen < DEFER_MS) {
        waitingUntil = Math.min(waitingUntil, known.firstSeen + DEFER_MS);
        return false;
      }
      return true;
    });
    const max = Math.max(0, Math.min(limit, free, room));
    const chosen: KnownPeer[] = [];
    for (const known of shuffle(candidates)) {
      if (chosen.length >= max) break;
      // Charged as chosen: several candidates of one source in a round must not overdraw it.
      if (!known.verified) {
        if (!this.#budget.allows(known.quotaKey, now)) continue;
        this.#budget.charge(known.quotaKey, now);
      }
      chosen.push(known);
    }
    // Come back for what this round could not take, rather than wait for the next PEERS list or
    // discovery tick, which may never come once the mesh is nearly complete.
    const next =
      chosen.length < candidates.length
        ? now + Math.max(50, this.#options.autoConnectJitterMs)
        : waitingUntil;
    if (next < Infinity && next < this.#followUpAt) {
      if (this.#followUp) {
        clearTimeout(this.#followUp);
        this.#timers.delete(this.#followUp);
      }
      this.#followUpAt = next;
      this.#followUp = this.#later(next - now, () => {
        this.#followUpAt = Infinity;
        this.autoConnect();
      });
    }
    for (const known of chosen) this.#dialLater(known);
  }

  #dialLater(known: KnownPeer): void {
    const charged = !known.verified;
    this.#scheduled.add(known.address);
    this.#later(Math.random() * this.#options.autoConnectJitterMs, () => {
      this.#scheduled.delete(known.address);
      if (this.#host.isConnected(known.address, known.id) || this.#host.freeSlots() <= 0) return;
      this.#inFlight++;
      this.#host
        .dial(known.address)
        .then(() => {
          if (charged) this.#budget.refund(known.quotaKey);
        })
        .catch(() => {
          // dial() already reported connection-failed; the backoff in the book paces retries.
        })
        .finally(() => {
          this.#inFlight--;
          this.autoConnect();
        });
    });
  }

  /**
   * True when the other end should dial this link: the lower peer ID dials when we know its ID,
   * else the lower port (the compat protocol lists bare addresses). Either way both ends compute
   * the same answer for a pair, and a wrong guess only costs the grace period.
   */
  #defers(known: KnownPeer): boolean {
    if (known.id) return known.id < this.#host.selfId();
    const port = Number(known.address.slice(known.address.lastIndexOf(':') + 1));
    return port < this.#host.selfPort();
  }

  /** Cancels every scheduled dial. */
  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    this.#scheduled.clear();
    this.#redials.clear();
  }

  #later(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
    return timer;
  }
}
