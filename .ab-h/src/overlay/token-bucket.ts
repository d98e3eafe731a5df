/**
 * A token bucket on the driver's clock. Pure: the caller passes the time, so it works on the
 * simulator's virtual clock exactly as on the real one.
 */
import type { RateLimit } from './options.js';

/** Allows `perSecond` events per second on average and bursts of up to `burst`. */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(
    private readonly limit: RateLimit,
    now: number,
  ) {
    this.#tokens = limit.burst;
    this.#last = now;
  }

  /** Takes one token if available; false means the event is over the limit. */
  take(now: number): boolean {
    if (now > this.#last) {
      this.#tokens = Math.min(
        this.limit.burst,
        this.#tokens + ((now - this.#last) * this.limit.perSecond) / 1000,
      );
      this.#last = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
