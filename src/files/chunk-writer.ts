/**
 * The `.part` writes of one push transfer, behind the network: a chunk is queued and the
 * receiver goes on with the next message while the disk works (before, every chunk waited for
 * its own write). One write is in flight at a time; chunks that arrive meanwhile go out together
 * in one `writev` when it completes. The bytes queued are capped: past the cap, {@link
 * ChunkWriter.write} waits, so a slow disk still slows the sender down (socket backpressure)
 * instead of filling memory. The first write error is kept and returned by every later call.
 */
import type { FileHandle } from 'node:fs/promises';
import { writeFully } from './part-files.js';

/** Bytes a transfer may have queued for the disk before the receiver waits (per transfer). */
export const MAX_QUEUED_WRITE_BYTES = 1024 * 1024;

/** Ordered write-behind of one file's chunks. */
export class ChunkWriter {
  readonly #fh: FileHandle;
  readonly #max: number;
  /** Chunks waiting for the write in flight; always contiguous, starting at #queueAt. */
  #queue: Uint8Array[] = [];
  #queueAt = 0;
  /** Bytes queued or being written. */
  #bytes = 0;
  #running: Promise<void> | undefined;
  #error: unknown;
  #wake: (() => void) | undefined;

  constructor(fh: FileHandle, maxQueuedBytes = MAX_QUEUED_WRITE_BYTES) {
    this.#fh = fh;
    this.#max = maxQueuedBytes;
  }

  /**
   * Queues `data` (not copied: the caller must not change it) for `position`, which must follow
   * the previous chunk. Resolves at once while under the cap, else once the disk caught up;
   * rejects with the first write error.
   */
  async write(data: Uint8Array, position: number): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    if (this.#queue.length === 0) this.#queueAt = position;
    this.#queue.push(data);
    this.#bytes += data.length;
    this.#running ??= this.#drain();
    while (this.#bytes > this.#max && this.#error === undefined) {
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    if (this.#error !== undefined) throw this.#error;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#error === undefined) {
      const batch = this.#queue;
      const at = this.#queueAt;
      this.#queue = [];
      let size = 0;
      for (const b of batch) size += b.length;
      try {
        const { bytesWritten } = await this.#fh.writev(batch, at);
        // A short writev (rare: a full disk, a signal) finishes the rest one chunk at a time.
        if (bytesWritten < size) await this.#rest(batch, at, bytesWritten);
      } catch (err) {
        this.#error = err ?? new Error('write failed');
      }
      this.#bytes -= size;
      this.#wake?.();
      this.#wake = undefined;
    }
    this.#running = undefined;
  }

  async #rest(batch: Uint8Array[], at: number, done: number): Promise<void> {
    let offset = 0;
    for (const b of batch) {
      const end = offset + b.length;
      if (end > done) {
        const skip = Math.max(0, done - offset);
        await writeFully(this.#fh, b.subarray(skip), at + offset + skip);
      }
      offset = end;
    }
  }

  /** Resolves when every queued chunk is written; rejects with the first write error. */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
    if (this.#error !== undefined) throw this.#error;
  }

  /** Waits for the write in flight, ignoring errors (before the file is closed and deleted). */
  async settle(): Promise<void> {
    this.#error ??= new Error('transfer ended');
    this.#queue = [];
    while (this.#running) await this.#running;
  }
}
