import type { Duplex } from 'node:stream';
import type { TransportConnection } from '../transport/transport.js';

type Raw = TransportConnection;

/**
 * Inbound connections still in handshake, capped. When the cap is reached, a newcomer evicts the
 * oldest connection whose peer has sent nothing yet (else the oldest): refusing newcomers instead
 * would let that many idle sockets lock every legitimate peer out, again and again, while a real
 * handshake sends at once and completes in milliseconds, so it is hardly ever the one closed.
 */
export class PendingHandshakes {
  readonly #max: number;
  /** Each accepted connection, with the stream to destroy to abort it (its TLSSocket once wrapped). */
  readonly #pending = new Map<Raw, Duplex>();
  readonly #evicted = new WeakSet<Raw>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Registers `raw`, making room if needed; false when there is no room at all. */
  add(raw: Raw): boolean {
    if (this.#pending.size >= this.#max && !this.#evictOne()) return false;
    this.#pending.set(raw, raw.stream);
    return true;
  }

  /** From now on, aborting `raw` means destroying `wrapped` (never the raw socket under a live TLSSocket). */
  wrapped(raw: Raw, wrapped: Duplex): void {
    if (this.#pending.has(raw)) this.#pending.set(raw, wrapped);
  }

  /** Aborts the handshake on `raw`. */
  abort(raw: Raw): void {
    this.#pending.get(raw)?.destroy();
  }

  /** True when `raw` was closed to make room (routine, not an error to report). */
  wasEvicted(raw: Raw): boolean {
    return this.#evicted.has(raw);
  }

  /** The handshake on `raw` is over, one way or the other. */
  release(raw: Raw): void {
    this.#pending.delete(raw);
  }

  /** Aborts every handshake in progress (node shutdown). */
  abortAll(): void {
    for (const socket of this.#pending.values()) socket.destroy();
  }

  #evictOne(): boolean {
    let victim: Raw | undefined;
    for (const raw of this.#pending.keys()) {
      if (raw.bytesRead() === 0) {
        victim = raw;
        break;
      }
      victim ??= raw;
    }
    if (!victim) return false;
    const toDestroy = this.#pending.get(victim);
    this.#pending.delete(victim);
    this.#evicted.add(victim);
    toDestroy?.destroy();
    return true;
  }
}
