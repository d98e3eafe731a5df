import type { MeshwireError } from '../../errors.js';
import type { PeerRef } from '../../messages.js';
import type { Download } from './download.js';
import type { FileOffer, Signer } from './offer.js';

/** Options of {@link FileShare}. */
export interface FileShareOptions {
  /** Where downloads land (created when missing). @default 'downloads' */
  downloadsDir?: string;
  /**
   * Where resume state (`<root>.state`, `<root>.layer`) and the list of shared files live.
   * @default '<downloadsDir>/.meshwire'
   */
  stateDir?: string;
  /**
   * Signs this node's offers: the node's Ed25519 identity key. Required to share or send files;
   * receiving needs none.
   */
  signer?: Signer;
  /**
   * Consent for an offer pushed by a peer (`sendFile`). May be async; default accepts all (as
   * the original). A refused offer is answered with nope `refused`. Not asked for `fetchFile`.
   */
  accept?: (offer: FileOffer, from: PeerRef) => boolean | Promise<boolean>;
  /** Largest file accepted from an offer, in bytes. @default 4294967296 (4 GiB) */
  maxFileSize?: number;
  /** Downloads in progress at once (resumed ones included). @default 16 */
  maxDownloads?: number;
  /** Downloads in progress that one peer's offers started. @default 4 */
  maxDownloadsPerPeer?: number;
  /**
   * Piece requests in flight per source. @default as many pieces as make 4 MiB, at least 4: 16
   * of 256 KiB (files under 64 MiB), 8 of 512 KiB
   */
  window?: number;
  /** A request unanswered this long drops its source (stalled). @default 15000 */
  requestTimeoutMs?: number;
  /** Piece requests queued per requesting peer on the serving side; more get nope `busy`. @default 64 */
  maxQueuedRequestsPerPeer?: number;
  /** Verified pieces between two writes of the resume state. @default 64 */
  stateBatchPieces?: number;
  /** Longest delay before a verified piece is recorded in the resume state. @default 1000 */
  stateFlushMs?: number;
  /**
   * Hash received pieces' 16 KiB leaves on a worker thread (one per process, shared), so the
   * main thread is free for the network; the piece is still verified before it is written.
   * Costs a copy of each piece (~0.1 ns/byte) and a few KiB of messages. @default true
   */
  hashInWorker?: boolean;
  /**
   * Upload limit per requesting peer, in bytes per second (pieces are paced before they are
   * sent; a limited peer's requests wait in its queue). 0 = unlimited.
   * @default 0
   */
  uploadBytesPerSecondPerPeer?: number;
  /**
   * Download limit per source peer, in bytes per second, over all downloads from that peer:
   * requests are paced before they are sent, so the peer never sends faster. 0 = unlimited.
   * @default 0
   */
  downloadBytesPerSecondPerPeer?: number;
  /**
   * Disk use cap, in bytes: the sizes of every download in progress (their `.part` files,
   * resumed ones included) added up. A new download that would pass it is refused: a pushed
   * offer is answered with nope `refused` and reported as `'offer-declined'`; `fetchFile`
   * rejects with `ERR_DISK_QUOTA`. 0 = no cap.
   * @default 0
   */
  maxDiskBytes?: number;
  /** How long `fetchFile` waits for some peer to answer "want" with the offer. @default 10000 */
  wantTimeoutMs?: number;
  /** Closes the share when aborted. */
  signal?: AbortSignal;
}

/** Progress of one download, for listings (`/files`). */
export interface TransferInfo {
  rootHex: string;
  name: string;
  size: number;
  bytesDone: number;
  status: 'active' | 'waiting' | 'complete' | 'failed';
  /** Average rate of this session, bytes per second. */
  rate: number;
  sources: string[];
  path?: string;
}

/** Events of {@link FileShare}. */
export interface FileShareEvents {
  /** A peer offered (pushed) or announced a file; `accepted` tells what we did with a push. */
  offer: { from: PeerRef; offer: FileOffer; push: boolean };
  /** A download began (or resumed after a restart: `resumed`, with the bytes already verified). */
  'download-start': { download: Download; resumed: boolean };
  'download-progress': { download: Download };
  'download-complete': { download: Download; path: string };
  'download-failed': { download: Download; error: MeshwireError };
  /** All sources of a download are gone; it continues when one is back. */
  'download-paused': { download: Download };
  /** A source was dropped: a bad piece or layer (`ERR_FILE_INTEGRITY`) or a stall. */
  'source-dropped': { download: Download; peerId: string; error: MeshwireError };
  /** Something was discarded or could not be saved; the share keeps running. */
  warning: { error: MeshwireError; rootHex?: string };
  /**
   * This node refused an offer a peer pushed: consent said no, or a limit (size, downloads,
   * disk use, pending consent questions) was reached. `error` says which.
   */
  'offer-declined': { from: PeerRef; offer: FileOffer; error: MeshwireError };
  /** A peer refused a file we offered. */
  'offer-refused': { peerId: string; rootHex: string };
}
