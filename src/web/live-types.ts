/**
 * The JSON shapes the dashboard server sends to the page, shared by both sides (the page's
 * bundle imports these types only).
 */

/** Facts about the node; the network key itself is never included. */
export interface NodeFacts {
  id: string;
  shortId: string;
  name: string;
  mode: 'secure' | 'compat';
  port: number;
  maxPeers: number;
  networkKeySet: boolean;
  /** True when a FileReceiver was given, so incoming files are shown and downloadable. */
  receiving: boolean;
}

/** One connected peer as the table and graph show it. */
export interface PeerRow {
  id: string;
  shortId: string;
  name: string;
  address: string;
  direction: 'inbound' | 'outbound';
  rttMs: number | null;
  /** Payload bytes received from the peer (chat and bytes messages). */
  bytesIn: number;
  /** Frame bytes sent to the peer, or null while the node does not report them. */
  bytesOut: number | null;
  connectedAt: number;
}

/** One chat line. */
export interface ChatLine {
  seq: number;
  time: number;
  fromId: string;
  fromName: string;
  text: string;
  /** True when the text was cut to the display limit. */
  truncated: boolean;
  /** Sent from this node (by the page). */
  outgoing: boolean;
  /** For an outgoing private message: the peer's name. */
  toName?: string;
}

/** One file transfer, either way. */
export interface TransferRow {
  id: string;
  direction: 'in' | 'out';
  name: string;
  size: number;
  bytes: number;
  /** Peer names: the sender of an incoming file, the receivers of an outgoing one. */
  peers: string[];
  state: 'running' | 'done' | 'failed';
  error?: string;
  sha256?: string;
  /** An incoming file that finished and can be downloaded from the dashboard. */
  downloadable: boolean;
  /** How it travels: pushed (`sendFile` / FileReceiver) or pulled in pieces (FileShare). */
  via?: 'push' | 'pieces';
  /** Average rate so far, bytes per second. */
  rate?: number;
  /** Why a running transfer does not move (a pieces download with no source connected). */
  note?: string;
}

/** A link between two peers that one of them reported (by ID). */
export type Link = [string, string];

/** The whole state, sent first on every live connection. */
export interface Snapshot {
  kind: 'snapshot';
  facts: NodeFacts;
  peers: PeerRow[];
  links: Link[];
  chat: ChatLine[];
  transfers: TransferRow[];
}

/** What changed since the last update; absent fields did not change. */
export interface Batch {
  kind: 'batch';
  peers?: PeerRow[];
  links?: Link[];
  chat?: ChatLine[];
  /** Chat lines of this interval not sent because the burst exceeded what the page keeps. */
  chatSkipped?: number;
  transfers?: TransferRow[];
}

/** Any live update. */
export type LiveUpdate = Snapshot | Batch;
