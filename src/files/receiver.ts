// Over ~400 lines (about 520): the compat FileReceiver is one state machine per transfer (start,
// chunks, end, idle, refusal, disk errors) whose steps share its bookkeeping; options, refusals,
// the end and idle checks, names and .part files live in their own modules.
import { createHash } from 'node:crypto';
import { mkdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MeshwireError } from '../errors.js';
import type { MeshMessage, PeerRef } from '../messages.js';
import { TypedEmitter } from '../typed-emitter.js';
import {
  encodeFileAck,
  encodeFileReject,
  FILE_REJECT_REASONS,
  parseFileFrame,
  type FileChunkFrame,
  type FileEndFrame,
  type FileFrame,
  type FileRejectReason,
  type FileStartFrame,
} from './frames.js';
import { sanitizeFileName } from './names.js';
import { commitPart, openPart, writeFully } from './part-files.js';
import type { FileNode, FileReceiverEvents, FileReceiverOptions } from './types.js';
import { resolveReceiverOptions } from './receiver-options.js';
import { RefusedNames } from './refused-names.js';
import { endProblem, idleError, integrityError, ioError, type Transfer } from './incoming-transfer.js';

export {
  DEFAULT_DOWNLOADS_DIR,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_TRANSFERS,
  DEFAULT_MAX_FILE_SIZE,
  DEFAULT_MAX_TRANSFERS_PER_PEER,
  DEFAULT_MIN_BYTES_PER_SECOND,
} from './receiver-options.js';
export { PART_SUFFIX } from './part-files.js';

