/**
 * The typed frame model shared by both codecs. Everything above `codec/` speaks only `Frame`,
 * so the session, peer table and discovery code is identical in compat and secure mode.
 */

/**
 * Why a handshake was refused. `unauthorized`, `version` and `rate-limited` (too many failed
 * network-key attempts from the dialer's address) exist only in the native protocol.
 */
export type RejectReason = 'duplicate' | 'max-peers' | 'unauthorized' | 'version' | 'rate-limited';

/** A peer address as shared in a PEERS frame; `id` is known only in the native protocol. */
export interface PeerAddress {
  /** `host:port`, IPv6 hosts in brackets (`[fe80::1]:8001`). */
  address: string;
  /** The peer's ID when the sender knows it (native protocol only). */
  id?: string;
}

export interface HelloFrame {
  type: 'hello';
  /** The sender's peer ID. */
  id: string;
  /** Display name; defaults to the ID when empty. */
  name: string;
  /** Addresses the sender accepts connections on (native: in the hello; compat: from the LISTEN line). */
  listen: string[];
  /** Protocol version (native only; compat frames report 0). */
  version: number;
  /** Optional feature flags (native only). */
  features: string[];
}

/** Compat only: the `LISTEN:<host>:<port>` line that follows the dialer's hello. */
export interface ListenFrame {
  type: 'listen';
  address: string;
}

export interface RejectFrame {
  type: 'reject';
  reason: RejectReason;
}

export interface PingFrame {
  type: 'ping';
  /** Echoed in the pong so RTT can be measured (native only; compat uses 0n). */
  nonce: bigint;
}

export interface PongFrame {
  type: 'pong';
  nonce: bigint;
}

export interface RequestPeersFrame {
  type: 'request-peers';
}

export interface PeersFrame {
  type: 'peers';
  peers: PeerAddress[];
}

export interface ChatFrame {
  type: 'chat';
  text: string;
}

export interface BytesFrame {
  type: 'bytes';
  data: Uint8Array;
}

/**
 * Native only: a network-key confirmation tag (CPace explicit key confirmation, HMAC-SHA512 in
 * `meshwire/2`), bound to the TLS session through the key exchange.
 */
export interface AuthFrame {
  type: 'auth';
  proof: Uint8Array;
}

/** Native only: this side's share of the network-key exchange (an X25519 u-coordinate, 32 bytes). */
export interface PakeFrame {
  type: 'pake';
  share: Uint8Array;
}

/** Native only: a polite close with a reason, so the other side can report why. */
export interface GoodbyeFrame {
  type: 'goodbye';
  reason: string;
}

/**
 * Native only (feature `overlay-1`): one gossip-overlay message, still encoded
 * (`encodeOverlayMessage` in `src/overlay/wire.ts`); the codec only bounds its length (PROTOCOL.md O1).
 */
export interface OverlayFrame {
  type: 'overlay';
  body: Uint8Array;
}

export type Frame =
  | HelloFrame
  | ListenFrame
  | RejectFrame
  | PingFrame
  | PongFrame
  | RequestPeersFrame
  | PeersFrame
  | ChatFrame
  | BytesFrame
  | AuthFrame
  | PakeFrame
  | GoodbyeFrame
  | OverlayFrame;

export type FrameType = Frame['type'];
