import type { PeerRef } from './messages.js';
import type { Mode } from './options.js';

/** Options of {@link P2PNode.connectToPeer}. */
export interface ConnectOptions {
  signal?: AbortSignal;
  /**
   * Secure mode: the peer ID that must answer at this address; anything else (a man in the
   * middle with its own key) fails with `ERR_PEER_ID_MISMATCH`. Defaults to the ID this node
   * last saw at that address.
   */
  expectedId?: string;
}

/** A connected peer as reported by {@link P2PNode.getPeerInfo}. */
export interface PeerInfo extends PeerRef {
  direction: 'inbound' | 'outbound';
  connectedAt: number;
  lastSeen: number;
  rttMs?: number;
}

/** A known address as reported by {@link P2PNode.getPeerInfo}. */
export interface KnownPeerInfo {
  address: string;
  id?: string;
  firstSeen: number;
  connected: boolean;
}

/** Snapshot of a node's network state. */
export interface NetworkInfo {
  id: string;
  name: string;
  port: number;
  mode: Mode;
  maxPeers: number;
  peers: PeerInfo[];
  known: KnownPeerInfo[];
}
