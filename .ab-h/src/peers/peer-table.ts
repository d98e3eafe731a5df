import type { Admission as SessionAdmission } from '../session/session.js';
import type { Peer } from './peer.js';

export { peerRef, type Peer } from './peer.js';

/** What {@link PeerTable.admit} decided. */
export type Admission = SessionAdmission<Peer>;

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
