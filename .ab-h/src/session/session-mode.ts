import type { Duplex } from 'node:stream';
import type { Frame } from '../codec/frame.js';
import type { Identity } from '../secure/identity.js';
import type { TransportConnection } from '../transport/transport.js';
import type { ConnectionLimits } from './connection.js';
import type { Established, HandshakeContext, OpenConnection } from './handshake.js';

/** Where and how to dial. */
export interface OutboundTarget {
  host: string;
  port: number;
  address: string;
  /** Secure mode: the ID the peer must prove (learned from a PEERS list or an earlier connection). */
  expectedId?: string;
  signal: AbortSignal;
  limits: ConnectionLimits;
}

/**
 * What differs between the two modes: how a transport connection becomes an authenticated
 * connection with the right codec, and which handshake runs on it. Everything else is shared.
 */
export interface SessionMode {
  readonly mode: 'secure' | 'compat';
  /** Prepares keys; returns the node ID when the mode derives it (secure). */
  init(): Promise<string | undefined>;
  /** Secure mode, after init: this node's identity (LAN announcements are signed with it). */
  identity?(): Identity;
  /** Secure mode, after init: the derived network key, if the network is private. */
  networkKey?(): Buffer | undefined;
  /** Dials through the transport and authenticates (TLS in secure mode). */
  connect(target: OutboundTarget): Promise<OpenConnection>;
  /**
   * Turns an accepted transport connection into a connection. `onWrap` receives the stream that
   * must be destroyed from then on (the TLS socket: destroying the raw socket under a live
   * TLSSocket can crash Node 20).
   */
  accept(
    raw: TransportConnection,
    limits: ConnectionLimits,
    onWrap: (stream: Duplex) => void,
  ): Promise<OpenConnection>;
  outbound(ctx: HandshakeContext, open: OpenConnection): Promise<Established>;
  inbound(ctx: HandshakeContext, open: OpenConnection): Promise<Established>;
  /** Completes the handshake context with the mode's access control. */
  context(base: HandshakeContext): HandshakeContext;
  /** Encodes `frame` once for many peers; throws if this mode cannot carry it (e.g. compat chat that reads as a control line). */
  encode(frame: Frame): Buffer[];
}
