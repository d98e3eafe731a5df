/**
 * The downloads in progress of one {@link FileShare}: creating one from an offer (a fresh
 * `.part` and state) or from a resume state found at start, looking them up by root, telling
 * them about peers that come and go, the periodic tick that catches stalled requests, and
 * closing them all. Also what every download shares: the final names reserved in the downloads
 * folder and the per-source download limiters.
 */
import { unlink } from 'node:fs/promises';
import { MeshwireError } from '../../errors.js';
import { openPart } from '../part-files.js';
import { Download, type DownloadEvent, type DownloadHost } from './download.js';
import type { KnownRoots } from './known-roots.js';
import type { FileOffer } from './offer.js';
import { RateLimiter } from './rate-limit.js';
import { resumables } from './resume.js';
import type { ResolvedShareOptions } from './share-options.js';

/** Resume states loaded at start; more are left on disk with a warning. */
const MAX_RESUMED = 256;

/** What the set needs from its share. */
export interface DownloadSetHost {
  /** The share's options (also the downloads' limits). */
  readonly opts: ResolvedShareOptions;
  /** Peers connected now (live view). */
  readonly connected: ReadonlySet<string>;
  /** Who offered which root (sources of a new download). */
  readonly known: KnownRoots;
  /** Hands a frame to a peer; resolves once queued, rejects when the peer is gone. */
  sendBytesToPeer(peerId: string, data: Uint8Array): Promise<void>;
  /** A download's event; complete and failed ones are already out of the set. */
  emit(event: DownloadEvent): void;
  /** A download was created (fresh or resumed). */
  started(download: Download, resumed: boolean): void;
  /** Something went wrong that ends nothing (e.g. a resume state discarded). */
  warn(error: MeshwireError, rootHex?: string): void;
}

/** The downloads in progress, by root. */
export class DownloadSet {
  readonly #h: DownloadSetHost;
  readonly #downloads = new Map<string, Download>();
  /** rootHex -> peer whose offer started the download (for the per-peer cap). */
  readonly startedBy = new Map<string, string>();
  /** Final names reserved by downloads in flight. */
  readonly #reserved = new Set<string>();
  /** Download limiters per source peer (shared by all downloads from it), when a limit is set. */
  readonly #limiters = new Map<string, RateLimiter>();
  readonly #downloadHost: DownloadHost;
  #tick: NodeJS.Timeout | undefined;

  constructor(host: DownloadSetHost) {
    this.#h = host;
    this.#downloadHost = {
      downloadsDir: host.opts.downloadsDir,
      stateDir: host.opts.stateDir,
      reserved: this.#reserved,
      send: (peerId, frame) => {
        host.sendBytesToPeer(peerId, frame).catch(() => {
          for (const d of this.#downloads.values()) d.sourceLost(peerId);
        });
      },
      emit: (event) => {
        if (event.type === 'failed' || event.type === 'complete') {
          this.#downloads.delete(event.download.offer.rootHex);
          this.startedBy.delete(event.download.offer.rootHex);
        }
        host.emit(event);
      },
      pace: (peerId, bytes) => {
        const rate = host.opts.downloadBytesPerSecondPerPeer;
        if (rate <= 0) return 0;
        let limiter = this.#limiters.get(peerId);
        if (!limiter) this.#limiters.set(peerId, (limiter = new RateLimiter(rate)));
        return limiter.tryTake(bytes);
      },
    };
  }

  /** Live view by root (admission counts it). */
  get map(): ReadonlyMap<string, Download> {
    return this.#downloads;
  }

  get(rootHex: string): Download | undefined {
    return this.#downloads.get(rootHex);
  }

  values(): IterableIterator<Download> {
    return this.#downloads.values();
  }

