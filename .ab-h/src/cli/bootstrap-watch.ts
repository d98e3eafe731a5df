/**
 * Follows the CLI's bootstrap: numbers its failed attempts (`attempt 2/6 ... retrying in 2 s`),
 * gives up at once on errors that cannot heal, and tells when bootstrap is over so that piped
 * chat lines wait for it instead of going to zero peers.
 */
import { PERMANENT_DIAL_ERRORS, type ErrorCode, type MeshwireError } from '../index.js';
import type { CliEvent, ErrorLike } from './cli-events.js';
import { isModeMismatch } from './error-text.js';

/** True for a dial failure that retrying cannot fix. */
export function isPermanent(error: ErrorLike): boolean {
  return (
    (error.code !== undefined && PERMANENT_DIAL_ERRORS.has(error.code as ErrorCode)) || isModeMismatch(error)
  );
}

/** The state of one CLI bootstrap: attempts so far, the schedule, and whether it is over. */
export class BootstrapWatch {
  readonly address: string | undefined;
  readonly #delays: readonly number[];
  readonly #abort = new AbortController();
  #attempt = 0;
  #finished!: () => void;
  /** Resolves when bootstrap succeeded, failed or was never asked for. */
  readonly done: Promise<void> = new Promise((resolve) => (this.#finished = resolve));
  /** The error that made us give up early, if any. */
  gaveUpWith: ErrorLike | undefined;

  /**
   * @param address - The bootstrap address, or `undefined` when there is none.
   * @param delays - The retry schedule (`bootstrapRetryMs`).
   */
  constructor(address: string | undefined, delays: readonly number[]) {
    this.address = address;
    this.#delays = delays;
    if (address === undefined) this.#finished();
  }

  /** Aborts the bootstrap when a failure cannot heal. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Total attempts on the schedule. */
  get attempts(): number {
    return this.#delays.length + 1;
  }

  /**
   * A failed dial to the bootstrap address: the event that describes the attempt. A permanent
   * failure aborts the bootstrap (the node itself stops on most of them; a mode mismatch it
   * cannot recognise for certain).
   */
  failed(error: ErrorLike, time: number): CliEvent {
    this.#attempt++;
    const permanent = isPermanent(error);
    const retryInMs = permanent ? undefined : this.#delays[this.#attempt - 1];
    if (permanent) {
      this.gaveUpWith = error;
      this.#abort.abort();
    }
    return {
      type: 'bootstrap-attempt',
      time,
      address: this.address ?? '',
      attempt: this.#attempt,
      attempts: this.attempts,
      error,
      ...(retryInMs !== undefined ? { retryInMs } : {}),
    };
  }

  /** Bootstrap is over (success or failure). */
  finish(): void {
    this.#finished();
  }

  /** The error to show for a failed bootstrap: the one we gave up on, else the node's. */
  reason(error: MeshwireError): ErrorLike | MeshwireError {
    return this.gaveUpWith ?? error;
  }
}
