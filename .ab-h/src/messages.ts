import type { MeshwireError } from './errors.js';
import type { OverlayReport } from './overlay/types.js';

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
/**
 * Why a peer left, as `peer-disconnected` reports it:
 * - `closed`: the connection ended without a goodbye (crash, network failure, reset);
 * - `goodbye`: the peer said goodbye (secure mode), it left on purpose;
 * - `timeout`: nothing heard from the peer for `peerTimeoutMs`;
 * - `write-timeout`: the peer accepted none of our data for `writeTimeoutMs`;
 * - `protocol-error`: the peer sent something malformed or out of place;
 * - `send-failed`: a control frame (heartbeat, peer list) could not be queued to the peer,
 *   whose send queue was full;
 * - `local-close`: this node closed the connection (`disconnectPeer`, `close()`).
 */
export type DisconnectReason =
  'closed' | 'goodbye' | 'timeout' | 'write-timeout' | 'protocol-error' | 'send-failed' | 'local-close';

export interface PeerDisconnectedMessage extends Base {
  type: 'peer-disconnected';
  peer: PeerRef;
  reason: DisconnectReason;
  error?: MeshwireError;
  peerCount: number;
}
/**
 * Where a candidate address came from: `exchange` (a peer's PEERS list), `bootstrap`, `dial`
 * (a dial of ours that succeeded), `lan` (LAN discovery), `book` (the persisted peer book), or
 * the name of a custom source.
 */
export type CandidateSource = 'exchange' | 'bootstrap' | 'dial' | 'lan' | 'book' | (string & {});

export interface PeersDiscoveredMessage extends Base {
  type: 'peers-discovered';
  /** The source that named the addresses. */
  source: CandidateSource;
  /** The peer whose list named them (peer exchange only). */
  from?: PeerRef;
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

/**
 * Secure mode with `overlay: true`: something the gossip overlay dropped or gave up on (a bad
 * signature, a gap in a sender's sequence, a rate limit...), never silently. `peer` is the
 * neighbour concerned, when connected.
 */
export interface OverlayReportMessage extends Base {
  type: 'overlay-report';
  report: OverlayReport;
  peer?: PeerRef;
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
  | DebugMessage
  | OverlayReportMessage;

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

/** Distributes `Omit` over a union, so each message keeps its own fields: a message before its time stamp. */
export type WithoutTime<M> = M extends unknown ? Omit<M, 'time'> : never;
