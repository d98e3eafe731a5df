import type { PeerRef } from './messages.js';
import type { Mode } from './options.js';

/** Options of {@link P2PNode.connectToPeer}. */
export interface ConnectOptions {
  signal?: AbortSignal;
  /**
   * Secure mode: the peer ID that must answer at this address; anything else (a man in the
   * middle with its own key) fails with `ERR_PEER_ID_MISMATCH`, and the call resolves only with
   * a connection whose certificate proved this ID, whatever else is connected. Defaults to the ID
   * a dial of this node proved at that address before (never to an ID someone merely claimed).
   */
  expectedId?: string;
}

/** A connected peer as reported by {@link P2PNode.getPeerInfo}. */
export interface PeerInfo extends PeerRef {
  direction: 'inbound' | 'outbound';
  connectedAt: number;
  lastSeen: number;
  rttMs?: number;
  /** Bytes received from this peer on its current connection (frames, after TLS). */
  bytesIn: number;
  /** Bytes handed to this peer's connection (frames, before TLS). */
  bytesOut: number;
}

/** A known address as reported by {@link P2PNode.getPeerInfo}. */
export interface KnownPeerInfo {
  address: string;
  /** The ID at this address: proven when `verified`, else only what a peer claimed. */
  id?: string;
  /** True when a dial of ours to this address proved `id` (secure mode). */
  verified: boolean;
  /** Who told us of it: a peer ID (peer exchange), or `dial` (a dial of ours). */
  source: string;
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
