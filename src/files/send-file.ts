import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MeshwireError, toMeshwireError } from '../errors.js';
import { DEFAULT_CHUNK_SIZE, encodeFileChunkHeader, encodeFileEnd, encodeFileStart } from './frames.js';
import { sanitizeFileName } from './names.js';
import { ReplyWatcher } from './reply-watcher.js';
import { sentFileHashes, unchangedSince } from './hash-cache.js';
import type { FileNode, SendFileOptions, SendFileResult } from './types.js';

/** Read size of the hashing pass; independent of the chunk size, it only trades syscalls for memory. */
const HASH_READ_BYTES = 1024 * 1024;

/** Default of {@link SendFileOptions.confirmTimeoutMs}. */
export const DEFAULT_CONFIRM_TIMEOUT_MS = 30_000;

function abortError(signal: AbortSignal): MeshwireError {
  return new MeshwireError('ERR_ABORTED', 'file transfer aborted', { cause: signal.reason });
}

function ioError(what: string, filePath: string, err: unknown): MeshwireError {
  const message = err instanceof Error ? err.message : String(err);
  return new MeshwireError('ERR_FILE_IO', `cannot ${what} ${filePath}: ${message}`, { cause: err });
}

/**
 * Settles with `promise`, or rejects with `ERR_ABORTED` as soon as `signal` aborts: a send can
 * wait on backpressure for a long time and an abort must not wait for it.
 */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError(signal));
      return;
    }
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Reads exactly `length` bytes at `position` unless the file ends first; returns the count. */
async function readFully(
  fh: FileHandle,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, offset + done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Size and SHA-256 of the whole file open as `fh`, read once. */
async function hashWhole(
  fh: FileHandle,
  filePath: string,
  signal: AbortSignal | undefined,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
  while (true) {
    if (signal?.aborted) throw abortError(signal);
    const n = await readFully(fh, buf, 0, buf.length, size).catch((err: unknown) => {
      throw ioError('read', filePath, err);
    });
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    size += n;
  }
  return { size, sha256: hash.digest('hex') };
}

function resolveTargets(node: FileNode, to: SendFileOptions['to']): string[] {
  const ids =
    to === undefined ? node.getPeerInfo().peers.map((p) => p.id) : typeof to === 'string' ? [to] : to;
  for (const id of ids) {
    if (typeof id !== 'string' || id.length === 0) {
      throw new MeshwireError('ERR_INVALID_OPTION', 'to must be a peer ID or an array of peer IDs');
    }
  }
  return [...new Set(ids)];
}

/**
 * Sends the file at `filePath` to one peer, a list of peers, or every connected peer, as the Go
 * original's FILESTART / FILECHUNK / FILEEND frames.
 *
 * The file is streamed twice and never held in memory: a first pass computes its size and
 * SHA-256 (FILESTART announces both), a second sends it in `chunkSize` chunks, awaiting each send
 * so the node's send-queue backpressure paces the disk reads. The first pass is skipped for a
 * file this process sent before and that has not changed since (same inode, size, mtime and
 * ctime; at most 64 files remembered). If the file changed in between (size or content) the
 * transfer fails with `ERR_FILE_IO` before FILEEND is sent: the size and nanosecond timestamps
 * at the end must be those of the start (any write moves the ctime), and a file written within
 * the 2 seconds before the send, whose timestamps might not move, is hashed again as it is
 * sent.
 *
 * Every target gets chunk n before any gets chunk n + 1, so the slowest target paces the
 * transfer (the node's write timeout drops a peer that stops reading altogether).
 *
 * A peer whose send fails (it disconnected, or is unknown) is dropped from the transfer and
 * listed in `failed`; the others continue. In secure mode receivers reply: a FILEREJECT (refused,
 * e.g. `ERR_TOO_MANY_PENDING`, or dropped mid-way) stops the sending to that peer and lists it
 * under `failed` with the receiver's reason as the error code, and with `confirm` (the secure
 * default) only peers that sent FILEACK are listed under `sent`. Compat receivers (the Go
 * original) never reply, so there a refusal is not seen by the sender. The promise resolves with that report; it rejects
 * only for local problems: `ERR_FILE_NAME` (name not sendable), `ERR_INVALID_OPTION`,
 * `ERR_FILE_IO` (cannot read, or the file changed), `ERR_ABORTED` (`signal`), or whatever
 * `onProgress` throws.
 *
 * On abort or failure the sender just stops. Receivers hold a `.part` file until they drop it:
 * when this peer disconnects, when a new FILESTART with the same name arrives from it, or when
 * their idle timeout expires ({@link FileReceiverOptions.idleTimeoutMs}).
 */
export async function sendFile(
  node: FileNode,
  filePath: string,
  options: SendFileOptions = {},
): Promise<SendFileResult> {
  const { signal, onProgress } = options;
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) {
    throw new MeshwireError('ERR_INVALID_OPTION', `chunkSize must be a positive integer, got ${chunkSize}`);
  }
  const name = sanitizeFileName(options.name ?? path.basename(filePath));
  const chunkHeader = encodeFileChunkHeader(name);
  if (chunkHeader.length + chunkSize > node.maxBytesPerMessage) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      `chunkSize ${chunkSize} plus the ${chunkHeader.length}-byte FILECHUNK header exceeds maxBytesPerMessage ${node.maxBytesPerMessage}`,
    );
  }
  const confirm = options.confirm ?? node.mode === 'secure';
  if (typeof confirm !== 'boolean')
    throw new MeshwireError('ERR_INVALID_OPTION', 'confirm must be a boolean');
  const confirmTimeoutMs = options.confirmTimeoutMs ?? DEFAULT_CONFIRM_TIMEOUT_MS;
  if (!Number.isSafeInteger(confirmTimeoutMs) || confirmTimeoutMs < 0) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      `confirmTimeoutMs must be an integer >= 0, got ${confirmTimeoutMs}`,
    );
  }
  const targets = resolveTargets(node, options.to);
  if (signal?.aborted) throw abortError(signal);

  let fh: FileHandle;
  try {
    fh = await open(filePath, 'r');
  } catch (err) {
    throw ioError('open', filePath, err);
  }
  let watcher: ReplyWatcher | undefined;
  try {
    // Both passes read through one handle, so a rename or replace of the path in between cannot
    // switch files under us; only in-place modification can, and the end check catches that.
    const statAt = Date.now();
    const stat = await fh.stat({ bigint: true }).catch((err: unknown) => {
      throw ioError('stat', filePath, err);
    });
    if (!stat.isFile()) throw new MeshwireError('ERR_FILE_IO', `${filePath} is not a regular file`);

    // A file sent before and unchanged since is not hashed again for FILESTART (hash-cache.ts).
    const cached = sentFileHashes.get(stat);
    const { size, sha256 } = cached
      ? { size: Number(stat.size), sha256: cached }
      : await hashWhole(fh, filePath, signal);
    // Recorded only if the hash covers the size the stat saw (no write raced the first pass).
    if (!cached && size === Number(stat.size)) sentFileHashes.set(stat, sha256, statAt);

    const active = new Set(targets);
    const failed: SendFileResult['failed'] = [];
    const drop = (peerId: string, error: MeshwireError): void => {
      if (active.delete(peerId)) failed.push({ peerId, error });
    };
    // Replies exist in secure mode only; watching there also stops sending to a peer that refused.
    if (confirm || node.mode === 'secure') {
      watcher = new ReplyWatcher(node, name, sha256, targets, (peerId, outcome) => {
        if (!outcome.ok) drop(peerId, outcome.error);
      });
    }
    // Per-peer sends instead of broadcastBytes: the target set is fixed at FILESTART (a peer that
    // joins later would only see orphan chunks), and one failing peer must not stop the others.
    const sendToActive = async (frame: Uint8Array): Promise<void> => {
      const sends = [...active].map(async (peerId) => {
        try {
          await node.sendBytesToPeer(peerId, frame);
        } catch (err) {
          drop(peerId, toMeshwireError(err));
        }
      });
      await abortable(Promise.all(sends), signal);
    };

    const report = (bytesSent: number, startedAt: number): void => {
      if (!onProgress) return;
      const elapsedMs = performance.now() - startedAt;
      const rate = elapsedMs > 0 ? (bytesSent * 1000) / elapsedMs : 0;
      const left = size - bytesSent;
      const etaMs = left === 0 ? 0 : rate > 0 ? (left / rate) * 1000 : Infinity;
      onProgress({ name, bytesSent, totalBytes: size, rate, etaMs });
    };

    if (active.size > 0) await sendToActive(encodeFileStart(name, size, sha256));

    // The end check: any write moves the file's ctime, so an unchanged stat at the end proves
    // the bytes sent are the bytes hashed, without hashing them again. A file changed within
    // the clock's resolution of the first stat is the exception (hash-cache.ts): it is hashed
    // again as it is sent.
    const second = sentFileHashes.isRacy(stat, statAt) ? createHash('sha256') : undefined;
    const startedAt = performance.now();
    let position = 0;
    while (position < size && active.size > 0) {
      if (signal?.aborted) throw abortError(signal);
      const want = Math.min(chunkSize, size - position);
      // A fresh buffer per frame: the node may still hold the previous one in a send queue.
      const frame = Buffer.allocUnsafe(chunkHeader.length + want);
      chunkHeader.copy(frame, 0);
      const got = await readFully(fh, frame, chunkHeader.length, want, position).catch((err: unknown) => {
        throw ioError('read', filePath, err);
      });
      if (got !== want) {
        sentFileHashes.delete(stat);
        throw new MeshwireError(
          'ERR_FILE_IO',
          `${filePath} shrank while being sent (${position + got} of ${size} bytes)`,
        );
      }
      second?.update(frame.subarray(chunkHeader.length));
      await sendToActive(frame);
      position += want;
      report(position, startedAt);
    }

    if (active.size > 0) {
      const extra = await readFully(fh, Buffer.allocUnsafe(1), 0, 1, size).catch((err: unknown) => {
        throw ioError('read', filePath, err);
      });
      if (extra !== 0) {
        sentFileHashes.delete(stat);
        throw new MeshwireError('ERR_FILE_IO', `${filePath} grew while being sent`);
      }
      const changed = second
        ? second.digest('hex') !== sha256
        : !unchangedSince(
            stat,
            await fh.stat({ bigint: true }).catch((err: unknown) => {
              throw ioError('stat', filePath, err);
            }),
          );
      if (changed) {
        sentFileHashes.delete(stat);
        throw new MeshwireError('ERR_FILE_IO', `${filePath} changed while being sent`);
      }
      await sendToActive(encodeFileEnd(name, sha256));
      if (size === 0) report(0, startedAt);
    }
    if (confirm && watcher && active.size > 0) {
      await watcher.waitFor(active, confirmTimeoutMs, signal);
    }

    return { name, size, sha256, sent: targets.filter((id) => active.has(id)), failed };
  } finally {
    watcher?.close();
    await fh.close().catch(() => undefined);
  }
}