/** Largest delay setTimeout honours (larger values fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const REJECT_REASONS: ReadonlySet<string> = new Set(FILE_REJECT_REASONS);

/**
 * Receives files sent with {@link sendFile} (or by the Go original) into a downloads directory.
 *
 * It reads the node's `bytes` and `peer-disconnected` messages through its own
 * `node.messages()` iterator and handles them one at a time, awaiting each disk write, so a slow
 * disk slows the senders down (socket backpressure) instead of piling chunks up in memory or
 * dropping them. BYTES payloads that are not file frames are ignored.
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
  readonly #maxFileSize: number;
  readonly #maxConcurrent: number;
  readonly #maxPerPeer: number;
  readonly #idleTimeoutMs: number;
  readonly #minBytesPerSecond: number;
  readonly #replies: boolean;
  readonly #signal: AbortSignal | undefined;
  readonly #onSignalAbort = (): void => void this.close();

  /** sender ID -> name -> transfer */
  readonly #transfers = new Map<string, Map<string, Transfer>>();
  /** Slots taken, counted from the moment a FILESTART is admitted (before its `.part` exists). */
  #active = 0;
  /** sender ID -> slots it holds (same accounting as `#active`). */
  readonly #perPeer = new Map<string, number>();
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
    const {
      downloadsDir,
      maxFileSize,
      maxConcurrentTransfers,
      maxTransfersPerPeer,
      idleTimeoutMs,
      minBytesPerSecond,
      replies,
      signal,
    } = resolveReceiverOptions(node, options);
    this.#node = node;
    this.downloadsDir = path.resolve(downloadsDir);
    this.#maxFileSize = maxFileSize;
    this.#maxConcurrent = maxConcurrentTransfers;
    this.#maxPerPeer = maxTransfersPerPeer;
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#minBytesPerSecond = minBytesPerSecond;
    this.#replies = replies;
    this.#signal = signal;
    if (signal?.aborted) this.#closed = true;
    else signal?.addEventListener('abort', this.#onSignalAbort, { once: true });
  }

  /** Number of transfers in flight. */
  get activeTransfers(): number {
    return this.#active;
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

  #get(peerId: string, name: string): Transfer | undefined {
    return this.#transfers.get(peerId)?.get(name);
  }

  #refuse(peerId: string, name: string): void {
    this.#refused.add(peerId, name);
  }

  #refuseWith(from: PeerRef, name: string, error: MeshwireError): void {
    this.#refuse(from.id, name);
    this.#reply(from.id, name, error);
    this.emit('file-error', { from, name, error });
  }

  /**
   * Tells the sender (secure mode only) that its transfer of `name` ended: FILEACK when `error` is
   * undefined, else FILEREJECT with the error's code. Never awaited: a sender that does not read
   * must not stall the receiver; its own send queue bounds what piles up for it.
   */
  #reply(peerId: string, name: string, error?: MeshwireError): void {
    if (!this.#replies) return;
    let frame: Buffer;
    try {
      if (error === undefined) return;
      const reason = (REJECT_REASONS.has(error.code) ? error.code : 'ERR_FILE_PROTOCOL') as FileRejectReason;
      frame = encodeFileReject(name, reason);
    } catch {
      return; // a name that cannot be encoded was never a transfer the sender can match
    }
    this.#node.sendBytesToPeer(peerId, frame).catch(() => undefined);
  }

  #ack(peerId: string, name: string, sha256: string): void {
    if (!this.#replies) return;
    this.#node.sendBytesToPeer(peerId, encodeFileAck(name, sha256)).catch(() => undefined);
  }

  #takeSlot(peerId: string): void {
    this.#active++;
    this.#perPeer.set(peerId, (this.#perPeer.get(peerId) ?? 0) + 1);
  }

  #releaseSlot(peerId: string): void {
    this.#active--;
    const n = (this.#perPeer.get(peerId) ?? 1) - 1;
    if (n > 0) this.#perPeer.set(peerId, n);
    else this.#perPeer.delete(peerId);
  }

  async #onStart(from: PeerRef, frame: FileStartFrame): Promise<void> {
    const { name, size, sha256 } = frame;
    try {
      sanitizeFileName(name);
    } catch (err) {
      this.#refuseWith(from, name, err as MeshwireError);
      return;
    }
    const previous = this.#get(from.id, name);
    if (previous) {
      await this.#fail(
        previous,
        new MeshwireError('ERR_ABORTED', `transfer of ${name} restarted by the sender`),
        false,
      );
    }
    this.#refused.delete(from.id, name);
    if (size > this.#maxFileSize) {
      this.#refuseWith(
        from,
        name,
        new MeshwireError(
          'ERR_FILE_TOO_LARGE',
          `${name} is ${size} bytes, more than maxFileSize ${this.#maxFileSize}`,
        ),
      );
      return;
    }
    const held = this.#perPeer.get(from.id) ?? 0;
    if (held >= this.#maxPerPeer) {
      this.#refuseWith(
        from,
        name,
        new MeshwireError(
          'ERR_TOO_MANY_PENDING',
          `${from.id} already has ${held} transfers in flight (maxTransfersPerPeer ${this.#maxPerPeer})`,
        ),
      );
      return;
    }
    if (this.#active >= this.#maxConcurrent) {
      this.#refuseWith(
        from,
        name,
        new MeshwireError(
          'ERR_TOO_MANY_PENDING',
          `${this.#active} transfers already in flight (maxConcurrentTransfers ${this.#maxConcurrent})`,
        ),
      );
      return;
    }

    // The slot is taken before the first await so that the caps hold however handling interleaves.
    this.#takeSlot(from.id);
    let opened: { finalName: string; partPath: string; fh: FileHandle };
    try {
      opened = await openPart(this.downloadsDir, name, this.#reserved);
    } catch (err) {
      this.#releaseSlot(from.id);
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
      received: 0,
      startedAt: now,
      windowStartBytes: 0,
      timer: undefined,
    };
    let byName = this.#transfers.get(from.id);
    if (!byName) this.#transfers.set(from.id, (byName = new Map()));
    byName.set(name, transfer);
    this.#armIdleTimer(transfer);
    this.emit('file-start', { from, name, size, finalPath: path.join(this.downloadsDir, opened.finalName) });
  }

  async #onChunk(from: PeerRef, frame: FileChunkFrame): Promise<void> {
    const { name, data } = frame;
    const t = this.#get(from.id, name);
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
      this.#refuse(from.id, name);
      await this.#fail(
        t,
        integrityError(`${name}: more data than the announced ${t.size} bytes (${t.received + data.length})`),
      );
      return;
    }
    try {
      await writeFully(t.fh, data, t.received);
    } catch (err) {
      this.#refuse(from.id, name);
      await this.#fail(t, ioError(`cannot write ${t.partPath}`, err));
      return;
    }
    t.hash.update(data);
    t.received += data.length;
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
    const t = this.#get(from.id, name);
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
      this.#reply(from.id, name, error);
      this.emit('file-error', { from, name, error });
      return;
    } finally {
      this.#reserved.delete(t.finalName);
    }
    this.#ack(from.id, name, t.sha256);
    this.emit('file-complete', { from, name, size: t.size, sha256: t.sha256, path: finalPath });
  }

  /**
   * Checks a transfer's progress once per `idleTimeoutMs` window: fewer than
   * `minBytesPerSecond` × window bytes in it (at least one) ends the transfer. Judging progress
   * over time, not "any byte arrived", keeps a sender trickling one byte per window from holding
   * a slot forever. One timer per window, not per chunk, keeps the hot path cheap.
   */
  #armIdleTimer(t: Transfer): void {
    if (this.#idleTimeoutMs === 0) return;
    t.windowStartBytes = t.received;
    t.timer = setTimeout(
      () => void this.#serialize(() => this.#checkIdle(t)),
      Math.min(this.#idleTimeoutMs, MAX_TIMER_MS),
    );
    // A stalled download must not keep the process alive on its own.
    t.timer.unref();
  }

  async #checkIdle(t: Transfer): Promise<void> {
    if (this.#get(t.from.id, t.name) !== t) return;
    const idle = idleError(t, this.#minBytesPerSecond, this.#idleTimeoutMs);
    if (!idle) {
      this.#armIdleTimer(t);
      return;
    }
    this.#refuse(t.from.id, t.name);
    await this.#fail(t, idle);
  }

  /** Removes `t` from the in-flight tables and frees its slot (its final name stays reserved). */
  #detach(t: Transfer): void {
    const byName = this.#transfers.get(t.from.id);
    if (byName?.get(t.name) !== t) return;
    byName.delete(t.name);
    if (byName.size === 0) this.#transfers.delete(t.from.id);
    this.#releaseSlot(t.from.id);
    clearTimeout(t.timer);
  }

  async #discard(t: Transfer): Promise<void> {
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
    if (reply) this.#reply(t.from.id, t.name, error);
    this.emit('file-error', { from: t.from, name: t.name, error });
  }

  async #onDisconnect(peer: PeerRef): Promise<void> {
    this.#refused.forgetPeer(peer.id);
    const byName = this.#transfers.get(peer.id);
    if (!byName) return;
    for (const t of [...byName.values()]) {
      await this.#fail(
        t,
        new MeshwireError(
          'ERR_CONNECTION_CLOSED',
          `${t.name}: sender disconnected after ${t.received} of ${t.size} bytes`,
        ),
        false,
      );
    }
  }

  async #abortAll(error: MeshwireError): Promise<void> {
    this.#refused.clear();
    for (const byName of [...this.#transfers.values()]) {
      for (const t of [...byName.values()]) await this.#fail(t, error);
    }
  }
}
