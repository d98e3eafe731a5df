/**
 * The serving side: files this node holds (shared, or finished downloading), hashed once into
 * their piece layer, and a per-peer queue of piece requests answered from disk with the node's
 * send backpressure as pacing. One peer's requests are bounded (more get "busy") and served in
 * order, so a peer that asks a lot or reads slowly only delays itself.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import { MeshwireError } from '../../errors.js';
import { choosePieceLength, pieceCount, pieceSize, PieceHasher } from './merkle.js';
import type { FileOffer } from './offer.js';
import { RateLimiter } from './rate-limit.js';
import { sameFile } from './share-registry.js';
import {
  allocPiece,
  encodeLayer,
  encodeNope,
  encodeOfferFrame,
  NopeReason,
  PIECE_HEADER_BYTES,
  WHOLE_FILE,
} from './wire.js';

/** Read size of the hashing pass. */
const HASH_READ_BYTES = 1024 * 1024;

/** A file this node can serve. */
export interface SharedFile {
  offer: FileOffer;
  path: string;
  layer: Buffer[];
  /** Size and mtime when hashed: a file changed since is no longer served. */
  mtimeMs: number;
}

/** Options of {@link hashFile}. */
export interface HashFileOptions {
  signal?: AbortSignal;
  /** Piece length to hash with (an offer's); default {@link choosePieceLength} of the size. */
  pieceLength?: number;
  /** Largest piece length {@link choosePieceLength} may pick (what fits a message). */
  maxPieceLength?: number;
}

/**
 * Reads `file` once and returns its size, piece length, root and piece layer. Throws `ERR_FILE_IO`
 * when it cannot be read or changes size while being read. The second argument may also be just
 * an AbortSignal (the signature before the options).
 */
