/**
 * The sources of one download and their request windows: which peer is asked for which piece,
 * round-robin within each source's window and its download limit, what a lost, busy or stalled
 * source hands back, and which sources are dropped for good. The piece data itself (verify,
 * write, record) is the download's job; this module only decides who is asked for what.
 */
import { performance } from 'node:perf_hooks';
import { MeshwireError } from '../../errors.js';
import { MAX_TIMEOUTS, nopeError, type Source } from './download-types.js';
import type { PiecePicker } from './piece-picker.js';
import { encodeGetLayer, encodeRequest, NopeReason, type NopeReasonCode } from './wire.js';

/** What a {@link SourceSet} needs from its download. */
export interface SourceSetHost {
  /** Merkle root of the file (requests name it). */
  readonly root: Uint8Array;
  /** Length of piece `index`. */
  pieceBytes(index: number): number;
  /** Hands a frame to a peer's send queue. */
  send(peerId: string, frame: Uint8Array): void;
  /** The per-peer download limit: 0 = ask now (counted), else ms to wait. */
  pace(peerId: string, bytes: number): number;
  /** Whether requests may go out at all (the download is neither finished nor closed). */
  running(): boolean;
  /** Whether the verified piece layer is known (until then, sources are asked for it). */
  hasLayer(): boolean;
  /** Whether verified pieces waiting for the disk are at their cap (no new requests). */
  writesFull(): boolean;
  /** `peerId` stopped being a source because of `error` (bad data, nope, stall). */
  dropped(peerId: string, error: MeshwireError): void;
  /** The last source left. */
  emptied(): void;
}

/** The peers serving one download, their requests in flight, and the ones dropped. */
export class SourceSet {
  readonly #host: SourceSetHost;
  readonly #limits: { window: number; requestTimeoutMs: number };
  readonly #picker: PiecePicker;
  readonly #sources = new Map<string, Source>();
  /** Sources dropped for misbehaviour: never used again by this download. */
  readonly #banned = new Set<string>();
  /** Set while some source waits for its download limit: pumps again when it may ask. */
  #paceTimer: NodeJS.Timeout | undefined;

  constructor(
    host: SourceSetHost,
    limits: { window: number; requestTimeoutMs: number },
    picker: PiecePicker,
  ) {
    this.#host = host;
    this.#limits = limits;
    this.#picker = picker;
  }

  /** The source `peerId`, if it serves this download now. */
  get(peerId: string): Source | undefined {
    return this.#sources.get(peerId);
  }

  /** Peer IDs serving now. */
  ids(): string[] {
    return [...this.#sources.keys()];
  }

  get size(): number {
    return this.#sources.size;
  }

  isBanned(peerId: string): boolean {
    return this.#banned.has(peerId);
  }

  /** Adds `peerId` with a full window; false when it is banned or already a source. */
  add(peerId: string): boolean {
    if (this.#banned.has(peerId) || this.#sources.has(peerId)) return false;
    this.#sources.set(peerId, {
      id: peerId,
      inflight: new Map(),
      window: this.#limits.window,
      askedLayer: false,
      askedLayerAt: 0,
      timeouts: 0,
    });
    return true;
  }

  /** `peerId` is no longer a source (it left): its requests go back to the picker. */
  release(peerId: string): void {
    const source = this.#sources.get(peerId);
    if (!source) return;
    this.#sources.delete(peerId);
    for (const index of source.inflight.keys()) {
      if (this.#picker.busy.get(index) === peerId) this.#picker.giveBack(index);
    }
    this.pump();
    if (this.#sources.size === 0) this.#host.emptied();
  }

  /** Drops `peerId` for good (bad piece or layer, or stalled) and reports it. */
  ban(peerId: string, error: MeshwireError): void {
    this.#banned.add(peerId);
    this.#drop(peerId, error);
  }

  #drop(peerId: string, error: MeshwireError): void {
    this.release(peerId);
    this.#host.dropped(peerId, error);
  }

  /** `peerId` answered nope: busy hands the piece back; anything else ends it as a source. */
  onNope(peerId: string, index: number, reason: NopeReasonCode): void {
    const source = this.#sources.get(peerId);
    if (!source) return;
    if (reason === NopeReason.busy && source.inflight.has(index)) {
      source.inflight.delete(index);
      this.#picker.giveBack(index);
      source.window = Math.max(1, source.window >> 1);
      this.pump();
      return;
    }
    this.#drop(peerId, nopeError(peerId, reason));
  }

  /** A piece from `source` is verified: additive increase after a timeout halved its window. */
  grow(source: Source): void {
    if (source.window < this.#limits.window) source.window++;
  }

  /** Sends requests: the piece layer first, then pieces round-robin within every window. */
  pump(): void {
    if (!this.#host.running()) return;
    if (!this.#host.hasLayer()) {
      for (const source of this.#sources.values()) {
        if (source.askedLayer) continue;
        source.askedLayer = true;
        source.askedLayerAt = performance.now();
        this.#host.send(source.id, encodeGetLayer(this.#host.root));
      }
      return;
    }
    if (this.#host.writesFull()) return;
    // One request at a time per source in turn, so sources share the work in proportion to their windows.
    let progress = true;
    while (progress) {
      progress = false;
      for (const source of this.#sources.values()) {
        if (source.inflight.size >= source.window || this.#host.writesFull()) continue;
        const index = this.#picker.next();
        if (index === undefined) return;
        const wait = this.#host.pace(source.id, this.#host.pieceBytes(index));
        if (wait > 0) {
          // Over its download limit: the piece goes back, this source is asked again later.
          this.#picker.giveBack(index);
          this.#paceTimer ??= setTimeout(() => {
            this.#paceTimer = undefined;
            this.pump();
          }, wait);
          continue;
        }
        source.inflight.set(index, performance.now());
        this.#picker.busy.set(index, source.id);
        this.#host.send(source.id, encodeRequest(this.#host.root, index));
        progress = true;
      }
    }
  }

  /**
   * Hands back requests older than the timeout and halves that source's window; a source late
   * {@link MAX_TIMEOUTS} times is dropped. Then pumps.
   */
  tick(now = performance.now()): void {
    for (const source of [...this.#sources.values()]) {
      const late = [...source.inflight].filter(
        ([index, at]) =>
          this.#picker.busy.get(index) === source.id && now - at > this.#limits.requestTimeoutMs,
      );
      const layerLate =
        !this.#host.hasLayer() &&
        source.askedLayer &&
        now - source.askedLayerAt > this.#limits.requestTimeoutMs;
      if (late.length === 0 && !layerLate) continue;
      if (layerLate) source.askedLayerAt = now;
      // A late answer may be load, not malice: hand the pieces to others and slow this source
      // down; only a source late again and again is dropped.
      if (++source.timeouts >= MAX_TIMEOUTS) {
        this.ban(
          source.id,
          new MeshwireError(
            'ERR_PEER_TIMEOUT',
            `${source.id} left requests unanswered for ${this.#limits.requestTimeoutMs} ms ${MAX_TIMEOUTS} times`,
          ),
        );
        continue;
      }
      for (const [index] of late) {
        source.inflight.delete(index);
        this.#picker.giveBack(index);
      }
      source.window = Math.max(1, source.window >> 1);
    }
    this.pump();
  }

  /** Forgets every request in flight (the download finished). */
  clearInflight(): void {
    clearTimeout(this.#paceTimer);
    for (const source of this.#sources.values()) source.inflight.clear();
  }

  /** Forgets every source (the download closed). */
  clear(): void {
    clearTimeout(this.#paceTimer);
    this.#sources.clear();
  }
}
