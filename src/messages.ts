import type { MeshwireError } from './errors.js';

/** How a connection came about, seen from this node. */
export type Direction = 'inbound' | 'outbound';

/** Who a message is from or about. */
export interface PeerRef {
  /** The peer's ID (secure mode: derived from its public key; compat: what it claims). */
  id: string;
  /** The peer's display name (its ID when it set none). */
  name: string;
  /** The address this node knows the peer by (`host:port`). */
  address: string;
}

interface Base {
  /** When the event happened (ms since the epoch). */
  time: number;
}

/** The node is listening. */
export interface SystemStartMessage extends Base {
  type: 'system-start';
  id: string;
  name: string;
  host: string;
  port: number;
  mode: 'secure' | 'compat';
}
/** Something went wrong that the application should know about; the node keeps running. */
export interface ErrorMessage extends Base {
  type: 'error';
  error: MeshwireError;
  peer?: PeerRef;
  address?: string;
}
export interface BootstrapSuccessMessage extends Base {
  type: 'bootstrap-success';
  address: string;
  peer: PeerRef;
  attempts: number;
}
export interface BootstrapFailedMessage extends Base {
  type: 'bootstrap-failed';
  address: string;
  attempts: number;
  error: MeshwireError;
}
export interface PeerConnectedMessage extends Base {
  type: 'peer-connected';
  peer: PeerRef;
  direction: Direction;
  peerCount: number;
  maxPeers: number;
}
export interface PeerDisconnectedMessage extends Base {
  type: 'peer-disconnected';
  peer: PeerRef;
  /** Short machine-readable reason: `closed`, `timeout`, `write-timeout`, `protocol-error`, `local-close`, `replaced`, `goodbye`. */
  reason: string;
  error?: MeshwireError;
  peerCount: number;
}
export interface PeersDiscoveredMessage extends Base {
  type: 'peers-discovered';
  from: PeerRef;
  newCount: number;
  totalKnown: number;
  addresses: string[];
}
export interface ChatMessage extends Base {
  type: 'chat';
  from: PeerRef;
  text: string;
}
export interface BytesMessage extends Base {
  type: 'bytes';
  from: PeerRef;
  data: Uint8Array;
}
export interface MaintenanceCleanupMessage extends Base {
  type: 'maintenance-cleanup';
  peer: PeerRef;
  reason: 'timeout';
}
export interface ConnectionFailedMessage extends Base {
  type: 'connection-failed';
  address: string;
  error: MeshwireError;
}
/** Debug mode only: heartbeat and discovery traffic, sent and received. */
export interface DebugMessage extends Base {
  type: 'ping' | 'pong' | 'peer-request' | 'peer-response';
  peer: PeerRef;
  direction: 'sent' | 'received';
  /** Round-trip time in ms, on a received pong. */
  rttMs?: number;
  /** Addresses carried, on a peer-response. */
  addresses?: string[];
}

/** Every message a node reports, the TypeScript face of the original's `P2PMessage`. */
export type MeshMessage =
  | SystemStartMessage
  | ErrorMessage
  | BootstrapSuccessMessage
  | BootstrapFailedMessage
  | PeerConnectedMessage
  | PeerDisconnectedMessage
  | PeersDiscoveredMessage
  | ChatMessage
  | BytesMessage
  | MaintenanceCleanupMessage
  | ConnectionFailedMessage
  | DebugMessage;

export type MessageType = MeshMessage['type'];

/** Event map: each message under its own type, and every message under `'message'`. */
export type NodeEvents = { [M in MeshMessage as M['type']]: M } & { message: MeshMessage };

/** The result of a send to several peers: who got it queued, who failed and why. */
export interface SendReport {
  /** IDs of peers the message was handed to. */
  sent: string[];
  /** Peers it could not be delivered to. */
  failed: { peerId: string; error: MeshwireError }[];
}
