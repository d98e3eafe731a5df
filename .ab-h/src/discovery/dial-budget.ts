/**
 * Bounds what other peers' claims can make this node dial, so that a PEERS list (or any other
 * candidate source) cannot turn it into a port scanner:
 *
 * - per source: at most `perSource` automatic dials in flight or failed at a time. A dial that
 *   reaches a real peer gives its credit back; a failed one holds it until credit regrows, at
 *   `perSource` per minute. A source naming dead or foreign addresses therefore makes at most
 *   `perSource` attempts a minute, however many lists it sends, while one naming real peers is
 *   not slowed down (a newcomer still meshes at handshake speed);
 * - in total: a token bucket of `globalBurst` dials refilled at `globalPerSecond`, whatever the
 *   number of sources.
 *
 * Together with the per-address exponential backoff of the peer book. Dials the application asks
 * for (connectToPeer, bootstrap) and redials of lost peers are not charged.
 */
export class DialBudget {
  readonly #perSource: number;
  readonly #globalBurst: number;
  readonly #globalPerMs: number;
  readonly #maxSources: number;
  /** Credit used per source, and when it was last regrown. */
  readonly #used = new Map<string, { used: number; at: number }>();
  #tokens: number;
  #tokensAt: number;

  constructor(options: {
    perSource: number;
    globalPerSecond: number;
    globalBurst: number;
    maxSources: number;
  }) {
    this.#perSource = options.perSource;
    this.#globalBurst = options.globalBurst;
    this.#globalPerMs = options.globalPerSecond / 1000;
    this.#maxSources = options.maxSources;
    this.#tokens = options.globalBurst;
    this.#tokensAt = 0;
  }

  /** True when a dial of an address named by `source` may start now. */
  allows(source: string, now: number): boolean {
    return this.#credit(source, now) > 0 && this.#refill(now) >= 1;
  }

  /** Earliest time at which `source` may dial again (now if it may). */
  nextAllowedAt(source: string, now: number): number {
    let at = now;
    const entry = this.#used.get(source);
    if (entry && this.#credit(source, now) <= 0) at = Math.max(at, entry.at + 60_000 / this.#perSource);
    if (this.#refill(now) < 1) at = Math.max(at, now + (1 - this.#tokens) / this.#globalPerMs);
    return at;
  }

  /** Takes one dial's credit from `source` and from the global bucket. */
  charge(source: string, now: number): void {
    this.#credit(source, now);
    const entry = this.#used.get(source) ?? { used: 0, at: now };
    entry.used++;
    this.#used.delete(source);
    this.#used.set(source, entry);
    if (this.#used.size > this.#maxSources) {
      // Least recently charged first: a forgotten source starts again with full credit, which is
      // what it would have regrown to anyway after a minute of silence.
      this.#used.delete(this.#used.keys().next().value as string);
    }
    this.#refill(now);
    this.#tokens -= 1;
  }

  /** Gives back the credit of a dial that reached a real peer. */
  refund(source: string): void {
    const entry = this.#used.get(source);
    if (entry && entry.used > 0) entry.used--;
  }

  #credit(source: string, now: number): number {
    const entry = this.#used.get(source);
    if (!entry) return this.#perSource;
    // Elapsed time is clamped at 0: a wall clock stepped back must not stall every dial.
    const regrown = Math.floor((Math.max(0, now - entry.at) * this.#perSource) / 60_000);
    if (regrown > 0) {
      entry.used = Math.max(0, entry.used - regrown);
      entry.at = now;
    }
    return this.#perSource - entry.used;
  }

  #refill(now: number): number {
    this.#tokens = Math.min(
      this.#globalBurst,
      this.#tokens + Math.max(0, now - this.#tokensAt) * this.#globalPerMs,
    );
    this.#tokensAt = now;
    return this.#tokens;
  }
}
