// Over ~400 lines (about 530): FileShare is the facade that ties offers, consent, admission,
// downloads and the piece server to one node; each of those lives in its own module.
import { mkdir, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MeshwireError } from '../../errors.js';
import type { MeshMessage, PeerRef } from '../../messages.js';
import { TypedEmitter } from '../../typed-emitter.js';
import { openPart } from '../part-files.js';
import type { FileNode } from '../types.js';
import { Download, type DownloadEvent, type DownloadHost, type DownloadLimits } from './download.js';
import { parseOffer, type FileOffer } from './offer.js';
import { PieceServer } from './source.js';
import { resumables } from './resume.js';
import { resolveShareOptions, type ResolvedShareOptions } from './share-options.js';
import { untilAborted, WantTable } from './want-table.js';
import { ConsentGate, KnownRoots } from './known-roots.js';
import { ShareRegistry } from './share-registry.js';
import { layerOf, offerTo, signedOffer } from './sharing.js';
import { Admission } from './admission.js';
import { listTransfers } from './transfer-list.js';
import { RateLimiter } from './rate-limit.js';
import type { FileShareEvents, FileShareOptions, TransferInfo } from './types.js';
import {
  encodeNope,
  encodeOfferFrame,
  encodeWant,
  NopeReason,
  parsePieceFrame,
  WHOLE_FILE,
  type PieceFrame,
} from './wire.js';

/** Resume states loaded at start; more are left on disk with a warning. */
const MAX_RESUMED = 256;
const MAX_PENDING_ACCEPTS_PER_PEER = 4;

/**
 * Content-addressed, resumable, multi-source file sharing over a secure-mode node (the piece
 * protocol of PROTOCOL.md). A file is identified by its Merkle root; its signed offer names it.
 * Receivers pull pieces from every peer that holds the file, verify each piece before writing it,
 * and resume from `.part` plus a state file after a crash of either side.
 *
 * @example
 * ```ts
 * const share = new FileShare(node, { downloadsDir: 'downloads', signer });
 * share.on('download-complete', (e) => console.log(e.path));
 * await share.start();
 * const offer = await share.sendFile('./video.mp4', { to: bobId }); // bob pulls it
 * await share.fetchFile(offer.rootHex); // elsewhere: pull from whoever has it
 * ```
 */
export class FileShare extends TypedEmitter<FileShareEvents> {
  readonly downloadsDir: string;
  readonly stateDir: string;
  readonly #node: FileNode;
  readonly #opts: ResolvedShareOptions;
  readonly #limits: DownloadLimits;
  readonly #signer: FileShareOptions['signer'];
  readonly #shares: ShareRegistry;
  readonly #downloads = new Map<string, Download>();
  /** rootHex -> peer whose offer started the download (for the per-peer cap). */
  readonly #startedBy = new Map<string, string>();
  readonly #known = new KnownRoots();
  readonly #consent = new ConsentGate(MAX_PENDING_ACCEPTS_PER_PEER);
  readonly #connected = new Set<string>();
  readonly #reserved = new Set<string>();
  readonly #wants = new WantTable();
  /** Download limiters per source peer (shared by all downloads from it), when a limit is set. */
  readonly #downLimiters = new Map<string, RateLimiter>();
  readonly #server: PieceServer;
  readonly #stop = new AbortController();
  readonly #host: DownloadHost;
  readonly #admission: Admission;
  /**
   * Subscribed in the constructor, not in start(): frames that arrive before start() (while the
   * node starts, or while start() creates folders) wait here, with the node's per-peer
   * backpressure, instead of being missed.
   */
  readonly #stream: AsyncIterable<MeshMessage>;
  #tick: NodeJS.Timeout | undefined;
  #started: Promise<void> | undefined;
  #closed: Promise<void> | undefined;

