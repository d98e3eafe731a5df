import type { PeerRef } from '../messages.js';
import type { Session } from '../session/session.js';

/** A connected peer: its session plus what the peers layer keeps of its liveness. */
export interface Peer extends Session {
  connectedAt: number;
  lastSeen: number;
  /** Last measured round-trip time (native mode pings carry a nonce), in ms. */
  rttMs?: number;
  /** Nonce and send time of the ping in flight. */
  pingNonce?: bigint;
  pingSentAt?: number;
}

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
