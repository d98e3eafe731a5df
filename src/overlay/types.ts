/**
 * The vocabulary of the sans-IO overlay: the messages peers exchange, the events a driver feeds
 * in and the actions the core asks the driver to perform. Nothing here touches sockets, timers
 * or the clock; the driver (the real node, or the simulator) owns all of that.
 */

import type { SketchEntry } from './size-estimate.js';

/** A peer's ID (in the real node: 32 lowercase hex characters, PROTOCOL.md rule 2). */
export type PeerId = string;

/** A peer as the overlay passes it around: its ID and, when known, an address to dial. */
export interface PeerInfo {
  id: PeerId;
  /** `host:port` to dial, or `''` when unknown (then only an existing connection can reach it). */
  address: string;
}

/**
 * Identifies one broadcast: its original sender, the sender's epoch (a number that grows each
 * time the sender restarts, so restarted sequence numbers are not mistaken for duplicates) and
 * the sequence number within the epoch, starting at 1.
 */
export interface MessageId {
  sender: PeerId;
  epoch: number;
  seq: number;
}

/** An IHAVE entry: a message ID and the hop count at which the announcer received it. */
export interface IHaveEntry extends MessageId {
  hops: number;
}

/** The fields a broadcast's signature covers (everything but the hop count, which relays change). */
export interface SignedFields extends MessageId {
  /** Application payload kind: 0 = chat text (UTF-8), 1 = bytes; others reserved. */
  kind: number;
  payload: Uint8Array;
}

/** A broadcast payload on its way through the tree. */
export interface GossipMessage extends SignedFields {
  type: 'gossip';
  /** Hops travelled on arrival: 1 when it comes straight from the sender, +1 per relay. */
  hops: number;
  /** The sender's signature over {@link SignedFields} (opaque to the core). */
  signature: Uint8Array;
}

/** HyParView and Plumtree messages (wire format in `wire.ts` and PROTOCOL.md). */
export type OverlayMessage =
  | { type: 'join'; address: string }
  | { type: 'forward-join'; peer: PeerInfo; ttl: number }
  | { type: 'neighbor'; high: boolean; address: string }
  | { type: 'disconnect'; alive: boolean }
  /** `walk`: the walk's ID (u32); its reply retraces the walk. 0 = answer straight (a probe). */
  | {
      type: 'shuffle';
      walk: number;
      origin: PeerInfo;
      ttl: number;
      peers: PeerInfo[];
      sketch?: SketchEntry[];
    }
  /** `walk`: the ID of the walk answered; 0 = not routed (a reply to a join or a probe). */
  | { type: 'shuffle-reply'; walk: number; peers: PeerInfo[]; sketch?: SketchEntry[] }
  | GossipMessage
  | { type: 'ihave'; entries: IHaveEntry[] }
  | { type: 'graft'; ids: MessageId[] }
  | { type: 'prune'; sender: PeerId };

/** The overlay message type names. */
export type OverlayMessageType = OverlayMessage['type'];

/** Timers the core asks for; the driver hands each back in a `timer` event at (or after) `at`. */
export type OverlayTimer =
  { kind: 'tick' } | { kind: 'ihave' } | { kind: 'graft'; key: string } | { kind: 'gap'; sender: PeerId };

/** What the driver feeds the core (besides the `join`/`broadcast` method calls). */
export type OverlayEvent =
  /** A message arrived from a directly connected peer. */
  | { type: 'message'; from: PeerId; message: OverlayMessage }
  /** The connection to `peer` closed or could not be opened. */
  | { type: 'peer-down'; peer: PeerId }
  /** A timer asked for earlier has come due. */
  | { type: 'timer'; timer: OverlayTimer }
  /** Addresses learned elsewhere (bootstrap list, peer book, peer exchange): passive candidates. */
  | { type: 'learned'; peers: PeerInfo[] };

/** Something the application should know: every message the core drops is reported here. */
export type OverlayReport =
  /** The signature of a broadcast relayed by `from` did not verify: dropped, not marked seen. */
  | { kind: 'bad-signature'; from: PeerId; id: MessageId }
  /** Messages `first..last` of `sender` were skipped, so later ones could be delivered. */
  | {
      kind: 'gap';
      sender: PeerId;
      epoch: number;
      first: number;
      last: number;
      /** `start`: the first message seen from this sender was not its first (late join, or lost). */
      reason: 'timeout' | 'overflow' | 'start';
    }
  /** A message arrived after its place in the order was given up: dropped. */
  | { kind: 'late'; from: PeerId; id: MessageId; reason: 'skipped' | 'before-first' | 'old-epoch' }
  /** A neighbour (`scope: 'peer'`) or an original sender (`'origin'`) exceeded its rate: dropped. */
  | { kind: 'rate-limited'; from: PeerId; scope: 'peer' | 'origin'; id: MessageId }
  /** A message announced to us (IHAVE) never arrived, however often it was grafted. */
  | { kind: 'missed'; id: MessageId }
  /** A broadcast arrived with more hops than allowed: dropped. */
  | { kind: 'hop-limit'; from: PeerId; id: MessageId }
  /** The join through `contact` got no answer or the contact was unreachable. */
  | { kind: 'join-failed'; contact: PeerId }
  /** The per-sender state of `sender` was forgotten to stay within `maxSenders`. */
  | { kind: 'sender-evicted'; sender: PeerId }
  /** A protocol violation by a neighbour (e.g. an IHAVE with too many entries): ignored. */
  | { kind: 'protocol'; from: PeerId; detail: string };

/** What the core asks the driver to do, in order. */
export type OverlayAction =
  /** Send `message` to `to`, dialling `address` first if there is no connection yet. */
  | { type: 'send'; to: PeerId; address: string; message: OverlayMessage }
  /** Close the connection to `peer` once the messages queued before this action are flushed. */
  | { type: 'disconnect'; peer: PeerId }
  /** `peer` joined (`up`) or left (`down`) the active view: the neighbours. */
  | { type: 'neighbor-up'; peer: PeerId }
  | { type: 'neighbor-down'; peer: PeerId }
  /**
   * Hand a broadcast to the application: exactly once and in order per sender. `message.hops` is
   * the hop count it arrived with (1 = from the sender itself); `from` is the neighbour that sent it.
   */
  | { type: 'deliver'; message: GossipMessage; from: PeerId }
  /** Feed `{ type: 'timer', timer }` back at time `at` (same clock as `now`). */
  | { type: 'timer'; at: number; timer: OverlayTimer }
  | { type: 'report'; report: OverlayReport };

/** Where the core writes its actions: a plain array works. */
export interface ActionSink {
  push(action: OverlayAction): unknown;
}

/**
 * Signs the sender's own broadcasts. The real node signs with its Ed25519 key; a simulator may use
 * a cheap stand-in. The signature is opaque to the core (at most `MAX_SIGNATURE_BYTES` bytes).
 */
export interface Signer {
  sign(fields: SignedFields): Uint8Array;
}

/** Checks a broadcast's signature against the claimed sender. Must not throw. */
export interface Verifier {
  verify(fields: SignedFields, signature: Uint8Array): boolean;
}
