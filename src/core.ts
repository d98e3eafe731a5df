import type { Frame } from './codec/frame.js';
import type { PeerBook } from './discovery/peer-book.js';
import type { MeshMessage, PeerRef } from './messages.js';
import type { ResolvedOptions } from './options.js';
import type { Peer, PeerTable } from './peers/peer-table.js';

/** Distributes `Omit` over a union, so each message keeps its own fields. */
export type WithoutTime<M> = M extends unknown ? Omit<M, 'time'> : never;

/** The node internals that discovery and maintenance work with (kept narrow on purpose). */
export interface MeshCore {
  readonly options: ResolvedOptions;
  readonly table: PeerTable;
  readonly book: PeerBook;
  readonly closed: boolean;
  /** This node's ID and bound port (for the dial-order rule of discovery). */
  readonly selfId: string;
  readonly port: number;
  /** True when `address` is one this node listens on. */
  isSelfAddress(address: string): boolean;
  /** True while a dial to `address` is in progress or scheduled. */
  isDialing(address: string): boolean;
  /** Dials and handshakes; resolves with the connected peer. */
  dial(address: string, options?: { signal?: AbortSignal }): Promise<PeerRef>;
  /** Queues a control frame to one peer; a failure drops that peer and is reported. */
  sendControl(peer: Peer, frame: Frame): void;
  /** Drops a peer, reporting why. */
  dropPeer(peer: Peer, reason: string, error?: import('./errors.js').MeshwireError): void;
  report(message: WithoutTime<MeshMessage>): void;
}
