/**
 * The reading half every raw test peer shares (the hand-written compat peer, the raw native TLS
 * peer): it watches a socket for data and for its end, and lets the peer's read methods wait,
 * bounded, for more. Resets are expected outcomes in these tests, so socket errors are not
 * thrown; `ended` and `closed` report them.
 */
import type { Duplex } from 'node:stream';
import { Wakeup } from './wait.js';

/** How a {@link RawReader} watches its socket. */
export interface RawReaderOptions {
  /** Receives every chunk, before a waiting read is woken. */
  onData: (chunk: Buffer) => void;
  /** Count the peer's FIN as the end (a half-close), not only the socket's close. */
  endOnFin?: boolean;
  /** Added to timeout messages: what had arrived by then. */
  describe?: () => string;
}

export class RawReader {
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;
  readonly #wakeup = new Wakeup();
  readonly #describe: (() => string) | undefined;
  #ended = false;

  constructor(socket: Duplex, options: RawReaderOptions) {
    this.#describe = options.describe;
    socket.on('data', (chunk: Buffer) => {
      options.onData(chunk);
      this.#wakeup.notify();
    });
    socket.on('error', () => {
      // A reset by the node is an expected outcome in many tests; `closed` reports it.
    });
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.#end();
        resolve();
      }),
    );
    if (options.endOnFin) socket.on('end', () => this.#end());
  }

  /** True once the remote closed (or the socket was destroyed). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Waits for the next chunk or the end, until `deadline` (a `Date.now()` time); rejects at
   * once if the connection has already ended, since nothing more can come.
   */
  waitData(deadline: number, what: string): Promise<void> {
    if (this.#ended) return Promise.reject(new Error(`connection closed while waiting for ${what}`));
    return this.#wakeup.wait(deadline, () => {
      const detail = this.#describe?.();
      return `timed out waiting for ${what}${detail ? ` (${detail})` : ''}`;
    });
  }

  /** Resolves once the remote has closed the connection, after everything it sent was read. */
  async expectClose(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) await this.waitData(deadline, 'the connection to close');
  }

  #end(): void {
    this.#ended = true;
    this.#wakeup.notify();
  }
}
