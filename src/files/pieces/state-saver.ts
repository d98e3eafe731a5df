/**
 * When a download records its verified pieces: in batches (every `stateBatchPieces` pieces, or
 * `stateFlushMs` after the first unsaved one), serialized.
 *
 * The `.part` is not synced before a save (it was, at 0.26 ns per received byte). A bit in the
 * state only ever names a piece whose write completed, and that is all a crash of the process
 * (kill -9) needs: the data sits in the page cache, which outlives the process. After a power
 * loss a saved bit may name bytes that never reached the disk, but a restart re-hashes every
 * piece the state claims against the piece layer (part-check.ts) and fetches again any that
 * fails, so such a bit costs a re-fetch, never a bad byte. The state file itself is still
 * written atomically and synced (state-file.ts), so a crash never leaves a torn one.
 */
import type { DownloadLimits } from './download-types.js';

/** What the saver needs from its download. */
export interface SaverHost {
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
   * Records the verified (and written) pieces. One save waiting behind the running one is
   * enough: it takes the bitfield when it starts, so saves never pile up behind a slow disk.
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
