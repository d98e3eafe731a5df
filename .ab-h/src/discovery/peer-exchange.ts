import type { PeerAddress, PeersFrame, RequestPeersFrame } from '../codec/frame.js';
import type { DebugMessage, WithoutTime } from '../messages.js';
import { peerRef, type Peer } from '../peers/peer.js';
import type { Discovery } from './discovery.js';

/** Known-but-unconnected addresses added to each PEERS list (as the original). */
const EXTRA_KNOWN_IN_LIST = 5;

/** What peer exchange needs from the node. */
export interface PeerExchangeHost {
  /** The connected peers. */
  peers(): Iterable<Peer>;
  /** True when a connected peer is known by `address` or has `id`. */
  isConnected(address: string, id?: string): boolean;
  /** Queues a control frame to `peer` (a failure drops that peer; the host reports it). */
  send(peer: Peer, frame: PeersFrame | RequestPeersFrame): void;
  /** Reports debug messages (peer-request / peer-response), when enabled. */
  report(message: WithoutTime<DebugMessage>): void;
  readonly debug: boolean;
}

function isIpv6Loopback(address: string): boolean {
  return address.startsWith('[::1]');
}

/**
 * The peer-exchange source of discovery (the original's PEERS / REQUEST_PEERS): shares our
 * peers with each newcomer and announces the newcomer to everyone else at once, and turns the
 * lists peers send into candidates, charged to the peer that sent them.
 */
export class PeerExchange {
  readonly #host: PeerExchangeHost;
  readonly #discovery: Discovery;

  constructor(host: PeerExchangeHost, discovery: Discovery) {
    this.#host = host;
    this.#discovery = discovery;
  }

  /** The PEERS list for `to`: our connected peers but `to`, plus a few known unconnected ones. */
  listFor(to: Peer | undefined): PeersFrame | undefined {
    const peers: PeerAddress[] = [];
    for (const peer of this.#host.peers()) {
      if (peer !== to && peer.advertised && !isIpv6Loopback(peer.address)) {
        peers.push({ address: peer.address, id: peer.id });
      }
    }
    let extra = 0;
    for (const known of this.#discovery.book.values()) {
      if (extra >= EXTRA_KNOWN_IN_LIST) break;
      if (isIpv6Loopback(known.address) || known.address === to?.address || known.failures > 0) continue;
      // A connected peer is listed above under its current address; another address it was known
      // by (e.g. before a late LISTEN line) would only repeat it, or tell `to` its own address.
      if (this.#host.isConnected(known.address, known.id)) continue;
      peers.push(known.id ? { address: known.address, id: known.id } : { address: known.address });
      extra++;
    }
    return peers.length > 0 ? { type: 'peers', peers } : undefined;
  }

  /** Sends our PEERS list to `to`, if non-empty. */
  share(to: Peer): void {
    const frame = this.listFor(to);
    if (!frame) return;
    this.#host.send(to, frame);
    if (this.#host.debug) {
      this.#host.report({
        type: 'peer-response',
        peer: peerRef(to),
        direction: 'sent',
        addresses: frame.peers.map((p) => p.address),
      });
    }
  }

  /** Asks `peer` for its peers. */
  request(peer: Peer): void {
    this.#host.send(peer, { type: 'request-peers' });
    if (this.#host.debug) this.#host.report({ type: 'peer-request', peer: peerRef(peer), direction: 'sent' });
  }

  /** Asks every connected peer for its peers (the periodic discovery round). */
  requestAll(): void {
    for (const peer of [...this.#host.peers()]) this.request(peer);
  }

  /**
   * A handshake completed: exchange lists at once, and if the peer's address is new, tell every
   * other peer about it. The newcomer learns of them from our list in the same moment, so both
   * ends of each missing link know of each other and the dial-order rule lets exactly one of
   * them dial, without waiting for a discovery round.
   */
  onConnected(peer: Peer, isNew: boolean): void {
    if (isNew) {
      const frame: PeersFrame = { type: 'peers', peers: [{ address: peer.address, id: peer.id }] };
      for (const other of [...this.#host.peers()]) if (other !== peer) this.#host.send(other, frame);
    }
    this.share(peer);
    if (peer.direction === 'outbound') this.request(peer);
  }

  /** Answers a REQUEST_PEERS (unless the peer leaves our replies unread: see Heartbeat.onPing). */
  onRequest(from: Peer, backedUp: boolean): void {
    if (this.#host.debug)
      this.#host.report({ type: 'peer-request', peer: peerRef(from), direction: 'received' });
    if (!backedUp) this.share(from);
  }

  /** Turns a received PEERS list into candidates, charged to the peer that sent it. */
  onPeers(from: Peer, frame: PeersFrame): void {
    if (this.#host.debug) {
      this.#host.report({
        type: 'peer-response',
        peer: peerRef(from),
        direction: 'received',
        addresses: frame.peers.map((p) => p.address),
      });
    }
    const entries = frame.peers.filter((p) => p.address && !isIpv6Loopback(p.address));
    this.#discovery.addCandidates(
      entries.map((p) => (p.id ? { address: p.address, id: p.id } : { address: p.address })),
      { source: 'exchange', via: from.id },
      peerRef(from),
    );
  }
}
