/** The types a {@link Download} shares with its owner: host, events, limits, status, sources. */
import { MeshwireError } from '../../errors.js';
import type { Download } from './download.js';
import { NopeReason, type NopeReasonCode } from './wire.js';

/** The error a source's nope (other than busy) ends it with. */
export function nopeError(peerId: string, reason: NopeReasonCode): MeshwireError {
  const why =
    reason === NopeReason.io
      ? 'cannot read its copy'
      : reason === NopeReason.refused
        ? 'refused'
        : 'does not have the file';
  return new MeshwireError(reason === NopeReason.io ? 'ERR_FILE_IO' : 'ERR_FILE_REFUSED', `${peerId} ${why}`);
}

/** What a download needs from its owner. */
export interface DownloadHost {
  readonly downloadsDir: string;
  readonly stateDir: string;
  /** Final names reserved by transfers in flight (shared with the owner). */
  readonly reserved: Set<string>;
  /** Hands a frame to a peer's send queue; a failure is reported back with `sourceLost`. */
  send(peerId: string, frame: Uint8Array): void;
  /** Reports an event about this download. */
  emit(event: DownloadEvent): void;
  /**
   * The per-peer download limit: 0 when a request for `bytes` from `peerId` may go now (the
   * bytes are counted), else the ms to wait before asking again (nothing counted).
   */
  pace(peerId: string, bytes: number): number;
}

/** Events of a download, as {@link FileShare} re-emits them. */
export type DownloadEvent =
  | { type: 'progress'; download: Download }
  | { type: 'source-dropped'; download: Download; peerId: string; error: MeshwireError }
  | { type: 'paused'; download: Download }
  | { type: 'warning'; download: Download; error: MeshwireError }
  | { type: 'complete'; download: Download; path: string }
  | { type: 'failed'; download: Download; error: MeshwireError };

/** Tunables of a download. */
export interface DownloadLimits {
  /** Requests in flight per source (pieces); undefined = the default for the piece length. */
  window: number | undefined;
  /** A request unanswered for this long drops its source (it stalled). */
  requestTimeoutMs: number;
  /** Most new verified pieces between two state-file writes. */
  stateBatchPieces: number;
  /** Longest time a verified piece waits to be recorded in the state file. */
  stateFlushMs: number;
  /** Hash leaves on the shared worker thread (see leaf-hasher.ts). */
  hashInWorker: boolean;
}

/** One peer serving a download. */
export interface Source {
  id: string;
  /** index -> time requested */
  inflight: Map<number, number>;
  window: number;
  askedLayer: boolean;
  /** When the layer was asked of this source (it times out like a request). */
  askedLayerAt: number;
  /** Times this source let requests time out. */
  timeouts: number;
}

/** Request timeouts after which a source is dropped from a download. */
export const MAX_TIMEOUTS = 3;

/** Status of a download. */
export type DownloadStatus = 'active' | 'waiting' | 'complete' | 'failed';
