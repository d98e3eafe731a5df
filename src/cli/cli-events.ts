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
  | { type: 'peers'; time: number; info: NetworkInfo }
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

/** Everything the CLI reports. */
export type CliEvent = MeshMessage | ReceiverEvent | CliOwnEvent;
