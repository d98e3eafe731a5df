/** Defaults and validation of {@link FileShareOptions} (throws `ERR_INVALID_OPTION` naming the option). */
import path from 'node:path';
import { MeshwireError } from '../../errors.js';
import type { FileOffer } from './offer.js';
import type { FileShareOptions } from './types.js';
import type { PeerRef } from '../../messages.js';

/** Options after defaults, validated. */
export interface ResolvedShareOptions {
  downloadsDir: string;
  stateDir: string;
  accept: (offer: FileOffer, from: PeerRef) => boolean | Promise<boolean>;
  maxFileSize: number;
  maxDownloads: number;
  maxDownloadsPerPeer: number;
  /** Pieces in flight per source; undefined = {@link defaultWindow} of the file's pieces. */
  window: number | undefined;
  requestTimeoutMs: number;
  maxQueuedRequestsPerPeer: number;
  stateBatchPieces: number;
  stateFlushMs: number;
  hashInWorker: boolean;
  wantTimeoutMs: number;
  uploadBytesPerSecondPerPeer: number;
  downloadBytesPerSecondPerPeer: number;
  maxDiskBytes: number;
}

/** Bytes of piece requests in flight per source by default (16 pieces of 256 KiB). */
export const DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024;
/** Fewest pieces in flight per source by default, whatever their length. */
const MIN_DEFAULT_WINDOW = 4;

/**
 * The default window (pieces in flight per source) for pieces of `pieceLength` bytes: as many
 * as make {@link DEFAULT_WINDOW_BYTES} (16 of 256 KiB, 8 of 512 KiB), at least 4. Keeping the
 * bytes in flight, not the pieces, keeps memory and the re-fetch after a crash where they were.
 */
export function defaultWindow(pieceLength: number): number {
  return Math.max(MIN_DEFAULT_WINDOW, Math.floor(DEFAULT_WINDOW_BYTES / pieceLength));
}

function int(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MeshwireError('ERR_INVALID_OPTION', `${name} must be an integer >= ${min}, got ${value}`);
  }
  return value;
}

/** Applies the defaults documented on {@link FileShareOptions} and validates every option. */
export function resolveShareOptions(options: FileShareOptions): ResolvedShareOptions {
  const downloadsDir = options.downloadsDir ?? 'downloads';
  if (typeof downloadsDir !== 'string' || downloadsDir === '') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'downloadsDir must be a non-empty path');
  }
  if (options.stateDir !== undefined && (typeof options.stateDir !== 'string' || options.stateDir === '')) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'stateDir must be a non-empty path');
  }
  if (options.accept !== undefined && typeof options.accept !== 'function') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'accept must be a function');
  }
  const signer = options.signer;
  if (signer !== undefined && (typeof signer.sign !== 'function' || signer.publicKey?.length !== 32)) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'signer must have a 32-byte publicKey and a sign function');
  }
  if (options.hashInWorker !== undefined && typeof options.hashInWorker !== 'boolean') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'hashInWorker must be a boolean');
  }
  const resolvedDownloads = path.resolve(downloadsDir);
  const maxDownloads = int('maxDownloads', options.maxDownloads ?? 16, 1);
  const resolved: ResolvedShareOptions = {
    downloadsDir: resolvedDownloads,
    stateDir: path.resolve(options.stateDir ?? path.join(resolvedDownloads, '.meshwire')),
    accept: options.accept ?? (() => true),
    maxFileSize: int('maxFileSize', options.maxFileSize ?? 4 * 1024 ** 3, 0),
    maxDownloads,
    maxDownloadsPerPeer: int(
      'maxDownloadsPerPeer',
      options.maxDownloadsPerPeer ?? Math.min(4, maxDownloads),
      1,
    ),
    window: options.window === undefined ? undefined : int('window', options.window, 1),
    requestTimeoutMs: int('requestTimeoutMs', options.requestTimeoutMs ?? 15_000, 1),
    maxQueuedRequestsPerPeer: int('maxQueuedRequestsPerPeer', options.maxQueuedRequestsPerPeer ?? 64, 1),
    stateBatchPieces: int('stateBatchPieces', options.stateBatchPieces ?? 64, 1),
    stateFlushMs: int('stateFlushMs', options.stateFlushMs ?? 1000, 1),
    hashInWorker: options.hashInWorker ?? false,
    wantTimeoutMs: int('wantTimeoutMs', options.wantTimeoutMs ?? 10_000, 1),
    uploadBytesPerSecondPerPeer: int(
      'uploadBytesPerSecondPerPeer',
      options.uploadBytesPerSecondPerPeer ?? 0,
      0,
    ),
    downloadBytesPerSecondPerPeer: int(
      'downloadBytesPerSecondPerPeer',
      options.downloadBytesPerSecondPerPeer ?? 0,
      0,
    ),
    maxDiskBytes: int('maxDiskBytes', options.maxDiskBytes ?? 0, 0),
  };
  if (resolved.maxDownloadsPerPeer > maxDownloads) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'maxDownloadsPerPeer must not exceed maxDownloads');
  }
  return resolved;
}