export async function hashFile(
  file: string,
  optionsOrSignal: HashFileOptions | AbortSignal = {},
): Promise<{ size: number; pieceLength: number; root: Buffer; layer: Buffer[]; mtimeMs: number }> {
  const options: HashFileOptions =
    optionsOrSignal instanceof AbortSignal ? { signal: optionsOrSignal } : optionsOrSignal;
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new MeshwireError('ERR_FILE_IO', `cannot open ${file}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new MeshwireError('ERR_FILE_IO', `${file} is not a regular file`);
    const size = st.size;
    const pieceLength = options.pieceLength ?? choosePieceLength(size, options.maxPieceLength);
    const hasher = new PieceHasher(size, pieceLength);
    const buf = Buffer.allocUnsafe(HASH_READ_BYTES);
    let position = 0;
    while (position < size) {
      if (options.signal?.aborted)
        throw new MeshwireError('ERR_ABORTED', 'hashing aborted', { cause: options.signal.reason });
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - position), position);
      if (bytesRead === 0) throw new MeshwireError('ERR_FILE_IO', `${file} shrank while being hashed`);
      hasher.update(buf.subarray(0, bytesRead));
      position += bytesRead;
    }
    const { root, layer } = hasher.digest();
    return { size, pieceLength, root, layer, mtimeMs: st.mtimeMs };
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** What the server needs from its owner. */
export interface ServerHost {
  /** Sends to a peer; resolves when its queue has room (backpressure), rejects when it is gone. */
  sendBytesToPeer(peerId: string, data: Uint8Array): Promise<void>;
  /** The shared file with this root, if any. */
  lookup(rootHex: string): SharedFile | undefined;
}

interface PeerQueue {
  jobs: { root: Buffer; index: number }[];
  running: boolean;
}

/** Seconds of upload a rate-limited peer may have queued; more requests get busy. */
const MAX_QUEUED_SECONDS = 5;

/** Answers get-layer and request frames from a bounded per-peer queue. */
export class PieceServer {
  readonly #host: ServerHost;
  readonly #maxQueued: number;
  readonly #queues = new Map<string, PeerQueue>();
  readonly #handles = new Map<string, Promise<FileHandle>>();
  /** Bytes of piece data served, for statistics. */
  bytesServed = 0;
  #closed = false;

  readonly #uploadRate: number;
  readonly #limiters = new Map<string, RateLimiter>();

  /** `uploadBytesPerSecondPerPeer` 0 = unlimited. */
  constructor(host: ServerHost, maxQueuedPerPeer: number, uploadBytesPerSecondPerPeer = 0) {
    this.#host = host;
    this.#maxQueued = maxQueuedPerPeer;
    this.#uploadRate = uploadBytesPerSecondPerPeer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  #reply(peerId: string, frame: Uint8Array): Promise<void> {
    return this.#host.sendBytesToPeer(peerId, frame);
  }

  /** A peer asked whether we hold `root`: our offer (as a have) or nope. */
  onWant(peerId: string, root: Buffer): void {
    const shared = this.#host.lookup(root.toString('hex'));
    const frame = shared
      ? encodeOfferFrame(shared.offer.body, true)
      : encodeNope(root, WHOLE_FILE, NopeReason.unknown);
    this.#reply(peerId, frame).catch(() => undefined);
  }

  /** A peer asked for the piece layer of `root`. */
  onGetLayer(peerId: string, root: Buffer): void {
    const shared = this.#host.lookup(root.toString('hex'));
    const frame = shared ? encodeLayer(root, shared.layer) : encodeNope(root, WHOLE_FILE, NopeReason.unknown);
    this.#reply(peerId, frame).catch(() => undefined);
  }

  /** A peer asked for a piece: queued (bounded), served in order. */
  onRequest(peerId: string, root: Buffer, index: number): void {
    if (this.#closed) return;
    let queue = this.#queues.get(peerId);
    if (!queue) this.#queues.set(peerId, (queue = { jobs: [], running: false }));
    // A rate-limited peer may queue only a few seconds of pieces: later requests would wait
    // past the requester's timeout, so they get busy (the requester shrinks its window).
    const pieceLength = this.#host.lookup(root.toString('hex'))?.offer.pieceLength ?? 0;
    const limitedFull =
      this.#uploadRate > 0 &&
      queue.jobs.length > 0 &&
      (queue.jobs.length + 1) * pieceLength > this.#uploadRate * MAX_QUEUED_SECONDS;
    if (queue.jobs.length >= this.#maxQueued || limitedFull) {
      this.#reply(peerId, encodeNope(root, index, NopeReason.busy)).catch(() => undefined);
      return;
    }
    queue.jobs.push({ root: Buffer.from(root), index });
    if (!queue.running) void this.#drain(peerId, queue);
  }

  /** The upload limiter of `peerId` (kept while it is connected), when a limit is set. */
  #limiter(peerId: string): RateLimiter | undefined {
    if (this.#uploadRate <= 0) return undefined;
    let limiter = this.#limiters.get(peerId);
    if (!limiter) this.#limiters.set(peerId, (limiter = new RateLimiter(this.#uploadRate)));
    return limiter;
  }

  /** A peer left: forget its queue. */
  onPeerGone(peerId: string): void {
    this.#limiters.delete(peerId);
    const queue = this.#queues.get(peerId);
    if (queue) queue.jobs.length = 0;
    this.#queues.delete(peerId);
  }

  async #drain(peerId: string, queue: PeerQueue): Promise<void> {
    queue.running = true;
    // One read ahead: the next piece comes off the disk while this one is being sent, so the
    // disk and the socket work at the same time (two pieces per peer in memory at most).
    const readNext = (): Promise<Uint8Array> | undefined => {
      const job = queue.jobs.shift();
      return job ? this.#read(job.root, job.index) : undefined;
    };
    let next = readNext();
    try {
      while (next && !this.#closed) {
        const current = next;
        next = readNext();
        const frame = await current;
        await this.#limiter(peerId)?.take(frame.length, this);
        await this.#reply(peerId, frame);
        // Requests that arrived while this one was sent.
        next ??= readNext();
      }
    } catch {
      // The peer is gone (its send failed): drop what it asked for.
      queue.jobs.length = 0;
    } finally {
      queue.running = false;
      if (queue.jobs.length === 0 && this.#queues.get(peerId) === queue) this.#queues.delete(peerId);
    }
  }

  async #read(root: Buffer, index: number): Promise<Uint8Array> {
    const shared = this.#host.lookup(root.toString('hex'));
    const { size, pieceLength } = shared?.offer ?? { size: 0, pieceLength: 1 };
    if (!shared || index >= pieceCount(size, pieceLength)) return encodeNope(root, index, NopeReason.unknown);
    const length = pieceSize(size, pieceLength, index);
    const frame = allocPiece(root, index, length);
    try {
      const fh = await this.#handle(shared);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(
          frame,
          PIECE_HEADER_BYTES + done,
          length - done,
          index * pieceLength + done,
        );
        if (bytesRead === 0) throw new Error('file shrank');
        done += bytesRead;
      }
    } catch {
      return encodeNope(root, index, NopeReason.io);
    }
    this.bytesServed += length;
    return frame;
  }

  #handle(shared: SharedFile): Promise<FileHandle> {
    let handle = this.#handles.get(shared.offer.rootHex);
    if (!handle) {
      handle = (async () => {
        const st = await stat(shared.path);
        if (!sameFile(st, shared.offer.size, shared.mtimeMs)) {
          throw new MeshwireError('ERR_FILE_IO', `${shared.path} changed since it was shared`);
        }
        return open(shared.path, 'r');
      })();
      handle.catch(() => this.#handles.delete(shared.offer.rootHex));
      this.#handles.set(shared.offer.rootHex, handle);
    }
    return handle;
  }

  /** Forgets a share's open file handle (after unsharing). */
  async release(rootHex: string): Promise<void> {
    const handle = this.#handles.get(rootHex);
    this.#handles.delete(rootHex);
    await (await handle?.catch(() => undefined))?.close().catch(() => undefined);
  }

  /** Stops serving and closes every file handle. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#queues.clear();
    for (const rootHex of [...this.#handles.keys()]) await this.release(rootHex);
  }
}
