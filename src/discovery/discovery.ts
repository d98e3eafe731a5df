import type { PeerAddress, PeersFrame } from '../codec/frame.js';
import type { MeshCore } from '../core.js';
import { MeshwireError, PERMANENT_DIAL_ERRORS, toMeshwireError } from '../errors.js';
import type { PeerRef } from '../messages.js';
import { peerRef, type Peer } from '../peers/peer-table.js';
import type { KnownPeer } from './peer-book.js';

/** Known-but-unconnected addresses added to each PEERS list (as the original). */
const EXTRA_KNOWN_IN_LIST = 5;
/** How long the end of a link that should not dial first waits before it dials anyway. */
const DEFER_MS = 2000;
/** Most automatic dials one node keeps in flight: more only burn CPU on handshakes that time out. */
const MAX_AUTO_DIALS = 8;
/** First redial delay after a peer drops; doubles per failure. */
const REDIAL_BASE_MS = 1000;
/** Longest wait between two redials of one dropped peer. */
const REDIAL_MAX_DELAY_MS = 60_000;
/**
 * Redials of one dropped peer (about 3 minutes of trying with the delays above); after that the
 * periodic discovery round keeps retrying it on the peer book's slower backoff.
 */
const REDIAL_MAX_ATTEMPTS = 8;
/** Dial failures that no retry can fix: the peer is back, or what answers there is not it. */
const REDIAL_FINAL_ERRORS = new Set<string>([
  'ERR_DUPLICATE_PEER',
  'ERR_SELF_CONNECTION',
  'ERR_PEER_ID_MISMATCH',
  'ERR_UNAUTHORIZED',
  'ERR_VERSION_MISMATCH',
  'ERR_CLOSED',
  'ERR_ABORTED',
  ...PERMANENT_DIAL_ERRORS,
]);

