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

  /** Resolves once `bytes` may go (at once when the bucket holds enough). */
  async take(bytes: number, signal?: { readonly closed: boolean }): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.#tokens = Math.min(
        Math.max(this.#rate, bytes),
        this.#tokens + ((now - this.#last) * this.#rate) / 1000,
      );
      this.#last = now;
      if (this.#tokens >= bytes || signal?.closed) {
        this.#tokens -= bytes;
        return;
      }
      const waitMs = Math.ceil(((bytes - this.#tokens) * 1000) / this.#rate);
      await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs, 1000)).unref());
    }
  }
}
