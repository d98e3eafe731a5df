import { createHash, type Hash } from 'node:crypto';
import { link, lstat, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
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
import { MAX_FILE_NAME_BYTES, sanitizeFileName, uniqueFinalPath } from './names.js';
import type { FileNode, FileReceiverEvents, FileReceiverOptions } from './types.js';

/** Default of {@link FileReceiverOptions.downloadsDir}. */
export const DEFAULT_DOWNLOADS_DIR = 'downloads';
/** Default of {@link FileReceiverOptions.maxFileSize}: 4 GiB. */
export const DEFAULT_MAX_FILE_SIZE = 4 * 1024 * 1024 * 1024;
/** Default of {@link FileReceiverOptions.maxConcurrentTransfers}. */
export const DEFAULT_MAX_CONCURRENT_TRANSFERS = 16;
/** Default of {@link FileReceiverOptions.idleTimeoutMs}: 2 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 120_000;

/** Suffix of the file a transfer is written to until it is verified. */
export const PART_SUFFIX = '.part';

/**
 * Refused (sender, name) keys whose remaining chunks are dropped without an event each. Bounded,
 * oldest first out, so a peer announcing endless refused names cannot grow memory.
 */
const MAX_REFUSED_KEYS = 1024;

/** Largest delay setTimeout honours (larger values fire at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** link() errors meaning "this file system has no hard links", where rename is the fallback. */
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

interface Transfer {
  from: PeerRef;
  name: string;
  size: number;
  sha256: string;
  /** Base name reserved in the downloads dir (kept in `#reserved` until the transfer ends). */
  finalName: string;
  partPath: string;
  fh: FileHandle;
  hash: Hash;
  received: number;
  startedAt: number;
  lastActivity: number;
  timer: NodeJS.Timeout | undefined;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function ioError(what: string, err: unknown): MeshwireError {
  if (err instanceof MeshwireError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new MeshwireError('ERR_FILE_IO', `${what}: ${message}`, { cause: err });
}

function integrityError(message: string): MeshwireError {
  return new MeshwireError('ERR_FILE_INTEGRITY', message);
}

function refusedKey(peerId: string, name: string): string {
  return JSON.stringify([peerId, name]);
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    throw err;
  }
}

function checkInteger(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new MeshwireError('ERR_INVALID_OPTION', `${name} must be an integer >= ${min}, got ${value}`);
  }
}

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
  readonly #idleTimeoutMs: number;
  readonly #signal: AbortSignal | undefined;
  readonly #onSignalAbort = (): void => void this.close();

  /** sender ID -> name -> transfer */
  readonly #transfers = new Map<string, Map<string, Transfer>>();
  #active = 0;
  /** Final base names claimed by transfers in flight. */
  readonly #reserved = new Set<string>();
  readonly #refused = new Set<string>();

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
      downloadsDir = DEFAULT_DOWNLOADS_DIR,
      maxFileSize = DEFAULT_MAX_FILE_SIZE,
      maxConcurrentTransfers = DEFAULT_MAX_CONCURRENT_TRANSFERS,
      idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
      signal,
    } = options;
    if (typeof downloadsDir !== 'string' || downloadsDir.length === 0) {
      throw new MeshwireError('ERR_INVALID_OPTION', 'downloadsDir must be a non-empty path');
    }
    checkInteger('maxFileSize', maxFileSize, 0);
    checkInteger('maxConcurrentTransfers', maxConcurrentTransfers, 1);
    checkInteger('idleTimeoutMs', idleTimeoutMs, 0);
    this.#node = node;
    this.downloadsDir = path.resolve(downloadsDir);
    this.#maxFileSize = maxFileSize;
    this.#maxConcurrent = maxConcurrentTransfers;
    this.#idleTimeoutMs = idleTimeoutMs;
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
    const key = refusedKey(peerId, name);
    this.#refused.delete(key);
    this.#refused.add(key);
    if (this.#refused.size > MAX_REFUSED_KEYS) {
      const oldest = this.#refused.values().next().value;
      if (oldest !== undefined) this.#refused.delete(oldest);
    }
  }

  #refuseWith(from: PeerRef, name: string, error: MeshwireError): void {
    this.#refuse(from.id, name);
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
    const previous = this.#get(from.id, name);
    if (previous) {
      await this.#fail(
        previous,
        new MeshwireError('ERR_ABORTED', `transfer of ${name} restarted by the sender`),
      );
    }
    this.#refused.delete(refusedKey(from.id, name));
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
    if (this.#active >= this.#maxConcurrent) {
      this.#refuseWith(
        from,
        name,
        new MeshwireError(
          'ERR_TOO_MANY_PENDING',
          `${this.#active} transfers already in flight (maxConcurrentTransfers)`,
        ),
      );
      return;
    }

    let opened: { finalName: string; partPath: string; fh: FileHandle };
    try {
      opened = await this.#openPart(name);
    } catch (err) {
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
      lastActivity: now,
      timer: undefined,
    };
    let byName = this.#transfers.get(from.id);
    if (!byName) this.#transfers.set(from.id, (byName = new Map()));
    byName.set(name, transfer);
    this.#active++;
    this.#armIdleTimer(transfer, this.#idleTimeoutMs);
    this.emit('file-start', { from, name, size, finalPath: path.join(this.downloadsDir, opened.finalName) });
  }

  /** Reserves a final name and creates its `.part` file exclusively (never reusing a stale one). */
  async #openPart(name: string): Promise<{ finalName: string; partPath: string; fh: FileHandle }> {
    const skip = new Set(this.#reserved);
    while (true) {
      // uniqueFinalPath gives up after a bounded number of candidates, so this loop ends.
      const finalPath = await uniqueFinalPath(this.downloadsDir, name, skip);
      const finalName = path.basename(finalPath);
      if (Buffer.byteLength(finalName + PART_SUFFIX) > MAX_FILE_NAME_BYTES) {
        throw new MeshwireError(
          'ERR_FILE_NAME',
          `${JSON.stringify(name)} is too long to store with the ${PART_SUFFIX} suffix (${MAX_FILE_NAME_BYTES} bytes max)`,
        );
      }
      const partPath = finalPath + PART_SUFFIX;
      try {
        // 'wx' = O_CREAT|O_EXCL: never truncates or follows an existing file or symlink.
        const fh = await open(partPath, 'wx');
        this.#reserved.add(finalName);
        return { finalName, partPath, fh };
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
        skip.add(finalName);
      }
    }
  }

  async #onChunk(from: PeerRef, frame: FileChunkFrame): Promise<void> {
    const { name, data } = frame;
    const t = this.#get(from.id, name);
    if (!t) {
      if (this.#refused.has(refusedKey(from.id, name))) return;
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
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await t.fh.write(data, written, data.length - written, t.received + written);
        written += bytesWritten;
      }
    } catch (err) {
      this.#refuse(from.id, name);
      await this.#fail(t, ioError(`cannot write ${t.partPath}`, err));
      return;
    }
    t.hash.update(data);
    t.received += data.length;
    t.lastActivity = performance.now();
    const elapsedMs = t.lastActivity - t.startedAt;
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
      if (this.#refused.delete(refusedKey(from.id, name))) return;
      this.emit('file-error', {
        from,
        name,
        error: new MeshwireError('ERR_FILE_PROTOCOL', `FILEEND for ${name} without a transfer in progress`),
      });
      return;
    }
    let problem: MeshwireError | undefined;
    if (t.received !== t.size) {
      problem = integrityError(`${name}: received ${t.received} of the announced ${t.size} bytes`);
    } else if (frame.sha256 !== t.sha256) {
      problem = integrityError(`${name}: FILEEND checksum differs from the one FILESTART announced`);
    } else {
      const digest = t.hash.digest('hex');
      if (digest !== t.sha256)
        problem = integrityError(`${name}: SHA-256 mismatch (got ${digest}, want ${t.sha256})`);
    }
    if (problem) {
      await this.#fail(t, problem);
      return;
    }

    this.#detach(t);
    let finalPath: string;
    try {
      await t.fh.close();
      finalPath = await this.#commit(t);
    } catch (err) {
      await this.#discard(t);
      this.emit('file-error', { from, name, error: ioError(`cannot store ${name}`, err) });
      return;
    } finally {
      this.#reserved.delete(t.finalName);
    }
    this.emit('file-complete', { from, name, size: t.size, sha256: t.sha256, path: finalPath });
  }

  /**
   * Moves the verified `.part` to a final name without ever replacing an existing file: link()
   * fails with EEXIST instead of overwriting, unlike rename(). If the reserved name was taken
   * meanwhile (by another process), the next free one is used.
   */
  async #commit(t: Transfer): Promise<string> {
    const skip = new Set(this.#reserved);
    let finalName = t.finalName;
    while (true) {
      const target = path.join(this.downloadsDir, finalName);
      try {
        await link(t.partPath, target);
        await unlink(t.partPath).catch(() => undefined);
        return target;
      } catch (err) {
        const code = errnoCode(err);
        if (code === 'EEXIST') {
          // fall through to the next candidate
        } else if (code !== undefined && NO_LINK_CODES.has(code)) {
          // No hard links here (FAT, some network shares): check-then-rename, with a window in
          // which another process could slip a file in; nothing in this process can.
          if (!(await pathExists(target))) {
            await rename(t.partPath, target);
            return target;
          }
        } else {
          throw err;
        }
      }
      skip.add(finalName);
      finalName = path.basename(await uniqueFinalPath(this.downloadsDir, t.name, skip));
    }
  }

  #armIdleTimer(t: Transfer, delayMs: number): void {
    if (this.#idleTimeoutMs === 0) return;
    t.timer = setTimeout(
      () => void this.#serialize(() => this.#checkIdle(t)),
      Math.min(delayMs, MAX_TIMER_MS),
    );
    // A stalled download must not keep the process alive on its own.
    t.timer.unref();
  }

  async #checkIdle(t: Transfer): Promise<void> {
    if (this.#get(t.from.id, t.name) !== t) return;
    // Chunks refresh lastActivity instead of re-arming the timer, which keeps the hot path cheap.
    const idleMs = performance.now() - t.lastActivity;
    if (idleMs < this.#idleTimeoutMs) {
      this.#armIdleTimer(t, this.#idleTimeoutMs - idleMs);
      return;
    }
    this.#refuse(t.from.id, t.name);
    await this.#fail(
      t,
      new MeshwireError(
        'ERR_PEER_TIMEOUT',
        `${t.name}: no data from the sender for ${this.#idleTimeoutMs} ms`,
      ),
    );
  }

  /** Removes `t` from the in-flight tables (its final name stays reserved until released). */
  #detach(t: Transfer): void {
    const byName = this.#transfers.get(t.from.id);
    if (byName?.get(t.name) !== t) return;
    byName.delete(t.name);
    if (byName.size === 0) this.#transfers.delete(t.from.id);
    this.#active--;
    clearTimeout(t.timer);
  }

  async #discard(t: Transfer): Promise<void> {
    await t.fh.close().catch(() => undefined);
    await unlink(t.partPath).catch(() => undefined);
  }

  /** Ends `t` with `error`: deletes its `.part`, releases its name and reports the error. */
  async #fail(t: Transfer, error: MeshwireError): Promise<void> {
    this.#detach(t);
    await this.#discard(t);
    this.#reserved.delete(t.finalName);
    this.emit('file-error', { from: t.from, name: t.name, error });
  }

  async #onDisconnect(peer: PeerRef): Promise<void> {
    for (const key of [...this.#refused]) {
      if ((JSON.parse(key) as [string, string])[0] === peer.id) this.#refused.delete(key);
    }
    const byName = this.#transfers.get(peer.id);
    if (!byName) return;
    for (const t of [...byName.values()]) {
      await this.#fail(
        t,
        new MeshwireError(
          'ERR_CONNECTION_CLOSED',
          `${t.name}: sender disconnected after ${t.received} of ${t.size} bytes`,
        ),
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
