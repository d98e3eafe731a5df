import type { RejectReason } from '../codec/frame.js';
import type { Direction } from '../messages.js';
import type { Connection } from './connection.js';

/**
 * An authenticated connection to a remote node whose hello has been read: what the session
 * layer knows of a peer. The peers layer keeps it (as a `Peer`, which adds liveness) once the
 * node admits it.
 */
export interface Session {
  id: string;
  name: string;
  /** Address other nodes can dial it on (shared in PEERS lists). */
  address: string;
  /** The socket's remote address, as seen from here. */
  remoteAddress: string;
  direction: Direction;
  connection: Connection;
  /** Feature flags of the peer's hello (native only; compat: none), e.g. `overlay-1`. */
  features?: readonly string[];
  /** False while the address is only the socket's (an inbound compat peer before its LISTEN line). */
  advertised: boolean;
}

/** The admission decision for a new session (see the peer table). */
export type Admission<S extends Session = Session> =
  { accept: true; replaced?: S } | { accept: false; reason: RejectReason | 'self'; message: string };
