/**
 * The rate limit between LAN discovery and whatever dials: a token bucket. Candidates beyond it
 * wait in a bounded queue (newest per address wins) and come out as tokens refill; past the
 * queue's bound they are dropped and counted, never silently.
 */
export interface GateOptions {
  /** Sustained candidates per second. */
  ratePerSecond: number;
  /** Candidates that may pass at once (a whole LAN appearing together). */
  burst: number;
  /** Candidates that may wait. */
  maxQueued: number;
}

/** Token bucket plus a bounded queue; `release` is called for every candidate let through. */
export class CandidateGate<T> {
  readonly #options: GateOptions;
  readonly #release: (item: T) => void;
  readonly #queue = new Map<string, T>();
  #tokens: number;
  #refilledAt: number;
  #timer: NodeJS.Timeout | undefined;
  /** Candidates dropped because the queue was full. */
  dropped = 0;
  /** Candidates let through. */
  passed = 0;

  constructor(options: GateOptions, release: (item: T) => void, now = Date.now()) {
    this.#options = options;
    this.#release = release;
    this.#tokens = options.burst;
    this.#refilledAt = now;
  }

  /** Offers a candidate under `key` (its address): released now, queued, or dropped. */
  offer(key: string, item: T, now = Date.now()): void {
    this.#refill(now);
    if (this.#queue.size === 0 && this.#tokens >= 1) {
      this.#tokens--;
      this.passed++;
      this.#release(item);
      return;
    }
    if (!this.#queue.has(key) && this.#queue.size >= this.#options.maxQueued) {
      this.dropped++;
      return;
    }
    this.#queue.set(key, item);
    this.#schedule();
  }

  /** Forgets queued candidates for which `match` is true (e.g. a peer said goodbye). */
  forget(match: (item: T) => boolean): void {
    for (const [key, item] of this.#queue) if (match(item)) this.#queue.delete(key);
  }

  get queued(): number {
    return this.#queue.size;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.clear();
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#refilledAt);
    this.#tokens = Math.min(
      this.#options.burst,
      this.#tokens + (elapsed / 1000) * this.#options.ratePerSecond,
    );
    this.#refilledAt = now;
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = Math.max(1, Math.ceil(((1 - this.#tokens) / this.#options.ratePerSecond) * 1000));
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#drain();
    }, wait);
    this.#timer.unref();
  }

  #drain(): void {
    this.#refill(Date.now());
    for (const [key, item] of this.#queue) {
      if (this.#tokens < 1) break;
      this.#tokens--;
      this.#queue.delete(key);
      this.passed++;
      this.#release(item);
    }
    if (this.#queue.size > 0) this.#schedule();
  }
}
