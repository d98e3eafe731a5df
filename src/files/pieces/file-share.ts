import { mkdir } from 'node:fs/promises';
import { MeshwireError } from '../../errors.js';
import type { MeshMessage, PeerRef } from '../../messages.js';
import { TypedEmitter } from '../../typed-emitter.js';
import type { FileNode } from '../types.js';
import type { Download, DownloadEvent } from './download.js';
import { DownloadSet } from './download-set.js';
import { parseOffer, type FileOffer } from './offer.js';
import { PieceServer } from './source.js';
import { resolveShareOptions, type ResolvedShareOptions } from './share-options.js';
import { untilAborted, WantTable } from './want-table.js';
import { KnownRoots } from './known-roots.js';
import { OfferIntake } from './offer-intake.js';
import { ShareRegistry } from './share-registry.js';
import { offerTo, sharedDownload, signedOffer } from './sharing.js';
import { Admission } from './admission.js';
import { listTransfers } from './transfer-list.js';
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
  readonly #signer: FileShareOptions['signer'];
  readonly #shares: ShareRegistry;
  readonly #downloads: DownloadSet;
  readonly #known = new KnownRoots();
  readonly #intake: OfferIntake;
  readonly #connected = new Set<string>();
  readonly #wants = new WantTable();
  readonly #server: PieceServer;
  readonly #stop = new AbortController();
  readonly #admission: Admission;
  /**
   * Subscribed in the constructor, not in start(): frames that arrive before start() (while the
   * node starts, or while start() creates folders) wait here, with the node's per-peer
   * backpressure, instead of being missed.
   */
  readonly #stream: AsyncIterable<MeshMessage>;
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
    this.#server = new PieceServer(
      {
        sendBytesToPeer: (id, data) => node.sendBytesToPeer(id, data),
        lookup: (root) => this.#shares.get(root),
      },
      this.#opts.maxQueuedRequestsPerPeer,
      this.#opts.uploadBytesPerSecondPerPeer,
    );
    const emit = this.emit.bind(this);
    this.#downloads = new DownloadSet({
      opts: this.#opts,
      connected: this.#connected,
      known: this.#known,
      sendBytesToPeer: (id, data) => node.sendBytesToPeer(id, data),
      emit: (event) => this.#onDownloadEvent(event),
      started: (download, resumed) => emit('download-start', { download, resumed }),
      warn: (error, rootHex) => emit('warning', rootHex ? { error, rootHex } : { error }),
    });
    this.#admission = new Admission({
      opts: this.#opts,
      get maxBytesPerMessage() {
        return node.maxBytesPerMessage;
      },
      downloads: this.#downloads.map,
      startedBy: this.#downloads.startedBy,
    });
    this.#intake = new OfferIntake({
      admission: this.#admission,
      accept: (offer, from) => this.#opts.accept(offer, from),
      closing: () => this.#closed !== undefined,
      begin: (offer) => this.#begin(offer),
      begun: (offer, from, d) => {
        this.#downloads.startedBy.set(offer.rootHex, from.id);
        d.addSource(from.id);
      },
      refuse: (from, offer, error) => {
        node
          .sendBytesToPeer(from.id, encodeNope(offer.root, WHOLE_FILE, NopeReason.refused))
          .catch(() => undefined);
        emit('offer-declined', { from, offer, error });
      },
      warn: (error, rootHex) => emit('warning', { error, rootHex }),
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
    await this.#downloads.resumeAll();
    this.#downloads.startTicking();
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
      this.#downloads.peerUp(msg.peer.id);
      return;
    }
    if (msg.type === 'peer-disconnected') {
      this.#connected.delete(msg.peer.id);
      this.#server.onPeerGone(msg.peer.id);
      this.#downloads.peerGone(msg.peer.id);
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
      case 'want':
        this.#server.onWant(from.id, frame.root);
        return;
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
    this.#intake.consider(from, offer);
  }

  /** Creates the download of `offer` (a fresh `.part`), or returns the one in progress. */
  #begin(offer: FileOffer): Promise<Download> {
    return this.#downloads.begin(offer, () => this.#admission.limitError(offer));
  }

  #onDownloadEvent(event: DownloadEvent): void {
    const d = event.download;
    const t = event.type;
    if (t === 'progress') this.emit('download-progress', { download: d });
    else if (t === 'paused') this.emit('download-paused', { download: d });
    else if (t === 'source-dropped')
      this.emit('source-dropped', { download: d, peerId: event.peerId, error: event.error });
    else if (t === 'warning') this.emit('warning', { error: event.error, rootHex: d.offer.rootHex });
    else if (t === 'failed') this.emit('download-failed', { download: d, error: event.error });
    else void this.#adopt(d, event.path);
  }

  /** A finished download becomes a share: this node serves it and tells its peers. */
  async #adopt(d: Download, finalPath: string): Promise<void> {
    try {
      await this.#shares.add(await sharedDownload(d, finalPath));
      this.#toConnected(encodeOfferFrame(d.offer.body, true));
    } catch (err) {
      const error = new MeshwireError('ERR_FILE_IO', `cannot share ${finalPath}: ${(err as Error).message}`);
      this.emit('warning', { error, rootHex: d.offer.rootHex });
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

  /** Stops: saves every download's state (they resume at the next start), stops serving. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stop.abort();
      await this.#downloads.close();
      await this.#server.close();
    })();
    return this.#closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