function isIpv6Loopback(address: string): boolean {
  return address.startsWith('[::1]');
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MeshwireError('ERR_ABORTED', 'aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new MeshwireError('ERR_ABORTED', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Peer exchange, automatic dialling of discovered peers, periodic discovery, bootstrap with
 * retries and redial with backoff. New peers are dialled as soon as a PEERS list names them, so
 * a mesh converges without waiting for the discovery timer.
 */
export class Discovery {
  readonly #core: MeshCore;
  readonly #scheduled = new Set<string>();
  /** Addresses of dropped peers with a redial pending. */
  readonly #redials = new Set<string>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #followUp: NodeJS.Timeout | undefined;
  #followUpAt = Infinity;
  #inFlight = 0;

  constructor(core: MeshCore) {
    this.#core = core;
  }

  /** The PEERS list for `to`: our connected peers but `to`, plus a few known unconnected ones. */
  peersFrameFor(to: Peer | undefined): PeersFrame | undefined {
    const { table, book } = this.#core;
    const peers: PeerAddress[] = [];
    for (const peer of table.values()) {
      if (peer !== to && peer.advertised && !isIpv6Loopback(peer.address)) {
        peers.push({ address: peer.address, id: peer.id });
      }
    }
    let extra = 0;
    for (const known of book.values()) {
      if (extra >= EXTRA_KNOWN_IN_LIST) break;
      if (table.hasAddress(known.address) || isIpv6Loopback(known.address) || known.address === to?.address)
        continue;
      if (known.failures > 0) continue;
      // A connected peer is listed above under its current address; another address it was known
      // by (e.g. before a late LISTEN line) would only repeat it, or tell `to` its own address.
      if (known.id && table.get(known.id)) continue;
      peers.push(known.id ? { address: known.address, id: known.id } : { address: known.address });
      extra++;
    }
    return peers.length > 0 ? { type: 'peers', peers } : undefined;
  }

  /** Sends our PEERS list to `to`, if non-empty. */
  sharePeers(to: Peer): void {
    const frame = this.peersFrameFor(to);
    if (!frame) return;
    this.#core.sendControl(to, frame);
    if (this.#core.options.debug) {
      this.#core.report({
        type: 'peer-response',
        peer: peerRef(to),
        direction: 'sent',
        addresses: frame.peers.map((p) => p.address),
      });
    }
  }

  /** Asks `peer` for its peers. */
  requestPeers(peer: Peer): void {
    this.#core.sendControl(peer, { type: 'request-peers' });
    if (this.#core.options.debug)
      this.#core.report({ type: 'peer-request', peer: peerRef(peer), direction: 'sent' });
  }

  /** Called once a handshake completes: remember the address, exchange lists at once. */
  onConnected(peer: Peer): void {
    const { book } = this.#core;
    if (peer.advertised) {
      const isNew = book.add(peer.address, Date.now(), peer.id);
      book.recordSuccess(peer.address, peer.id);
      if (isNew) this.#announce(peer);
    }
    this.sharePeers(peer);
    if (peer.direction === 'outbound') this.requestPeers(peer);
  }

  /**
   * Tells every other peer about a newcomer at once. The newcomer learns of them from our list
   * in the same moment, so both ends of each missing link know of each other and the dial-order
   * rule (see {@link autoConnect}) lets exactly one of them dial, without waiting for a
   * discovery round.
   */
  #announce(newcomer: Peer): void {
    const frame = { type: 'peers' as const, peers: [{ address: newcomer.address, id: newcomer.id }] };
    for (const peer of this.#core.table.values()) {
      if (peer !== newcomer) this.#core.sendControl(peer, frame);
    }
  }

  /**
   * A peer that dropped unexpectedly (crash, network failure) is redialled with backoff (1 s,
   * 2 s, 4 s, ... up to {@link REDIAL_MAX_ATTEMPTS} tries) until it is back, so a peer that
   * restarts on the same address rejoins without a bootstrap of its own. The first redial also
   * refills other free slots from the peer book.
   */
  onDisconnected(peer: Peer, byUs: boolean): void {
    if (byUs || this.#core.closed) return;
    const entry = this.#core.book.get(peer.address);
    if (!entry) return;
    // The redial owns this address for now: autoConnect leaves it alone until the first attempt.
    entry.nextAttemptAt = Date.now() + REDIAL_BASE_MS;
    this.#scheduleRedial(peer.address, peer.id, 1);
  }

  #scheduleRedial(address: string, id: string, attempt: number): void {
    if (this.#redials.has(address)) return;
    this.#redials.add(address);
    const delay = Math.min(REDIAL_BASE_MS * 2 ** (attempt - 1), REDIAL_MAX_DELAY_MS);
    this.#later(delay + Math.random() * this.#core.options.autoConnectJitterMs, () => {
      this.#redials.delete(address);
      void this.#redial(address, id, attempt);
      if (attempt === 1) this.autoConnect();
    });
  }

  async #redial(address: string, id: string, attempt: number): Promise<void> {
    const { table, book } = this.#core;
    if (this.#core.closed || !book.get(address) || this.#core.isSelfAddress(address)) return;
    // Back already (it dialled us, or a PEERS list led to it), or no room: nothing to redial.
    if (table.hasAddress(address) || table.get(id) || table.isFull()) return;
    try {
      await this.#core.dial(address);
    } catch (err) {
      // dial() reported connection-failed already.
      if (this.#core.closed || attempt >= REDIAL_MAX_ATTEMPTS) return;
      if (REDIAL_FINAL_ERRORS.has(toMeshwireError(err).code)) return;
      this.#scheduleRedial(address, id, attempt + 1);
    }
  }

  /** Handles a received PEERS list. */
  onPeers(from: Peer, frame: PeersFrame): void {
    const { book, options } = this.#core;
    const now = Date.now();
    const added: string[] = [];
    for (const entry of frame.peers) {
      const address = entry.address;
      if (!address || isIpv6Loopback(address) || this.#core.isSelfAddress(address)) continue;
      if (book.add(address, now, entry.id)) added.push(address);
    }
    if (options.debug) {
      this.#core.report({
        type: 'peer-response',
        peer: peerRef(from),
        direction: 'received',
        addresses: frame.peers.map((p) => p.address),
      });
    }
    if (added.length > 0) {
      this.#core.report({
        type: 'peers-discovered',
        from: peerRef(from),
        newCount: added.length,
        totalKnown: book.size,
        addresses: added,
      });
    }
    this.autoConnect();
  }

  /**
   * Dials up to `autoConnectMax` random known peers that are neither connected nor being
   * dialled, keeping at most {@link MAX_AUTO_DIALS} of its own dials in flight; each finished dial
   * starts the next round, so a node fills its mesh as fast as handshakes complete.
   */
  autoConnect(limit = this.#core.options.autoConnectMax): void {
    const { table, book, options } = this.#core;
    if (this.#core.closed) return;
    const now = Date.now();
    const free = options.maxPeers - table.size - this.#scheduled.size - this.#inFlight;
    const room = MAX_AUTO_DIALS - this.#scheduled.size - this.#inFlight;
    let waitingUntil = Infinity;
    const candidates = [...book.values()].filter((known) => {
      if (
        known.nextAttemptAt > now ||
        table.hasAddress(known.address) ||
        (known.id && table.get(known.id)) ||
        this.#scheduled.has(known.address) ||
        this.#core.isDialing(known.address) ||
        this.#core.isSelfAddress(known.address)
      ) {
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
    const chosen = shuffle(candidates).slice(0, Math.max(0, Math.min(limit, free, room)));
    // Come back for what this round could not take, rather than wait for the next PEERS list or
    // discovery tick, which may never come once the mesh is nearly complete.
    const next =
      chosen.length < candidates.length ? now + Math.max(50, options.autoConnectJitterMs) : waitingUntil;
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
    for (const known of chosen) {
      this.#scheduled.add(known.address);
      this.#later(Math.random() * options.autoConnectJitterMs, () => {
        this.#scheduled.delete(known.address);
        if (table.hasAddress(known.address) || (known.id && table.get(known.id)) || table.isFull()) return;
        this.#inFlight++;
        this.#core
          .dial(known.address)
          .catch(() => {
            // dial() already reported connection-failed; the backoff in the book paces retries.
          })
          .finally(() => {
            this.#inFlight--;
            this.autoConnect();
          });
      });
    }
  }

  /**
   * True when the other end should dial this link: the lower peer ID dials when we know its ID,
   * else the lower port (the compat protocol lists bare addresses). Either way both ends compute
   * the same answer for a pair, and a wrong guess only costs the grace period.
   */
  #defers(known: KnownPeer): boolean {
    if (known.id) return known.id < this.#core.selfId;
    const port = Number(known.address.slice(known.address.lastIndexOf(':') + 1));
    return port < this.#core.port;
  }

  /** The periodic discovery round: ask everyone for peers, retry known unconnected ones. */
  tick(): void {
    for (const peer of this.#core.table.values()) this.requestPeers(peer);
    this.autoConnect(Number.MAX_SAFE_INTEGER);
  }

  /**
   * Connects to `address`, retrying on the bootstrap schedule: the first attempt at once, then
   * one after each delay. Reports bootstrap-success or bootstrap-failed.
   */
  async bootstrap(address: string, signal?: AbortSignal): Promise<PeerRef> {
    const delays = this.#core.options.bootstrapRetryMs;
    let lastError: MeshwireError = new MeshwireError(
      'ERR_BOOTSTRAP_FAILED',
      'node closed before the first attempt',
    );
    let attempts = 0;
    for (let attempt = 1; attempt <= delays.length + 1; attempt++) {
      if (this.#core.closed) break;
      attempts = attempt;
      try {
        const peer = await this.#core.dial(address, { signal });
        this.#core.report({ type: 'bootstrap-success', address, peer, attempts: attempt });
        return peer;
      } catch (err) {
        lastError = toMeshwireError(err);
        if (lastError.code === 'ERR_DUPLICATE_PEER') {
          const peer = [...this.#core.table.values()].find((p) => p.address === address);
          if (peer) {
            this.#core.report({ type: 'bootstrap-success', address, peer: peerRef(peer), attempts: attempt });
            return peerRef(peer);
          }
        }
        if (lastError.code === 'ERR_ABORTED' || PERMANENT_DIAL_ERRORS.has(lastError.code)) break;
      }
      const delay = delays[attempt - 1];
      if (delay === undefined) break;
      try {
        await sleep(delay, signal);
      } catch (err) {
        lastError = toMeshwireError(err);
        break;
      }
    }
    const error = new MeshwireError(
      'ERR_BOOTSTRAP_FAILED',
      `bootstrap to ${address} failed: ${lastError.message}`,
      {
        cause: lastError,
      },
    );
    this.#core.report({ type: 'bootstrap-failed', address, attempts, error });
    throw error;
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
