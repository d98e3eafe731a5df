import type { Direction, PeerRef } from '../messages.js';
import type { Connection } from '../session/connection.js';
import type { RejectReason } from '../codec/frame.js';

/** A connected peer. */
export interface Peer {
  id: string;
  name: string;
  /** Address other nodes can dial it on (shared in PEERS lists). */
  address: string;
  /** The socket's remote address, as seen from here. */
  remoteAddress: string;
  direction: Direction;
  connection: Connection;
  connectedAt: number;
  lastSeen: number;
  /** Last measured round-trip time (native mode pings carry a nonce), in ms. */
  rttMs?: number;
  /** False while the address is only the socket's (an inbound compat peer before its LISTEN line). */
  advertised: boolean;
  /** Nonce and send time of the ping in flight. */
  pingNonce?: bigint;
  pingSentAt?: number;
}

/** What {@link PeerTable.admit} decided. */
export type Admission =
  { accept: true; replaced?: Peer } | { accept: false; reason: RejectReason | 'self'; message: string };

const refs = new WeakMap<object, PeerRef>();

/**
 * Returns the reference form of a peer used in messages. It is cached per peer (one object for
 * all of a peer's messages instead of one per message) and frozen, since listeners share it.
 */
export function peerRef(peer: Pick<Peer, 'id' | 'name' | 'address'>): PeerRef {
  const cached = refs.get(peer);
  if (cached && cached.address === peer.address && cached.name === peer.name) return cached;
  const ref = Object.freeze({ id: peer.id, name: peer.name, address: peer.address });
  refs.set(peer, ref);
  return ref;
}

/**
 * The one place that decides who is connected. `admit` checks and inserts in one synchronous
 * step, so concurrent handshakes can neither exceed maxPeers nor register one ID twice.
 *
 * Simultaneous dials (A→B and B→A) are settled by a rule both sides compute identically: the
 * connection dialled by the lower peer ID wins. Each side therefore keeps the same one.
 */
export class PeerTable {
  readonly #selfId: string;
  #maxPeers: number;
  readonly #peers = new Map<string, Peer>();
  /** How many connected peers each address belongs to. */
  readonly #addresses = new Map<string, number>();

  constructor(selfId: string, maxPeers: number) {
    this.#selfId = selfId;
    this.#maxPeers = maxPeers;
  }

  get size(): number {
    return this.#peers.size;
  }

  get maxPeers(): number {
    return this.#maxPeers;
  }

  get(id: string): Peer | undefined {
    return this.#peers.get(id);
  }

  values(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /** True when a connected peer is known by this address (an index: discovery asks a lot). */
  hasAddress(address: string): boolean {
    return (this.#addresses.get(address) ?? 0) > 0;
  }

  /** Changes the address a connected peer is known by, keeping the index right. */
  setAddress(peer: Peer, address: string): void {
    if (this.#peers.get(peer.id) !== peer) {
      peer.address = address;
      return;
    }
    this.#unindex(peer.address);
    peer.address = address;
    this.#index(address);
  }

  #index(address: string): void {
    this.#addresses.set(address, (this.#addresses.get(address) ?? 0) + 1);
  }

  #unindex(address: string): void {
    const count = (this.#addresses.get(address) ?? 0) - 1;
    if (count > 0) this.#addresses.set(address, count);
    else this.#addresses.delete(address);
  }

  /** True when no further peer may be admitted. */
  isFull(): boolean {
    return this.#peers.size >= this.#maxPeers;
  }

  /**
   * Decides whether `candidate` may join and, if so, registers it in the same step. A candidate
   * that wins a simultaneous-dial tie-break replaces the existing peer (returned as `replaced`;
   * the caller closes its connection).
   */
  admit(candidate: Peer): Admission {
    if (candidate.id === this.#selfId) {
      return { accept: false, reason: 'self', message: 'connected to itself' };
    }
    const existing = this.#peers.get(candidate.id);
    if (!existing) {
      if (this.#peers.size >= this.#maxPeers) {
        return { accept: false, reason: 'max-peers', message: `already at MaxPeers (${this.#maxPeers})` };
      }
      this.#insert(candidate);
      return { accept: true };
    }
    if (
      existing.direction !== candidate.direction &&
      this.#dialer(candidate) === this.#lowerId(candidate.id)
    ) {
      this.#insert(candidate);
      return { accept: true, replaced: existing };
    }
    return { accept: false, reason: 'duplicate', message: `peer ${candidate.id} is already connected` };
  }

  /** Removes `peer` if it is still the registered one for its ID; returns whether it was. */
  remove(peer: Peer): boolean {
    if (this.#peers.get(peer.id) !== peer) return false;
    this.#peers.delete(peer.id);
    this.#unindex(peer.address);
    return true;
  }

  #insert(peer: Peer): void {
    const previous = this.#peers.get(peer.id);
    if (previous) this.#unindex(previous.address);
    this.#peers.set(peer.id, peer);
    this.#index(peer.address);
  }

  #dialer(peer: Peer): string {
    return peer.direction === 'outbound' ? this.#selfId : peer.id;
  }

  #lowerId(remoteId: string): string {
    return remoteId < this.#selfId ? remoteId : this.#selfId;
  }
}
