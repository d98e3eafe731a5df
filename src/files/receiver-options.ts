/** Defaults and validation of {@link FileReceiverOptions} (throws `ERR_INVALID_OPTION` naming the option). */
import { MeshwireError } from '../errors.js';
import type { FileNode, FileReceiverOptions } from './types.js';

/** Default of {@link FileReceiverOptions.downloadsDir}. */
export const DEFAULT_DOWNLOADS_DIR = 'downloads';
/** Default of {@link FileReceiverOptions.maxFileSize}: 4 GiB. */
export const DEFAULT_MAX_FILE_SIZE = 4 * 1024 * 1024 * 1024;
/** Default of {@link FileReceiverOptions.maxConcurrentTransfers}. */
export const DEFAULT_MAX_CONCURRENT_TRANSFERS = 16;
/** Default of {@link FileReceiverOptions.maxTransfersPerPeer} (never above the global cap). */
export const DEFAULT_MAX_TRANSFERS_PER_PEER = 4;
/** Default of {@link FileReceiverOptions.idleTimeoutMs}: 2 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;
/** Default of {@link FileReceiverOptions.minBytesPerSecond}: 1 KiB/s. */
export const DEFAULT_MIN_BYTES_PER_SECOND = 1024;

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MeshwireError('ERR_INVALID_OPTION', `${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** {@link FileReceiverOptions} with the defaults applied, validated. */
export function resolveReceiverOptions(
  node: Pick<FileNode, 'mode'>,
  options: FileReceiverOptions,
): Required<Omit<FileReceiverOptions, 'signal'>> & { signal: AbortSignal | undefined } {
  const {
    downloadsDir = DEFAULT_DOWNLOADS_DIR,
    maxFileSize = DEFAULT_MAX_FILE_SIZE,
    maxConcurrentTransfers = DEFAULT_MAX_CONCURRENT_TRANSFERS,
    idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
    minBytesPerSecond = DEFAULT_MIN_BYTES_PER_SECOND,
    replies = node.mode === 'secure',
    signal,
  } = options;
  const { maxTransfersPerPeer = Math.min(DEFAULT_MAX_TRANSFERS_PER_PEER, maxConcurrentTransfers) } = options;
  if (typeof downloadsDir !== 'string' || downloadsDir.length === 0) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'downloadsDir must be a non-empty path');
  }
  checkInteger('maxFileSize', maxFileSize, 0);
  checkInteger('maxConcurrentTransfers', maxConcurrentTransfers, 1);
  checkInteger('maxTransfersPerPeer', maxTransfersPerPeer, 1);
  if (maxTransfersPerPeer > maxConcurrentTransfers) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      `maxTransfersPerPeer (${maxTransfersPerPeer}) must not exceed maxConcurrentTransfers (${maxConcurrentTransfers})`,
    );
  }
  checkInteger('idleTimeoutMs', idleTimeoutMs, 0);
  checkInteger('minBytesPerSecond', minBytesPerSecond, 0);
  if (typeof replies !== 'boolean') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'replies must be a boolean');
  }
  return {
    downloadsDir,
    maxFileSize,
    maxConcurrentTransfers,
    maxTransfersPerPeer,
    idleTimeoutMs,
    minBytesPerSecond,
    replies,
    signal,
  };
}
