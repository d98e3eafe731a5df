/**
 * One incoming push transfer (FILESTART .. FILEEND) as the receiver tracks it, and the checks
 * that end one: the content at FILEEND, and progress per idle window.
 */
import type { Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { MeshwireError } from '../errors.js';
import type { PeerRef } from '../messages.js';
import type { ChunkWriter } from './chunk-writer.js';

/** A transfer in flight. */
export interface Transfer {
  from: PeerRef;
  name: string;
  size: number;
  sha256: string;
  /** Base name reserved in the downloads dir (kept in `#reserved` until the transfer ends). */
  finalName: string;
  partPath: string;
  fh: FileHandle;
  hash: Hash;
  /** The `.part` writes, behind the network (flushed before the end is checked). */
  writer: ChunkWriter;
  received: number;
  startedAt: number;
  /** `received` when the current progress window started (idleness is judged per window). */
  windowStartBytes: number;
  timer: NodeJS.Timeout | undefined;
}

export function ioError(what: string, err: unknown): MeshwireError {
  if (err instanceof MeshwireError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MeshwireError('ERR_FILE_IO', `${what}: ${message}`, { cause: err });
}

export function integrityError(message: string): MeshwireError {
  return new MeshwireError('ERR_FILE_INTEGRITY', message);
}

/** The error of a transfer whose sender disconnected before FILEEND. */
export function disconnectedError(t: Transfer): MeshwireError {
  return new MeshwireError(
    'ERR_CONNECTION_CLOSED',
    `${t.name}: sender disconnected after ${t.received} of ${t.size} bytes`,
  );
}

/**
 * Why the transfer cannot be stored at FILEEND (size, the two announced checksums, the content's
 * SHA-256), or undefined when it is intact. Digests the running hash: call once.
 */
export function endProblem(t: Transfer, endSha256: string): MeshwireError | undefined {
  if (t.received !== t.size) {
    return integrityError(`${t.name}: received ${t.received} of the announced ${t.size} bytes`);
  }
  if (endSha256 !== t.sha256) {
    return integrityError(`${t.name}: FILEEND checksum differs from the one FILESTART announced`);
  }
  const digest = t.hash.digest('hex');
  if (digest !== t.sha256)
    return integrityError(`${t.name}: SHA-256 mismatch (got ${digest}, want ${t.sha256})`);
  return undefined;
}

/**
 * Whether the window that just ended had too little progress: fewer than `minBytesPerSecond` ×
 * window bytes (at least one). The last bytes of a file may be fewer than a window's minimum:
 * any progress that completes the content counts (then FILEEND must come within the next window).
 */
export function idleError(
  t: Transfer,
  minBytesPerSecond: number,
  idleTimeoutMs: number,
): MeshwireError | undefined {
  const progress = t.received - t.windowStartBytes;
  const needed = Math.max(1, Math.ceil((minBytesPerSecond * idleTimeoutMs) / 1000));
  if (progress >= needed || (t.received === t.size && progress > 0)) return undefined;
  return new MeshwireError(
    'ERR_PEER_TIMEOUT',
    progress === 0
      ? `${t.name}: no data from the sender for ${idleTimeoutMs} ms`
      : `${t.name}: only ${progress} bytes in ${idleTimeoutMs} ms, below minBytesPerSecond ${minBytesPerSecond}`,
  );
}

/** Largest delay setTimeout honours (larger values fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Starts `t`'s next progress window: `check` runs once when it ends (then {@link idleError}
 * judges it). Judging progress over a window, not "any byte arrived", keeps a sender trickling
 * one byte per window from holding a slot forever; one timer per window, not per chunk, keeps
 * the hot path cheap. `idleTimeoutMs` 0 = never.
 */
export function armIdleTimer(t: Transfer, idleTimeoutMs: number, check: () => void): void {
  if (idleTimeoutMs === 0) return;
  t.windowStartBytes = t.received;
  t.timer = setTimeout(check, Math.min(idleTimeoutMs, MAX_TIMER_MS));
  // A stalled download must not keep the process alive on its own.
  t.timer.unref();
}
