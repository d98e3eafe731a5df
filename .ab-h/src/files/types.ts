import type { MeshwireError } from '../errors.js';
import type { MeshMessage, MessageType, PeerRef } from '../messages.js';

/**
 * The part of a meshwire node that file transfer uses. `P2PNode` satisfies it; the structural
 * type keeps `files/` on the public API only and lets tests drive the module with a fake node.
 */
export interface FileNode {
  /** This node's peer ID. */
  readonly id: string;
  /**
   * The node's protocol mode. File replies (FILEREJECT / FILEACK) are used only in `'secure'`
   * mode: Go nodes in compat mode would print them as unknown BYTES. Absent counts as compat.
   */
  readonly mode?: 'secure' | 'compat';
  /** Largest BYTES payload the node sends or accepts, in bytes. Chunk frames must fit in it. */
  readonly maxBytesPerMessage: number;
  /**
   * Hands `data` to one peer's send queue. Resolves once the queue is below its high-water mark,
   * so awaiting each call is the backpressure that keeps a fast disk from filling memory.
   */
  sendBytesToPeer(peerId: string, data: Uint8Array): Promise<void>;
  /**
   * A message stream with its own queue: a slow consumer pauses the node's sockets rather than
   * dropping messages. It ends when the node closes or `signal` aborts.
   */
  messages(options: { signal?: AbortSignal; types?: MessageType[] }): AsyncIterable<MeshMessage>;
  /**
   * Secure mode, once started: signs with the node's identity key (file offers are signed by
   * the node that offers them). `FileShare` uses it when no `signer` option is given.
   */
  readonly signer?: { readonly publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array } | undefined;
  /** The currently connected peers (only their IDs are used, to snapshot broadcast targets). */
  getPeerInfo(): { peers: ReadonlyArray<{ readonly id: string }> };
}

/** Progress of an outgoing file, reported after each chunk is handed to the send queues. */
export interface SendProgress {
  /** The file name as announced on the wire. */
  name: string;
  /** Bytes of file content handed to the send queues so far. */
  bytesSent: number;
  /** Size of the file. */
  totalBytes: number;
  /** Average rate since the first chunk, in bytes per second (0 until measurable). */
  rate: number;
  /** Estimated time left in ms, from `rate` (`Infinity` while the rate is unknown, 0 when done). */
  etaMs: number;
}

/** Options of {@link sendFile}. */
export interface SendFileOptions {
  /**
   * The peer ID, or IDs, to send to. When omitted the file goes to every peer connected when the
   * transfer starts (peers that join mid-transfer are not included: they would miss FILESTART).
   */
  to?: string | readonly string[];
  /** Aborts the transfer; the returned promise rejects with `ERR_ABORTED`. */
  signal?: AbortSignal;
  /**
   * Called after each chunk is handed to the send queues (for an empty file, once before FILEEND).
   * An exception thrown here aborts the transfer and rejects `sendFile` with it.
   */
  onProgress?: (progress: SendProgress) => void;
  /**
   * Bytes of file content per FILECHUNK frame. The whole frame (header plus chunk) must fit in
   * the node's `maxBytesPerMessage`.
   * @default 262144 (256 KiB, as the Go original)
   */
  chunkSize?: number;
  /** Name announced to receivers. @default the base name of `path` */
  name?: string;
  /**
   * Wait, after FILEEND, for each receiver's reply (FILEACK: verified and stored, or FILEREJECT
   * with a reason) and report only confirmed peers under `sent`. A FILEREJECT that arrives while
   * the file is still being sent stops the sending to that peer at once, with or without this.
   * Only secure-mode receivers reply: in compat mode (the Go original has no reply frame) `sent`
   * means "every frame was handed to the peer's send queue" and a refusal is not seen.
   * @default true in secure mode, false in compat mode
   */
  confirm?: boolean;
  /**
   * How long to wait for the replies of `confirm`; a peer that has not replied by then is listed
   * under `failed` with `ERR_PEER_TIMEOUT`.
   * @default 30000
   */
  confirmTimeoutMs?: number;
}