  /**
   * Validates options (throws `ERR_INVALID_OPTION` naming the bad one) and subscribes to the
   * node's messages at once: construct it before `node.start()` and no offer or request can be
   * missed (they wait, with backpressure, until {@link FileShare.start}). No I/O until start().
   */
  constructor(node: FileNode, options: FileShareOptions = {}) {
    super();
    this.#opts = resolveShareOptions(options);
    this.#node = node;
    this.downloadsDir = this.#opts.downloadsDir;
    this.stateDir = this.#opts.stateDir;
    this.#shares = new ShareRegistry(this.stateDir);
    this.#signer = options.signer;
    this.#limits = {
      window: this.#opts.window,
      requestTimeoutMs: this.#opts.requestTimeoutMs,
      stateBatchPieces: this.#opts.stateBatchPieces,
      stateFlushMs: this.#opts.stateFlushMs,
      hashInWorker: this.#opts.hashInWorker,
    };
    this.#server = new PieceServer(
      {
        sendBytesToPeer: (id, data) => node.sendBytesToPeer(id, data),
        lookup: (root) => this.#shares.get(root),
      },
      this.#opts.maxQueuedRequestsPerPeer,
      this.#opts.uploadBytesPerSecondPerPeer,
    );
    this.#host = {
      downloadsDir: this.downloadsDir,
      stateDir: this.stateDir,
      reserved: this.#reserved,
      send: (peerId, frame) => {
        node.sendBytesToPeer(peerId, frame).catch(() => {
          for (const d of this.#downloads.values()) d.sourceLost(peerId);
        });
      },
      emit: (event) => this.#onDownloadEvent(event),
      pace: (peerId, bytes) => {
        const rate = this.#opts.downloadBytesPerSecondPerPeer;
        if (rate <= 0) return 0;
        let limiter = this.#downLimiters.get(peerId);
        if (!limiter) this.#downLimiters.set(peerId, (limiter = new RateLimiter(rate)));
        return limiter.tryTake(bytes);
      },
    };
    this.#admission = new Admission({
      opts: this.#opts,
      get maxBytesPerMessage() {
        return node.maxBytesPerMessage;
      },
      downloads: this.#downloads,
      startedBy: this.#startedBy,
    });
    this.#stream = node.messages({
      types: ['bytes', 'peer-connected', 'peer-disconnected'],
      signal: this.#stop.signal,
    });
    options.signal?.addEventListener('abort', () => void this.close(), { once: true });
  }

  /**
   * Creates the folders, handles the frames that waited since construction, serves the files
   * shared before a restart and resumes the downloads found in the state folder. Rejects with `ERR_FILE_IO` when a folder
   * cannot be created.
   */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const stream = this.#stream;
    for (const p of this.#node.getPeerInfo().peers) this.#connected.add(p.id);
    try {
      await mkdir(this.downloadsDir, { recursive: true });
      await mkdir(this.stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new MeshwireError('ERR_FILE_IO', `cannot create ${this.stateDir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    await this.#shares.load((error) => this.emit('warning', { error }));
    void this.#pump(stream);
    await this.#resumeAll();
    // Often enough that a stalled request is noticed within 1.5 × requestTimeoutMs.
    this.#tick = setInterval(
      () => {
        for (const d of this.#downloads.values()) d.tick();
      },
      Math.max(10, Math.min(1000, this.#opts.requestTimeoutMs / 2)),
    );
    this.#tick.unref();
  }

  async #pump(stream: AsyncIterable<MeshMessage>): Promise<void> {
    try {
      for await (const msg of stream) this.#handle(msg);
    } catch {
      // node closing
    }
  }

  #handle(msg: MeshMessage): void {
    if (msg.type === 'peer-connected') {
      this.#connected.add(msg.peer.id);
      for (const d of this.#downloads.values()) if (d.knownSources.has(msg.peer.id)) d.addSource(msg.peer.id);
      return;
    }
    if (msg.type === 'peer-disconnected') {
      this.#connected.delete(msg.peer.id);
      this.#downLimiters.delete(msg.peer.id);
      this.#server.onPeerGone(msg.peer.id);
      for (const d of this.#downloads.values()) d.sourceLost(msg.peer.id);
      return;
    }
    if (msg.type !== 'bytes') return;
    let frame: PieceFrame | null;
    try {
      frame = parsePieceFrame(msg.data);
    } catch (err) {
      this.emit('warning', { error: err as MeshwireError });
      return;
    }
    if (frame === null) return;
    const from = msg.from;
    switch (frame.type) {
      case 'offer':
      case 'have':
        this.#onOffer(from, frame.body, frame.type === 'offer');
        return;
      case 'want': {
        const shared = this.#shares.get(frame.root.toString('hex'));
        const reply = shared
          ? encodeOfferFrame(shared.offer.body, true)
          : encodeNope(frame.root, WHOLE_FILE, NopeReason.unknown);
        this.#node.sendBytesToPeer(from.id, reply).catch(() => undefined);
        return;
      }
      case 'get-layer':
        this.#server.onGetLayer(from.id, frame.root);
        return;
      case 'request':
        this.#server.onRequest(from.id, frame.root, frame.index);
        return;
      case 'layer':
        this.#downloads.get(frame.root.toString('hex'))?.onLayer(from.id, frame.layer);
        return;
      case 'piece':
        this.#downloads.get(frame.root.toString('hex'))?.onPiece(from.id, frame.index, frame.data);
        return;
      case 'nope': {
        const rootHex = frame.root.toString('hex');
        if (frame.reason === NopeReason.refused && frame.index === WHOLE_FILE && this.#shares.has(rootHex)) {
          this.emit('offer-refused', { peerId: from.id, rootHex });
        }
        this.#known.forget(rootHex, from.id);
        this.#downloads.get(rootHex)?.onNope(from.id, frame.index, frame.reason);
        return;
      }
    }
  }

  #onOffer(from: PeerRef, body: Uint8Array, push: boolean): void {
    let offer: FileOffer;
    try {
      offer = parseOffer(body);
    } catch (err) {
      this.emit('warning', { error: err as MeshwireError });
      return;
    }
    this.#known.remember(offer, from.id);
    this.#wants.offered(offer);
    this.emit('offer', { from, offer, push });
    const existing = this.#downloads.get(offer.rootHex);
    if (existing) {
      existing.addSource(from.id);
      return;
    }
    if (!push || this.#shares.has(offer.rootHex)) return;
    const refuse = (error: MeshwireError): void => {
      this.#node
        .sendBytesToPeer(from.id, encodeNope(offer.root, WHOLE_FILE, NopeReason.refused))
        .catch(() => undefined);
      this.emit('offer-declined', { from, offer, error });
    };
    const early = this.#consent.hasRoom(from.id)
      ? (this.#admission.limitError(offer) ?? this.#admission.perPeerError(from.id))
      : new MeshwireError('ERR_TOO_MANY_PENDING', `${from.id} has too many offers awaiting consent`);
    if (early) {
      refuse(early);
      return;
    }
    void (async () => {
      const ok = await this.#consent.ask(from.id, () => this.#opts.accept(offer, from));
      const late = !ok
        ? new MeshwireError('ERR_FILE_REFUSED', `${offer.name} refused by the accept hook`)
        : this.#closed
          ? new MeshwireError('ERR_CLOSED', 'the share is closing')
          : this.#admission.perPeerError(from.id);
      if (late) {
        refuse(late);
        return;
      }
      try {
        const d = await this.#begin(offer);
        this.#startedBy.set(offer.rootHex, from.id);
        d.addSource(from.id);
      } catch (err) {
        refuse(err as MeshwireError);
        this.emit('warning', { error: err as MeshwireError, rootHex: offer.rootHex });
      }
    })();
  }

  /** Creates the download of `offer` (a fresh `.part`), or returns the one in progress. */
  async #begin(offer: FileOffer): Promise<Download> {
    const existing = this.#downloads.get(offer.rootHex);
    if (existing) return existing;
    if (this.#downloads.size >= this.#opts.maxDownloads) {
      throw new MeshwireError(
        'ERR_TOO_MANY_PENDING',
        `${this.#downloads.size} downloads in progress (maxDownloads)`,
      );
    }
    const limit = this.#admission.limitError(offer);
    if (limit) throw limit;
    const part = await openPart(this.downloadsDir, offer.name, this.#reserved);
    const again = this.#downloads.get(offer.rootHex);
    if (again) {
      // Someone else began it while the file was being created: keep theirs.
      await part.fh.close();
      await unlink(part.partPath).catch(() => undefined);
      this.#reserved.delete(part.finalName);
      return again;
    }
    const d = new Download(this.#host, this.#limits, offer, part);
    this.#downloads.set(offer.rootHex, d);
    for (const holder of this.#known.holders(offer.rootHex) ?? []) d.knownSources.add(holder);
    try {
      await part.fh.truncate(offer.size);
      // The state exists before the first request: a crash at any later point can resume.
      await d.saveState();
    } catch (err) {
      this.#downloads.delete(offer.rootHex);
      await d.close(true);
      throw new MeshwireError('ERR_FILE_IO', `cannot prepare ${part.partPath}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.emit('download-start', { download: d, resumed: false });
    for (const holder of d.knownSources) if (this.#connected.has(holder)) d.addSource(holder);
    d.maybeFinish();
    return d;
  }

  #onDownloadEvent(event: DownloadEvent): void {
    const d = event.download;
    switch (event.type) {
      case 'progress':
        this.emit('download-progress', { download: d });
        return;
      case 'paused':
        this.emit('download-paused', { download: d });
        return;
      case 'source-dropped':
        this.emit('source-dropped', { download: d, peerId: event.peerId, error: event.error });
        return;
      case 'warning':
        this.emit('warning', { error: event.error, rootHex: d.offer.rootHex });
        return;
      case 'failed':
        this.#downloads.delete(d.offer.rootHex);
        this.#startedBy.delete(d.offer.rootHex);
        this.emit('download-failed', { download: d, error: event.error });
        return;
      case 'complete':
        this.#downloads.delete(d.offer.rootHex);
        this.#startedBy.delete(d.offer.rootHex);
        void this.#adopt(d, event.path);
        return;
    }
  }

  /** A finished download becomes a share: this node serves it and tells its peers. */
  async #adopt(d: Download, finalPath: string): Promise<void> {
    try {
      const st = await stat(finalPath);
      const layer = await layerOf(d, path.join(this.downloadsDir, d.finalName));
      await this.#shares.add({ offer: d.offer, path: finalPath, layer, mtimeMs: st.mtimeMs });
      this.#toConnected(encodeOfferFrame(d.offer.body, true));
    } catch (err) {
      this.emit('warning', {
        error: new MeshwireError('ERR_FILE_IO', `cannot share ${finalPath}: ${(err as Error).message}`),
        rootHex: d.offer.rootHex,
      });
    }
    this.emit('download-complete', { download: d, path: finalPath });
  }

  /** Sends `frame` to every connected peer, without waiting (a peer gone is no error here). */
  #toConnected(frame: Uint8Array): void {
    for (const id of this.#connected) this.#node.sendBytesToPeer(id, frame).catch(() => undefined);
  }

  /**
   * Makes a file available: hashes it once (root and piece layer), signs its offer, serves its
   * pieces from now on (and after a restart, while the file is unchanged), and announces it to
   * the connected peers (`have`: they may fetch it, nothing is pushed). Requires `signer`.
   */
  async shareFile(
    filePath: string,
    options: { name?: string; announce?: boolean; signal?: AbortSignal } = {},
  ): Promise<FileOffer> {
    const signer = this.#signer ?? this.#node.signer;
    const shared = await signedOffer(signer, this.#node.maxBytesPerMessage, filePath, options);
    const { offer } = shared;
    await this.#server.release(offer.rootHex);
    await this.#shares.add(shared);
    if (options.announce !== false) this.#toConnected(encodeOfferFrame(offer.body, true));
    return offer;
  }

  /**
   * Offers a file to peers (all connected ones when `to` is omitted): they pull it, from us and
   * from any other holder, if their `accept` hook agrees. Resolves once the offers are queued;
   * a refusal arrives as `'offer-refused'`, completion on the receiver as its `have` announce.
   */
  async sendFile(
    filePath: string,
    options: { to?: string | readonly string[]; name?: string; signal?: AbortSignal } = {},
  ): Promise<{ offer: FileOffer; offeredTo: string[] }> {
    const offer = await this.shareFile(filePath, {
      name: options.name,
      announce: false,
      signal: options.signal,
    });
    const to =
      options.to === undefined
        ? [...this.#connected]
        : typeof options.to === 'string'
          ? [options.to]
          : [...options.to];
    const offeredTo = await offerTo(this.#node, to, encodeOfferFrame(offer.body));
    return { offer, offeredTo };
  }

  /**
   * Downloads the file with Merkle root `root` (64 hex characters, or a verified offer) from every
   * peer that has it: `sources` when given, else the peers known to hold it, else every connected
   * peer is asked. Resolves with the final path; a download already in progress is joined.
   * Rejects with `ERR_PEER_TIMEOUT` when nobody offers the file within `wantTimeoutMs`.
   */
  async fetchFile(
    root: string | FileOffer,
    options: { sources?: readonly string[]; signal?: AbortSignal } = {},
  ): Promise<string> {
    const rootHex = typeof root === 'string' ? root.toLowerCase() : root.rootHex;
    if (!/^[0-9a-f]{64}$/.test(rootHex))
      throw new MeshwireError('ERR_INVALID_ARGUMENT', 'root must be 64 hex characters');
    const shared = this.#shares.get(rootHex);
    if (shared) return shared.path;
    const candidates = options.sources ?? [...(this.#known.holders(rootHex) ?? this.#connected)];
    let offer =
      typeof root === 'string' ? (this.#downloads.get(rootHex)?.offer ?? this.#known.offer(rootHex)) : root;
    if (!offer)
      offer = await this.#want(
        rootHex,
        candidates.length > 0 ? candidates : [...this.#connected],
        options.signal,
      );
    const d = await this.#begin(offer);
    for (const id of candidates) d.knownSources.add(id);
    for (const id of candidates) if (this.#connected.has(id)) d.addSource(id);
    if (options.signal) return untilAborted(d.done(), options.signal, 'fetch aborted');
    return d.done();
  }

  #want(rootHex: string, peers: readonly string[], signal?: AbortSignal): Promise<FileOffer> {
    const ask = (): void => {
      const frame = encodeWant(Buffer.from(rootHex, 'hex'));
      for (const id of peers) this.#node.sendBytesToPeer(id, frame).catch(() => undefined);
    };
    return this.#wants.wait(rootHex, ask, this.#opts.wantTimeoutMs, signal);
  }

  /** Stops serving the file with root `rootHex` (the file itself is left alone). */
  async unshare(rootHex: string): Promise<boolean> {
    if (!(await this.#shares.remove(rootHex))) return false;
    await this.#server.release(rootHex);
    return true;
  }

  /** Downloads in progress or waiting for a source, and files shared (as complete). */
  transfers(): TransferInfo[] {
    return listTransfers(this.#downloads.values(), this.#shares.values());
  }

  /** The download of `rootHex` in progress, if any. */
  download(rootHex: string): Download | undefined {
    return this.#downloads.get(rootHex);
  }

  /** Bytes of piece data this node served. */
  get bytesServed(): number {
    return this.#server.bytesServed;
  }

  async #resumeAll(): Promise<void> {
    const warn = (error: MeshwireError, rootHex?: string): void => {
      this.emit('warning', rootHex ? { error, rootHex } : { error });
    };
    const isTaken = (name: string, rootHex: string): boolean =>
      this.#reserved.has(name) || this.#downloads.has(rootHex);
    for await (const r of resumables(this, MAX_RESUMED, isTaken, warn)) {
      const { offer, sources } = r.state;
      this.#reserved.add(r.finalName);
      const d = new Download(this.#host, this.#limits, offer, r, {
        bitfield: r.bitfield,
        ...(r.layer ? { layer: r.layer } : {}),
      });
      this.#downloads.set(offer.rootHex, d);
      for (const s of sources) d.knownSources.add(s);
      this.emit('download-start', { download: d, resumed: true });
      for (const s of sources) if (this.#connected.has(s)) d.addSource(s);
      d.maybeFinish();
    }
  }

  /** Stops: saves every download's state (they resume at the next start), stops serving. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stop.abort();
      clearInterval(this.#tick);
      for (const d of [...this.#downloads.values()]) await d.close();
      this.#downloads.clear();
      await this.#server.close();
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
