/**
 * A token bucket: `rate` bytes per second, bursts up to one second's worth (or one item,
 * whichever is larger, so an item bigger than the rate still passes, just slowly).
 */
export class RateLimiter {
  readonly #rate: number;
  #tokens: number;
  #last = performance.now();

  /** `bytesPerSecond` > 0. */
  constructor(bytesPerSecond: number) {
    this.#rate = bytesPerSecond;
    this.#tokens = bytesPerSecond;
  }

  #refill(bytes: number): void {
    const now = performance.now();
    this.#tokens = Math.min(
      Math.max(this.#rate, bytes),
      this.#tokens + ((now - this.#last) * this.#rate) / 1000,
    );
    this.#last = now;
  }

  /**
   * Takes `bytes` now if the bucket holds enough and returns 0; otherwise takes nothing and
   * returns how many ms until it would (for callers that must not await: a scheduler that
   * tries again later).
   */
  tryTake(bytes: number): number {
    this.#refill(bytes);
    if (this.#tokens >= bytes) {
      this.#tokens -= bytes;
      return 0;
    }
    return Math.max(1, Math.ceil(((bytes - this.#tokens) * 1000) / this.#rate));
  }

  /** Resolves once `bytes` may go (at once when the bucket holds enough). */
  async take(bytes: number, signal?: { readonly closed: boolean }): Promise<void> {
    for (;;) {
      this.#refill(bytes);
      if (this.#tokens >= bytes || signal?.closed) {
        this.#tokens -= bytes;
        return;
      }
      const waitMs = Math.ceil(((bytes - this.#tokens) * 1000) / this.#rate);
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 1000)).unref());
    }
  }
}