/** What {@link sendFile} did. */
export interface SendFileResult {
  /** The name announced on the wire. */
  name: string;
  /** File size in bytes. */
  size: number;
  /** Lowercase hex SHA-256 of the file content. */
  sha256: string;
  /**
   * Peers that confirmed the file (FILEACK) when confirming, else peers that were handed every
   * frame of the transfer.
   */
  sent: string[];
  /**
   * Peers that were dropped from the transfer, with the first error each one hit. A receiver's
   * refusal (FILEREJECT, secure mode) appears here with the receiver's reason as `error.code`
   * (`ERR_TOO_MANY_PENDING`, `ERR_FILE_TOO_LARGE`, `ERR_FILE_NAME`, `ERR_PEER_TIMEOUT`, ...).
   */
  failed: { peerId: string; error: MeshwireError }[];
}

/** Options of {@link FileReceiver}. */
export interface FileReceiverOptions {
  /**
   * Directory that receives the files (created, recursively, when missing). Nothing is ever
   * written outside it.
   * @default 'downloads'
   */
  downloadsDir?: string;
  /**
   * Largest file accepted, in bytes; a bigger FILESTART is refused with `ERR_FILE_TOO_LARGE`.
   * @default 4294967296 (4 GiB)
   */
  maxFileSize?: number;
  /**
   * Most transfers in flight at once, over all peers; more are refused with
   * `ERR_TOO_MANY_PENDING`.
   * @default 16
   */
  maxConcurrentTransfers?: number;
  /**
   * Most transfers in flight at once from one peer, so one peer cannot take every slot; more
   * are refused with `ERR_TOO_MANY_PENDING`. Must not exceed `maxConcurrentTransfers`.
   * @default 4 (or `maxConcurrentTransfers` when that is smaller)
   */
  maxTransfersPerPeer?: number;
  /**
   * Length of the progress window, in ms: a transfer that receives fewer than
   * `minBytesPerSecond` × window bytes in one window (and at least one byte; a completed content
   * must see FILEEND within the next window) is dropped (its `.part` deleted) with
   * `ERR_PEER_TIMEOUT`, so neither a silent sender nor one trickling a byte now and then can hold
   * a slot forever. 0 disables.
   * @default 120000 (2 minutes)
   */
  idleTimeoutMs?: number;
  /**
   * Slowest progress a transfer may make over an `idleTimeoutMs` window, in bytes per second.
   * @default 1024
   */
  minBytesPerSecond?: number;
  /**
   * Reply to senders: FILEREJECT with the reason when a transfer is refused or dropped, FILEACK
   * when a file is stored. Leave it off towards Go nodes, which would print the replies as
   * unknown BYTES.
   * @default true in secure mode, false in compat mode
   */
  replies?: boolean;
  /** Closes the receiver when aborted. */
  signal?: AbortSignal;
}

/** A transfer was accepted and its `.part` file created. */
export interface FileStartEvent {
  from: PeerRef;
  /** The name the sender announced. */
  name: string;
  /** Announced size in bytes. */
  size: number;
  /** Where the file is expected to land (the final name may still change if it is taken by then). */
  finalPath?: string;
}

/** Bytes were written for a transfer. */
export interface FileProgressEvent {
  from: PeerRef;
  name: string;
  bytesReceived: number;
  size: number;
  /** Average rate since FILESTART, in bytes per second. */
  rate: number;
}

/** A file arrived complete, its size and SHA-256 verified, under its final name. */
export interface FileCompleteEvent {
  from: PeerRef;
  name: string;
  size: number;
  sha256: string;
  /** Where the file was stored. */
  path: string;
}

/** A transfer (or a stray frame) failed; the receiver keeps running. */
export interface FileErrorEvent {
  from: PeerRef;
  /** The file name, when the frame carried a parseable one. */
  name?: string;
  /**
   * `ERR_FILE_NAME`, `ERR_FILE_TOO_LARGE`, `ERR_TOO_MANY_PENDING`, `ERR_FILE_PROTOCOL`,
   * `ERR_FILE_INTEGRITY`, `ERR_FILE_IO`, `ERR_CONNECTION_CLOSED` (sender left),
   * `ERR_PEER_TIMEOUT` (sender went silent or too slow), `ERR_ABORTED` (restarted by a new FILESTART),
   * `ERR_CLOSED` (receiver closed).
   */
  error: MeshwireError;
}

/** Events of {@link FileReceiver}. */
export interface FileReceiverEvents {
  'file-start': FileStartEvent;
  'file-progress': FileProgressEvent;
  'file-complete': FileCompleteEvent;
  'file-error': FileErrorEvent;
}
