import { createHash } from 'node:crypto';
import { mkdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MeshwireError } from '../errors.js';
import type { MeshMessage, PeerRef } from '../messages.js';
import { TypedEmitter } from '../typed-emitter.js';
import {
  parseFileFrame,
  type FileChunkFrame,
  type FileEndFrame,
  type FileFrame,
  type FileStartFrame,
} from './frames.js';
import { sanitizeFileName } from './names.js';
import { commitPart, openPart } from './part-files.js';
import { ChunkWriter } from './chunk-writer.js';
import type { FileNode, FileReceiverEvents, FileReceiverOptions } from './types.js';
import { resolveReceiverOptions } from './receiver-options.js';
import { RefusedNames } from './refused-names.js';
import { TransferTable } from './transfer-table.js';
import { TransferReplies } from './transfer-replies.js';
import {
  armIdleTimer,
  disconnectedError,
  endProblem,
  idleError,
  integrityError,
  ioError,
  type Transfer,
} from './incoming-transfer.js';

/**
 * Receives files sent with {@link sendFile} (or by the Go original) into a downloads directory.
 *
 * It reads the node's `bytes` and `peer-disconnected` messages through its own
 * `node.messages()` iterator and handles them one at a time. Each chunk is hashed at once and
 * written behind (a {@link ChunkWriter}: at most 1 MiB queued per transfer, then it waits), so a
 * slow disk slows the senders down (socket backpressure) instead of piling chunks up in memory
 * or dropping them. BYTES payloads that are not file frames are ignored.
 *
 * Each transfer, keyed by (sender ID, name), is written to `<downloadsDir>/<final>.part`, opened
 * exclusively; `<final>` is the announced name or `name-(n).ext`, never an existing file or one
 * reserved by another transfer in flight. At FILEEND size and SHA-256 are checked and the file is
 * moved to `<final>` without overwriting anything (if that name was taken meanwhile, the next free
 * one is used). Whatever goes wrong with a transfer ends it with a `'file-error'` event and its
 * `.part` deleted; the receiver keeps running.
 *
 * @example
 * ```ts
 * const receiver = new FileReceiver(node, { downloadsDir: 'downloads' });
 * receiver.on('file-complete', (e) => console.log(`${e.from.name} sent ${e.path}`));
 * receiver.on('file-error', (e) => console.warn(e.error.message));
 * await receiver.start();
 * ```
 */
export class FileReceiver extends TypedEmitter<FileReceiverEvents> {
  /** Absolute path of the downloads directory (resolved when the receiver is constructed). */
  readonly downloadsDir: string;

  readonly #node: FileNode;
  readonly #idle: { idleTimeoutMs: number; minBytesPerSecond: number };
  readonly #replies: TransferReplies;
  readonly #signal: AbortSignal | undefined;
  readonly #onSignalAbort = (): void => void this.close();

  readonly #table: TransferTable;
  /** Final base names claimed by transfers in flight. */
  readonly #reserved = new Set<string>();
  readonly #refused = new RefusedNames();

  readonly #stop = new AbortController();
  #iterator: AsyncIterator<MeshMessage> | undefined;
  #startPromise: Promise<void> | undefined;
  #closePromise: Promise<void> | undefined;
  #closed = false;
  /** Tail of the chain that serializes message handling, idle checks and close. */
  #tail: Promise<void> = Promise.resolve();

