/**
 * One download: pulls the pieces of one file (by Merkle root) from any number of sources, with a
 * pipelined window of requests per source, verifies every piece against the piece layer before
 * writing it into `<final>.part`, and keeps a resume state. A source that sends a bad piece is
 * dropped at once (its requests go to the others); a source that leaves or stalls hands its
 * requests back the same way. Driven by {@link FileShare}, which routes frames to it.
 */
import { unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { MeshwireError } from '../../errors.js';
import { commitPart, PART_SUFFIX, writeFully } from '../part-files.js';
import { merkleRoot, pieceCount, pieceRoot, pieceSize, pieceWidth, verifiedLayer } from './merkle.js';
import { sharedLeafHasher } from './leaf-hasher.js';
import type { FileOffer } from './offer.js';
import { MAX_SAVED_SOURCES, removeState, saveLayer, saveState } from './state-file.js';
import { isSet } from './bitfield.js';
import { StateSaver } from './state-saver.js';
import { PiecePicker } from './piece-picker.js';
import { SourceSet } from './source-set.js';
import { defaultWindow } from './share-options.js';
import type { DownloadHost, DownloadLimits, DownloadStatus, Source } from './download-types.js';
import type { NopeReasonCode } from './wire.js';

export type { DownloadEvent, DownloadHost, DownloadLimits, DownloadStatus } from './download-types.js';

/** One file being fetched. */
export class Download {
  readonly offer: FileOffer;
  readonly finalName: string;
  readonly partPath: string;
  readonly pieces: number;
  readonly startedAt = performance.now();
  status: DownloadStatus = 'active';
  /** Bytes verified and written (this session and before). */
  bytesDone = 0;
  /** Bytes verified and written in this session. */
  bytesThisSession = 0;
  /** Bytes received again after a restart, or twice (re-requested pieces). */
  bytesRefetched = 0;
  /** Peers ever known to hold the file (for resume); at most {@link MAX_SAVED_SOURCES}. */
  readonly knownSources = new Set<string>();

  readonly #host: DownloadHost;
  readonly #limits: DownloadLimits;
  readonly #fh: FileHandle;
  readonly #done: Uint8Array;
  #doneCount = 0;
  #layer: Buffer[] | undefined;
  readonly #width: number;
  readonly #sources: SourceSet;
  readonly #picker: PiecePicker;
  /** Pieces whose hash is being computed off the main thread -> the source that sent them. */
  readonly #verifying = new Map<number, string>();
  readonly #saver: StateSaver;
  #writes = 0;
  /** Most verified pieces waiting for the disk (twice one source's window). */
  readonly #maxWrites: number;
  #closed = false;
  readonly #waiters: { resolve: (path: string) => void; reject: (err: MeshwireError) => void }[] = [];

  constructor(
    host: DownloadHost,
    limits: DownloadLimits,
    offer: FileOffer,
    part: { finalName: string; fh: FileHandle },
    resume?: { bitfield: Uint8Array; layer?: Buffer[] },
  ) {
    this.#host = host;
    this.#limits = limits;
    this.offer = offer;
    this.finalName = part.finalName;
    this.partPath = path.join(host.downloadsDir, part.finalName + PART_SUFFIX);
    this.#fh = part.fh;
    const window = limits.window ?? defaultWindow(offer.pieceLength);
    this.#maxWrites = 2 * window;
    this.pieces = pieceCount(offer.size, offer.pieceLength);
    this.#width = pieceWidth(offer.size, offer.pieceLength);
    this.#done = new Uint8Array(Math.ceil(this.pieces / 8));
    this.#picker = new PiecePicker(this.pieces, (index) => this.has(index));
    this.#sources = new SourceSet(
      {
        root: offer.root,
        pieceBytes: (index) => pieceSize(offer.size, offer.pieceLength, index),
        send: (peerId, frame) => host.send(peerId, frame),
        pace: (peerId, bytes) => host.pace(peerId, bytes),
        running: () => !this.#closed && this.status !== 'complete' && this.status !== 'failed',
        hasLayer: () => this.#layer !== undefined,
        writesFull: () => this.#writes >= this.#maxWrites,
        dropped: (peerId, error) => {
          this.knownSources.delete(peerId);
          host.emit({ type: 'source-dropped', download: this, peerId, error });
        },
        emptied: () => {
          if (this.status !== 'active') return;
          this.status = 'waiting';
          host.emit({ type: 'paused', download: this });
        },
      },
      { window, requestTimeoutMs: limits.requestTimeoutMs },
      this.#picker,
    );
    this.#saver = new StateSaver(limits, {
      write: (bitfield) =>
        saveState(host.stateDir, {
          offer,
          finalName: this.finalName,
          bitfield,
          sources: [...this.knownSources],
        }),
      bitfield: () => this.#done,
      skip: () => this.status === 'complete',
      warn: (err) => {
        if (!this.#closed) this.#warn(`cannot save resume state: ${err.message}`);
      },
    });
    if (this.pieces <= 1) this.#layer = this.pieces === 1 ? [offer.root] : [];
    if (resume?.layer) this.#layer = resume.layer;
    if (resume) {
      for (let i = 0; i < this.pieces; i++) if (isSet(resume.bitfield, i)) this.#mark(i);
    }
  }

  #warn(message: string): void {
    this.#host.emit({ type: 'warning', download: this, error: new MeshwireError('ERR_FILE_IO', message) });
  }

  /** Whether piece `index` is verified and written. */
  has(index: number): boolean {
    return isSet(this.#done, index);
  }

  /** Pieces verified and written. */
  get piecesDone(): number {
    return this.#doneCount;
  }

  /** Peers currently serving this download. */
  get activeSources(): string[] {
    return this.#sources.ids();
  }

  /** The verified piece layer, once known. */
  get layer(): Buffer[] | undefined {
    return this.#layer;
  }

  /** Whether the piece layer is known (always for one-piece files). */
  get hasLayer(): boolean {
    return this.#layer !== undefined;
  }

  /** Resolves with the final path when complete; rejects when the download fails or is closed. */
  done(): Promise<string> {
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  #mark(index: number): void {
    if (isSet(this.#done, index)) return;
    this.#done[index >> 3]! |= 0x80 >> (index & 7);
    this.#doneCount++;
    this.bytesDone += pieceSize(this.offer.size, this.offer.pieceLength, index);
  }

  /** Adds a peer as a source (ignored when banned or already one). Starts requesting. */
  addSource(peerId: string): void {
    if (this.#closed || this.status === 'complete' || this.#sources.isBanned(peerId)) return;
    if (this.knownSources.size < MAX_SAVED_SOURCES) this.knownSources.add(peerId);
    if (!this.#sources.add(peerId)) return;
    if (this.status === 'waiting') this.status = 'active';
    this.#sources.pump();
    if (this.#doneCount === this.pieces) void this.#finish();
  }

  /** Completes the download when every piece is already there (a resume, an empty file). */
  maybeFinish(): void {
    if (this.#doneCount === this.pieces) void this.#finish();
  }

  /** A source left (disconnected, or a send to it failed): its requests go to the others. */
  sourceLost(peerId: string): void {
    this.#sources.release(peerId);
  }

  /** The piece layer (32-byte hashes, concatenated) arrived from `peerId`. */
  onLayer(peerId: string, layer: Uint8Array): void {
    if (this.#layer || !this.#sources.get(peerId)) return;
    const hashes = verifiedLayer(layer, this.offer.size, this.offer.pieceLength, this.offer.root);
    if (!hashes) {
      this.#sources.ban(
        peerId,
        new MeshwireError('ERR_FILE_INTEGRITY', `${peerId} sent a piece layer that does not match the root`),
      );
      return;
    }
    this.#layer = hashes;
    void saveLayer(this.#host.stateDir, this.finalName, this.#layer).catch((err: unknown) =>
      this.#warn(`cannot save the piece layer: ${(err as Error).message}`),
    );
    this.#sources.pump();
  }

  /** `peerId` answered nope: busy hands the piece back; anything else ends it as a source (reported). */
  onNope(peerId: string, index: number, reason: NopeReasonCode): void {
    this.#sources.onNope(peerId, index, reason);
  }

  /**
   * A piece arrived from `peerId`: verify (leaves hashed on the worker thread when enabled, the
   * tree and the comparison here), then write. Nothing is written before the comparison.
   */
  onPiece(peerId: string, index: number, data: Uint8Array): void {
    const source = this.#sources.get(peerId);
    if (
      !source ||
      !source.inflight.has(index) ||
      this.#picker.busy.get(index) !== peerId ||
      !this.#layer ||
      this.#verifying.get(index) === peerId
    ) {
      // Unrequested (or already re-assigned after a timeout, or a duplicate): never written.
      this.bytesRefetched += data.length;
      return;
    }
    const expected = pieceSize(this.offer.size, this.offer.pieceLength, index);
    if (data.length !== expected) {
      this.#badPiece(peerId, index);
      return;
    }
    const hasher = this.#limits.hashInWorker ? sharedLeafHasher() : undefined;
    if (!hasher || hasher.failed) {
      this.#verified(peerId, index, data, pieceRoot(data, this.#width));
      return;
    }
    // The request slot stays taken while the piece is hashed, so the window still bounds memory.
    this.#verifying.set(index, peerId);
    hasher.leaves(data, this.offer.pieceLength).then(
      (leaves) => {
        if (this.#verifying.get(index) === peerId) this.#verifying.delete(index);
        this.#verified(peerId, index, data, merkleRoot(leaves, this.#width));
      },
      () => {
        // The worker died: hash here instead (later pieces do too).
        if (this.#verifying.get(index) === peerId) this.#verifying.delete(index);
        this.#verified(peerId, index, data, pieceRoot(data, this.#width));
      },
    );
  }

  #badPiece(peerId: string, index: number): void {
    this.#sources.ban(
      peerId,
      new MeshwireError(
        'ERR_FILE_INTEGRITY',
        `${peerId} sent piece ${index} that fails verification; dropped as a source`,
      ),
    );
  }

  /** `data` (piece `index` from `peerId`) hashes to `hash`: compare with the layer, then write. */
  #verified(peerId: string, index: number, data: Uint8Array, hash: Buffer): void {
    if (this.#closed || this.status === 'complete' || this.status === 'failed') return;
    if (this.#sources.isBanned(peerId)) {
      // Its first bad piece (hashed just before this one) already dropped and reported it.
      this.bytesRefetched += data.length;
      return;
    }
    if (!hash.equals(this.#layer![index]!)) {
      this.#badPiece(peerId, index);
      return;
    }
    const source = this.#sources.get(peerId);
    if (!source || !source.inflight.has(index) || this.#picker.busy.get(index) !== peerId) {
      // The source left or timed out while the piece was hashed: it was handed to another.
      this.bytesRefetched += data.length;
      return;
    }
    // The request slot is free as soon as the piece is verified, so the network does not wait
    // for the disk; pieces waiting to be written are capped separately (#maxWrites), which keeps
    // memory bounded by (windows + that cap) × piece length.
    source.inflight.delete(index);
    this.#picker.busy.set(index, '');
    this.#writes++;
    void writeFully(this.#fh, data, index * this.offer.pieceLength).then(
      () => {
        this.#writes--;
        this.#written(index, data, source);
      },
      (err: unknown) => {
        this.#writes--;
        void this.fail(
          new MeshwireError('ERR_FILE_IO', `cannot write ${this.partPath}: ${(err as Error).message}`, {
            cause: err,
          }),
        );
      },
    );
    this.#sources.pump();
  }

  /** Piece `index` is written (in the page cache; see state-saver.ts for why no sync). */
  #written(index: number, data: Uint8Array, source: Source): void {
    this.#picker.busy.delete(index);
    this.#mark(index);
    this.#sources.grow(source);
    this.bytesThisSession += data.length;
    this.#saver.noteVerified();
    this.#host.emit({ type: 'progress', download: this });
    if (this.#doneCount === this.pieces) void this.#finish();
    else this.#sources.pump();
  }

  /**
   * Records the verified pieces in the state file (data first, then the bitfield; see
   * {@link StateSaver}). Errors become warnings.
   */
  saveState(): Promise<void> {
    return this.#saver.save();
  }

  /** Called periodically: hands back stalled requests, drops sources late again and again. */
  tick(now?: number): void {
    this.#sources.tick(now);
  }

  async #finish(): Promise<void> {
    if (this.status === 'complete' || this.#closed || this.#writes > 0) return;
    this.status = 'complete';
    this.#saver.stop();
    this.#sources.clearInflight();
    try {
      await this.#saver.idle();
      await this.#fh.close();
      const finalPath = await commitPart(
        this.#host.downloadsDir,
        this.offer.name,
        { finalName: this.finalName, partPath: this.partPath },
        this.#host.reserved,
      );
      await removeState(this.#host.stateDir, this.finalName);
      this.#closed = true;
      this.#host.reserved.delete(this.finalName);
      this.#host.emit({ type: 'complete', download: this, path: finalPath });
      for (const w of this.#waiters.splice(0)) w.resolve(finalPath);
    } catch (err) {
      this.status = 'active';
      await this.fail(
        new MeshwireError('ERR_FILE_IO', `cannot store ${this.offer.name}: ${(err as Error).message}`, {
          cause: err,
        }),
      );
    }
  }

  /**
   * Ends the download with `error`. The `.part` and the state stay (saved once more), so the
   * download resumes when the owner starts again; `discard` deletes them instead.
   */
  async fail(error: MeshwireError, discard = false): Promise<void> {
    if (this.#closed) return;
    this.status = 'failed';
    await this.close(discard);
    this.#host.emit({ type: 'failed', download: this, error });
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }

  /** Stops: saves the state (or deletes `.part` and state with `discard`) and closes the file. */
  async close(discard = false): Promise<void> {
    if (this.#closed) return;
    if (!discard) await this.saveState();
    this.#closed = true;
    this.#saver.stop();
    this.#sources.clear();
    await this.#saver.idle();
    await this.#fh.close().catch(() => undefined);
    this.#host.reserved.delete(this.finalName);
    if (discard) {
      await unlink(this.partPath).catch(() => undefined);
      await removeState(this.#host.stateDir, this.finalName);
    }
    if (this.status !== 'failed' && this.status !== 'complete') {
      const error = new MeshwireError('ERR_CLOSED', `download of ${this.offer.name} stopped`);
      for (const w of this.#waiters.splice(0)) w.reject(error);
    }
  }
}
