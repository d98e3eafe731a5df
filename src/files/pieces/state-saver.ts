/**
 * When and how a download records its verified pieces: in batches (every `stateBatchPieces`
 * pieces, or `stateFlushMs` after the first unsaved one), serialized, data before bitfield.
 */
import type { FileHandle } from 'node:fs/promises';
import type { DownloadLimits } from './download-types.js';

/** What the saver needs from its download. */
export interface SaverHost {
  /** The `.part` file: synced before each bitfield is written. */
  readonly fh: FileHandle;
  /** Writes the state file with this bitfield. */
  write(bitfield: Uint8Array): Promise<void>;
  /** The live bitfield (copied when a save starts). */
  bitfield(): Uint8Array;
  /** True when saving is pointless (the download completed). */
  skip(): boolean;
  /** A save failed. */
  warn(err: Error): void;
}

/** Batches and serializes the resume-state writes of one download. */
export class StateSaver {
  readonly #limits: Pick<DownloadLimits, 'stateBatchPieces' | 'stateFlushMs'>;
  readonly #host: SaverHost;
  #unsaved = 0;
  #timer: NodeJS.Timeout | undefined;
  #saving: Promise<void> = Promise.resolve();
  #queued = false;

  constructor(limits: Pick<DownloadLimits, 'stateBatchPieces' | 'stateFlushMs'>, host: SaverHost) {
    this.#limits = limits;
    this.#host = host;
  }

  /** One more piece verified and written: saves when the batch is full, else within stateFlushMs. */
  noteVerified(): void {
    this.#unsaved++;
    if (this.#unsaved >= this.#limits.stateBatchPieces) {
      void this.save();
      return;
    }
    this.#timer ??= setTimeout(() => void this.save(), this.#limits.stateFlushMs);
    this.#timer.unref();
  }

  /**
   * Records the verified pieces: data first (datasync), then the bitfield, so a bit never claims
   * bytes that are not on disk. One save waiting behind the running one is enough: it takes the
   * bitfield when it starts, so saves never pile up behind a slow disk.
   */
  save(): Promise<void> {
    this.stop();
    this.#unsaved = 0;
    if (this.#host.skip() || this.#queued) return this.#saving;
    this.#queued = true;
    this.#saving = this.#saving.then(async () => {
      this.#queued = false;
      const bitfield = Uint8Array.from(this.#host.bitfield());
      try {
        await this.#host.fh.datasync();
        await this.#host.write(bitfield);
      } catch (err) {
        this.#host.warn(err as Error);
      }
    });
    return this.#saving;
  }

  /** Cancels the pending timed save (a save already running goes on). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves when no save is running. */
  idle(): Promise<void> {
    return this.#saving;
  }
}