  /**
   * Validates options (throws `ERR_INVALID_OPTION`); does no I/O until {@link FileReceiver.start}.
   */
  constructor(node: FileNode, options: FileReceiverOptions = {}) {
    super();
    const o = resolveReceiverOptions(node, options);
    const { idleTimeoutMs, minBytesPerSecond, signal } = o;
    this.#node = node;
    this.downloadsDir = path.resolve(o.downloadsDir);
    this.#table = new TransferTable(o.maxFileSize, o.maxConcurrentTransfers, o.maxTransfersPerPeer);
    this.#idle = { idleTimeoutMs, minBytesPerSecond };
    this.#replies = new TransferReplies(node, o.replies);
    this.#signal = signal;
    if (signal?.aborted) this.#closed = true;
    else signal?.addEventListener('abort', this.#onSignalAbort, { once: true });
  }

  /** Number of transfers in flight. */
  get activeTransfers(): number {
    return this.#table.active;
  }

  /**
   * Subscribes to the node's messages and creates the downloads directory. Resolves when the
   * receiver is ready; rejects with `ERR_FILE_IO` when the directory cannot be created, or
   * `ERR_CLOSED` after {@link FileReceiver.close}. Calling it again returns the same promise.
   */
  start(): Promise<void> {
    if (this.#closed) return Promise.reject(new MeshwireError('ERR_CLOSED', 'file receiver is closed'));
    this.#startPromise ??= this.#start();
    return this.#startPromise;
  }

  async #start(): Promise<void> {
    // Subscribe before the first await: messages that arrive while the directory is created wait
    // in this iterator's queue instead of being missed.
    const stream = this.#node.messages({ types: ['bytes', 'peer-disconnected'], signal: this.#stop.signal });
    const iterator = stream[Symbol.asyncIterator]();
    this.#iterator = iterator;
    try {
      await mkdir(this.downloadsDir, { recursive: true });
    } catch (err) {
      await this.close();
      throw ioError(`cannot create downloads directory ${this.downloadsDir}`, err);
    }
    void this.#pump(iterator);
  }

  /**
   * Stops receiving: ends the message subscription, aborts every transfer in flight (a
   * `'file-error'` with `ERR_CLOSED` each) and deletes their `.part` files. Idempotent.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#signal?.removeEventListener('abort', this.#onSignalAbort);
    this.#stop.abort();
    // The signal should end the iterator; return() makes sure even if it is slow to notice.
    void this.#iterator?.return?.()?.catch(() => undefined);
    await this.#serialize(() => this.#abortAll(new MeshwireError('ERR_CLOSED', 'file receiver closed')));
  }

  /** Same as {@link FileReceiver.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #pump(iterator: AsyncIterator<MeshMessage>): Promise<void> {
    try {
      while (!this.#closed) {
        const next = await iterator.next();
        if (next.done) break;
        await this.#serialize(() => this.#handle(next.value));
      }
    } catch {
      // The stream failed, which only happens when the node is going away; handled below.
    }
    // The node closed (or we did): no sender can finish, so nothing in flight can complete.
    if (!this.#closed) void this.close();
  }

  #serialize(task: () => Promise<void>): Promise<void> {
    // Handlers report their own failures as events; the catch only keeps one broken task from
    // wedging the chain for all later ones.
    const next = this.#tail.then(task).catch(() => undefined);
    this.#tail = next;
    return next;
  }

  async #handle(msg: MeshMessage): Promise<void> {
    if (this.#closed) return;
    if (msg.type === 'peer-disconnected') {
      await this.#onDisconnect(msg.peer);
      return;
    }
    if (msg.type !== 'bytes') return;
    const { from } = msg;
    let frame: FileFrame | null;
    try {
      frame = parseFileFrame(msg.data);
    } catch (err) {
      this.emit('file-error', { from, error: err as MeshwireError });
      return;
    }
    if (frame === null) return;
    try {
      switch (frame.type) {
        case 'file-start':
          await this.#onStart(from, frame);
          break;
        case 'file-chunk':
          await this.#onChunk(from, frame);
          break;
        case 'file-end':
          await this.#onEnd(from, frame);
          break;
      }
    } catch (err) {
      // Defensive: the handlers map their own errors, but a bug must not kill the receiver.
      this.emit('file-error', { from, name: frame.name, error: ioError('unexpected failure', err) });
    }
  }

  #refuseWith(from: PeerRef, name: string, error: MeshwireError): void {
    this.#refused.add(from.id, name);
    this.#replies.reject(from.id, name, error);
    this.emit('file-error', { from, name, error });
  }

  async #onStart(from: PeerRef, frame: FileStartFrame): Promise<void> {
    const { name, size, sha256 } = frame;
    try {
      sanitizeFileName(name);
    } catch (err) {
      this.#refuseWith(from, name, err as MeshwireError);
      return;
    }
    const previous = this.#table.get(from.id, name);
    if (previous) {
      await this.#fail(
        previous,
        new MeshwireError('ERR_ABORTED', `transfer of ${name} restarted by the sender`),
        false,
      );
    }
    this.#refused.delete(from.id, name);
    const refusal = this.#table.refusal(from.id, name, size);
    if (refusal) {
      this.#refuseWith(from, name, refusal);
      return;
    }

    // The slot is taken before the first await so that the caps hold however handling interleaves.
    this.#table.take(from.id);
    let opened: { finalName: string; partPath: string; fh: FileHandle };
    try {
      opened = await openPart(this.downloadsDir, name, this.#reserved);
    } catch (err) {
      this.#table.release(from.id);
      this.#refuseWith(from, name, ioError(`cannot create a file for ${name}`, err));
      return;
    }
    const now = performance.now();
    const transfer: Transfer = {
      from,
      name,
      size,
      sha256,
      ...opened,
      hash: createHash('sha256'),
      writer: new ChunkWriter(opened.fh),
      received: 0,
      startedAt: now,
      windowStartBytes: 0,
      timer: undefined,
    };
    this.#table.add(transfer);
    this.#armIdleTimer(transfer);
    this.emit('file-start', { from, name, size, finalPath: path.join(this.downloadsDir, opened.finalName) });
  }

  async #onChunk(from: PeerRef, frame: FileChunkFrame): Promise<void> {
    const { name, data } = frame;
    const t = this.#table.get(from.id, name);
    if (!t) {
      if (this.#refused.has(from.id, name)) return;
      this.emit('file-error', {
        from,
        name,
        error: new MeshwireError('ERR_FILE_PROTOCOL', `FILECHUNK for ${name} without a transfer in progress`),
      });
      return;
    }
    if (t.received + data.length > t.size) {
      this.#refused.add(from.id, name);
      await this.#fail(
        t,
        integrityError(`${name}: more data than the announced ${t.size} bytes (${t.received + data.length})`),
      );
      return;
    }
    // Hashed now, written behind: the disk works while the next chunk is decoded and hashed.
    const position = t.received;
    t.hash.update(data);
    t.received += data.length;
    try {
      await t.writer.write(data, position);
    } catch (err) {
      this.#refused.add(from.id, name);
      await this.#fail(t, ioError(`cannot write ${t.partPath}`, err));
      return;
    }
    const elapsedMs = performance.now() - t.startedAt;
    this.emit('file-progress', {
      from,
      name,
      bytesReceived: t.received,
      size: t.size,
      rate: elapsedMs > 0 ? (t.received * 1000) / elapsedMs : 0,
    });
  }

  async #onEnd(from: PeerRef, frame: FileEndFrame): Promise<void> {
    const { name } = frame;
    const t = this.#table.get(from.id, name);
    if (!t) {
      // The end of a refused transfer closes its refusal; anything else is a stray frame.
      if (this.#refused.delete(from.id, name)) return;
      this.emit('file-error', {
        from,
        name,
        error: new MeshwireError('ERR_FILE_PROTOCOL', `FILEEND for ${name} without a transfer in progress`),
      });
      return;
    }
    try {
      await t.writer.flush();
    } catch (err) {
      await this.#fail(t, ioError(`cannot write ${t.partPath}`, err));
      return;
    }
    const problem = endProblem(t, frame.sha256);
    if (problem) {
      await this.#fail(t, problem);
      return;
    }

    this.#detach(t);
    let finalPath: string;
    try {
      await t.fh.close();
      finalPath = await commitPart(this.downloadsDir, t.name, t, this.#reserved);
    } catch (err) {
      await this.#discard(t);
      const error = ioError(`cannot store ${name}`, err);
      this.#replies.reject(from.id, name, error);
      this.emit('file-error', { from, name, error });
      return;
    } finally {
      this.#reserved.delete(t.finalName);
    }
    this.#replies.ack(from.id, name, t.sha256);
    this.emit('file-complete', { from, name, size: t.size, sha256: t.sha256, path: finalPath });
  }

  #armIdleTimer(t: Transfer): void {
    armIdleTimer(t, this.#idle.idleTimeoutMs, () => void this.#serialize(() => this.#checkIdle(t)));
  }

  async #checkIdle(t: Transfer): Promise<void> {
    if (this.#table.get(t.from.id, t.name) !== t) return;
    const idle = idleError(t, this.#idle.minBytesPerSecond, this.#idle.idleTimeoutMs);
    if (!idle) {
      this.#armIdleTimer(t);
      return;
    }
    this.#refused.add(t.from.id, t.name);
    await this.#fail(t, idle);
  }

  /** Removes `t` from the in-flight tables and frees its slot (its final name stays reserved). */
  #detach(t: Transfer): void {
    if (this.#table.remove(t)) clearTimeout(t.timer);
  }

  async #discard(t: Transfer): Promise<void> {
    await t.writer.settle();
    await t.fh.close().catch(() => undefined);
    await unlink(t.partPath).catch(() => undefined);
  }

  /**
   * Ends `t` with `error`: deletes its `.part`, releases its name, tells the sender (unless
   * `reply` is false: a restart or a disconnect has nobody to tell) and reports the error.
   */
  async #fail(t: Transfer, error: MeshwireError, reply = true): Promise<void> {
    this.#detach(t);
    await this.#discard(t);
    this.#reserved.delete(t.finalName);
    if (reply) this.#replies.reject(t.from.id, t.name, error);
    this.emit('file-error', { from: t.from, name: t.name, error });
  }

  async #onDisconnect(peer: PeerRef): Promise<void> {
    this.#refused.forgetPeer(peer.id);
    for (const t of this.#table.from(peer.id)) await this.#fail(t, disconnectedError(t), false);
  }

  async #abortAll(error: MeshwireError): Promise<void> {
    this.#refused.clear();
    for (const t of this.#table.all()) await this.#fail(t, error);
  }
}