  /** Starts the tick that notices stalled requests within 1.5 × requestTimeoutMs. */
  startTicking(): void {
    this.#tick = setInterval(
      () => {
        for (const d of this.#downloads.values()) d.tick();
      },
      Math.max(10, Math.min(1000, this.#h.opts.requestTimeoutMs / 2)),
    );
    this.#tick.unref();
  }

  /** A peer connected: downloads that know it as a holder use it again. */
  peerUp(peerId: string): void {
    for (const d of this.#downloads.values()) if (d.knownSources.has(peerId)) d.addSource(peerId);
  }

  /** A peer left: its requests go to the other sources. */
  peerGone(peerId: string): void {
    this.#limiters.delete(peerId);
    for (const d of this.#downloads.values()) d.sourceLost(peerId);
  }

  /**
   * Creates the download of `offer` (a fresh `.part`), or returns the one in progress. Begins run
   * one at a time: each checks the limits (maxDownloads, maxDiskBytes through `admit`) and
   * registers its download before the next one looks, so offers arriving together cannot pass a
   * limit between them, and two offers of one root share one download (concurrently, each
   * reserved a final name while the other's `.part` was being created, and the second became
   * `name-(1).ext`). A begin only creates and sizes a local file, so the wait is short.
   */
  begin(offer: FileOffer, admit: () => MeshwireError | undefined): Promise<Download> {
    const run = this.#begins.then(() => this.#begin(offer, admit));
    this.#begins = run.catch(() => undefined);
    return run;
  }

  /** The last begin queued (see `begin`). */
  #begins: Promise<unknown> = Promise.resolve();

  async #begin(offer: FileOffer, admit: () => MeshwireError | undefined): Promise<Download> {
    const existing = this.#downloads.get(offer.rootHex);
    if (existing) return existing;
    const { maxDownloads, downloadsDir } = this.#h.opts;
    if (this.#downloads.size >= maxDownloads) {
      throw new MeshwireError(
        'ERR_TOO_MANY_PENDING',
        `${this.#downloads.size} downloads in progress (maxDownloads)`,
      );
    }
    const limit = admit();
    if (limit) throw limit;
    const part = await openPart(downloadsDir, offer.name, this.#reserved);
    const again = this.#downloads.get(offer.rootHex);
    if (again) {
      // Resumed meanwhile (resumeAll does not queue behind begins): keep that one.
      await part.fh.close();
      await unlink(part.partPath).catch(() => undefined);
      this.#reserved.delete(part.finalName);
      return again;
    }
    const d = new Download(this.#downloadHost, this.#h.opts, offer, part);
    this.#downloads.set(offer.rootHex, d);
    for (const holder of this.#h.known.holders(offer.rootHex) ?? []) d.knownSources.add(holder);
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
    this.#h.started(d, false);
    for (const holder of d.knownSources) if (this.#h.connected.has(holder)) d.addSource(holder);
    d.maybeFinish();
    return d;
  }

  /** Resumes every download whose state is in the state folder (each checked; see resume.ts). */
  async resumeAll(): Promise<void> {
    const isTaken = (name: string, rootHex: string): boolean =>
      this.#reserved.has(name) || this.#downloads.has(rootHex);
    const dirs = { downloadsDir: this.#h.opts.downloadsDir, stateDir: this.#h.opts.stateDir };
    for await (const r of resumables(dirs, MAX_RESUMED, isTaken, this.#h.warn)) {
      const { offer, sources } = r.state;
      this.#reserved.add(r.finalName);
      const d = new Download(this.#downloadHost, this.#h.opts, offer, r, {
        bitfield: r.bitfield,
        ...(r.layer ? { layer: r.layer } : {}),
      });
      this.#downloads.set(offer.rootHex, d);
      for (const s of sources) d.knownSources.add(s);
      this.#h.started(d, true);
      for (const s of sources) if (this.#h.connected.has(s)) d.addSource(s);
      d.maybeFinish();
    }
  }

  /** Stops the tick and closes every download (each saves its state first). */
  async close(): Promise<void> {
    clearInterval(this.#tick);
    for (const d of [...this.#downloads.values()]) await d.close();
    this.#downloads.clear();
  }
}
