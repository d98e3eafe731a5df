/**
 * The vocabulary of what the CLI reports: the node's messages, the file receiver's events and
 * the CLI's own (outgoing files, command results). Types only.
 */
import type { FileCompleteEvent, FileErrorEvent, FileProgressEvent, FileStartEvent } from '../files/index.js';
import type { MeshMessage, PeerRef } from '../messages.js';
import type { NetworkInfo } from '../node.js';

/** Category of a printed status line; chat lines are labelled with the sender instead. */
export type Category =
  | 'SYSTEM'
  | 'NETWORK'
  | 'DISCOVERY'
  | 'BOOTSTRAP'
  | 'MAINTENANCE'
  | 'FILE'
  | 'BYTES'
  | 'PEERS'
  | 'ERROR'
  | 'DEBUG';

/** An error as the CLI reports it (library errors carry a stable `code`). */
export interface ErrorLike {
  code?: string;
  message: string;
}

/** A file event of the receiver, tagged with its type and time. */
export type ReceiverEvent =
  | ({ type: 'file-start'; time: number } & FileStartEvent)
  | ({ type: 'file-progress'; time: number } & FileProgressEvent)
  | ({ type: 'file-complete'; time: number } & FileCompleteEvent)
  | ({ type: 'file-error'; time: number } & FileErrorEvent);

/** Events the CLI itself produces (outgoing files, command results). */
export type CliOwnEvent =
  | { type: 'send-start'; time: number; id: number; name: string; size: number; to: PeerRef[] }
  | {
      type: 'send-progress';
      time: number;
      id: number;
      name: string;
      bytesSent: number;
      totalBytes: number;
      rate: number;
      etaMs: number;
    }
  | {
      type: 'send-complete';
      time: number;
      id: number;
      name: string;
      size: number;
      sha256: string;
      sent: PeerRef[];
      failed: { peer: PeerRef; error: ErrorLike }[];
      elapsedMs: number;
    }
  | { type: 'send-error'; time: number; id: number; name: string; error: ErrorLike }
  | {
      type: 'chat-sent';
      time: number;
      name: string;
      /** This node's ID (for the short ID in the chat label). */
      id: string;
      text: string;
      sent: number;
      failed: number;
    }
  | {
      type: 'peers';
      time: number;
      info: NetworkInfo;
      /**
       * With `--overlay`: the overlay's views (peer IDs), whether it has joined, and the estimated
       * number of nodes in the overlay (README "How big networks work").
       */
      overlay?: { joined: boolean; active: string[]; passive: string[]; sizeEstimate: number };
    }
  | { type: 'command-error'; time: number; message: string; code?: string; hint?: string }
  | { type: 'info'; time: number; category: Category; text: string; details?: string[] }
  /** The dashboard (`--web`) or the metrics listener (`--metrics`) is up at `url`. */
  | { type: 'dashboard' | 'metrics'; time: number; url: string }
  | {
      /** One bootstrap attempt failed (`attempt` of `attempts`); `retryInMs` absent when giving up. */
      type: 'bootstrap-attempt';
      time: number;
      address: string;
      attempt: number;
      attempts: number;
      error: ErrorLike;
      retryInMs?: number;
    };

/** A secure-mode transfer (FileShare) as the CLI reports it: roots as hex, peers as refs. */
export interface ShareTransferJson {
  root: string;
  name: string;
  size: number;
}

/** One row of `/files`. */
export interface FileRow extends ShareTransferJson {
  /** `active` and `paused` are downloads; `shared` is a file this node serves; `available` was offered by a peer. */
  status: 'active' | 'paused' | 'complete' | 'shared' | 'failed' | 'available';
  bytesDone: number;
  /** Bytes per second of this session (downloads only). */
  rate: number;
  /** Sources feeding a download, or the peers that offered an available file. */
  sources: PeerRef[];
  path?: string;
  error?: ErrorLike;
}

/** Events of the secure-mode file commands (`/share`, `/get`, `/files`, offers, resume). */
export type ShareEvent =
  | ({ type: 'file-offer'; time: number; from: PeerRef; push: boolean } & ShareTransferJson)
  | ({ type: 'file-shared'; time: number; path: string } & ShareTransferJson)
  | ({ type: 'file-offered'; time: number; to: PeerRef[] } & ShareTransferJson)
  | ({
      /** Every peer a `/send` offered the file to has it now, or refused it. */
      type: 'file-sent';
      time: number;
      delivered: PeerRef[];
      refused: PeerRef[];
      elapsedMs: number;
    } & ShareTransferJson)
  | ({ type: 'file-offer-refused'; time: number; peer: PeerRef } & Partial<ShareTransferJson>)
  | ({
      type: 'accept-question';
      time: number;
      from: PeerRef;
      timeoutMs: number;
    } & ShareTransferJson)
  | ({
      type: 'accept-answer';
      time: number;
      from: PeerRef;
      accepted: boolean;
      /** `user` answered, `timeout` refused for them, `policy` is --accept-files all/none. */
      by: 'user' | 'timeout' | 'policy';
    } & ShareTransferJson)
  | ({
      type: 'download-start';
      time: number;
      resumed: boolean;
      bytesDone: number;
      sources: PeerRef[];
    } & ShareTransferJson)
  | ({
      type: 'download-progress';
      time: number;
      bytesDone: number;
      rate: number;
      sources: number;
    } & ShareTransferJson)
  | ({ type: 'download-paused'; time: number; bytesDone: number } & ShareTransferJson)
  | ({ type: 'download-complete'; time: number; path: string; elapsedMs: number } & ShareTransferJson)
  | ({ type: 'download-failed'; time: number; error: ErrorLike } & ShareTransferJson)
  | ({ type: 'source-dropped'; time: number; peer: PeerRef; error: ErrorLike } & ShareTransferJson)
  | { type: 'file-warning'; time: number; error: ErrorLike; root?: string }
  | { type: 'files'; time: number; files: FileRow[] };

/** Everything the CLI reports. */
export type CliEvent = MeshMessage | ReceiverEvent | CliOwnEvent | ShareEvent;
