/**
 * Bounded waiting, the one home of it for every test and test peer: a promise with a deadline,
 * the next matching event of an emitter, a wake-up for readers of raw test connections, and a
 * log of events that tests wait on. Every wait here either resolves on an event or rejects with
 * a message naming what was awaited; none sleeps for a fixed time.
 */

/** `promise`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The `on` / `off` pair of any emitter (node's EventEmitter, meshwire's TypedEmitter). */
export interface Subscribable<K, V> {
  on(type: K, listener: (value: V) => void): unknown;
  off(type: K, listener: (value: V) => void): unknown;
}

/**
 * Resolves with the next `type` event of `emitter` that satisfies `match`, or rejects after
 * `timeoutMs` with a message naming the event. Call it before the action that causes the event.
 */
export function nextEvent<K, V>(
  emitter: Subscribable<K, V>,
  type: K,
  match: (value: V) => boolean,
  timeoutMs: number,
): Promise<V> {
  return new Promise((resolve, reject) => {
    const listener = (value: V): void => {
      if (!match(value)) return;
      clearTimeout(timer);
      emitter.off(type, listener);
      resolve(value);
    };
    const timer = setTimeout(() => {
      emitter.off(type, listener);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for a '${String(type)}' message`));
    }, timeoutMs);
    emitter.on(type, listener);
  });
}

/**
 * The waiting half of a raw test connection's reader: `wait` sleeps until the next `notify`
 * (new bytes, a new connection, the end) or the deadline. The reader loops "check what it has,
 * else wait", so a wake-up that brings too little only costs another turn.
 */
export class Wakeup {
  #wake: (() => void) | undefined;

  /** Wakes the reader waiting now, if any. */
  notify(): void {
    this.#wake?.();
  }

  /**
   * Resolves at the next {@link notify}; rejects at `deadline` (a `Date.now()` time) with the
   * message `timeoutMessage()` returns then (so it can say what had arrived by that time).
   */
  wait(deadline: number, timeoutMessage: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.#wake = undefined;
          reject(new Error(timeoutMessage()));
        },
        Math.max(1, deadline - Date.now()),
      );
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}

/** How {@link EventLog.waitFor} gives up. */
export interface EventLogWait {
  /** Only entries from this index on count (default 0: every entry, also those seen before). */
  since?: number;
  timeoutMs: number;
  /** The error to reject with at the timeout, built then (so it can describe what was seen). */
  timeoutError: () => Error;
  /**
   * Resolves with an error when waiting is pointless (the process that would log the entry has
   * exited): the wait rejects with it at once, if it is still waiting.
   */
  giveUp?: Promise<Error>;
}

/**
 * Every entry something reported (a child's JSON events, a CLI's lines, a receiver's events), in
 * order, and bounded waits for the first entry that matches: one already logged, or a later one.
 */
export class EventLog<T> {
  /** Every entry so far, in order. */
  readonly all: T[] = [];
  readonly #waiters = new Set<{ match: (entry: T) => boolean; resolve: (entry: T) => void }>();

  /** Logs an entry and wakes every waiter it matches. */
  push(entry: T): void {
    this.all.push(entry);
    for (const waiter of [...this.#waiters]) {
      if (waiter.match(entry)) {
        this.#waiters.delete(waiter);
        waiter.resolve(entry);
      }
    }
  }

  /** The first entry (from `since` on) matching `match`, logged already or later. */
  waitFor(match: (entry: T) => boolean, options: EventLogWait): Promise<T> {
    const seen = this.all.slice(options.since ?? 0).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (entry: T) => {
          clearTimeout(timer);
          resolve(entry);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(options.timeoutError());
      }, options.timeoutMs);
      this.#waiters.add(waiter);
      void options.giveUp?.then((error) => {
        if (!this.#waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(error);
      });
    });
  }
}

/**
 * Resolves once `check()` holds, re-checking every `intervalMs`: for states no event announces
 * (socket tables, handle counts, counters bumped inside callbacks). Rejects after `timeoutMs`
 * naming `what`, with `describe()` if given. Prefer an event wait wherever there is an event.
 */
export async function pollUntil(
  check: () => boolean,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<void> {
  const { timeoutMs = 5_000, intervalMs = 10, describe } = options;
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) {
      const detail = describe?.();
      throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}${detail ? `: ${detail}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * Waits until `progress()` has not changed for `quietMs` (checked every `intervalMs`), for at
 * most `timeoutMs`: there is no event for "nothing happens any more", so asserting that
 * something has stopped takes one bounded quiet period. Resolves with the last value and whether
 * it did go quiet; the caller decides whether not going quiet is a failure.
 */
export function waitForQuiet(
  progress: () => number,
  quietMs: number,
  timeoutMs: number,
  intervalMs = 10,
): Promise<{ value: number; quiet: boolean }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let last = progress();
    let since = start;
    const check = (): void => {
      const now = progress();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
      if (Date.now() - since >= quietMs) return resolve({ value: now, quiet: true });
      if (Date.now() - start > timeoutMs) return resolve({ value: now, quiet: false });
      setTimeout(check, intervalMs);
    };
    check();
  });
}
