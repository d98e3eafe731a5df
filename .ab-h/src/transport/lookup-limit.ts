import dns from 'node:dns';
import type { LookupFunction } from 'node:net';

/**
 * Most host-name lookups in flight at once. getaddrinfo runs on libuv's thread pool (4 threads by
 * default), which file writes and scrypt also use, and it cannot be cancelled: a few names that
 * hang in a slow resolver would otherwise take the whole pool. Two threads at most go to lookups;
 * further dials wait their turn (and leave the queue when aborted).
 */
export const MAX_CONCURRENT_LOOKUPS = 2;

type Lookup = (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => void;
type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | dns.LookupAddress[],
  family?: number,
) => void;

/**
 * Wraps a lookup function so that at most `limit` calls run at once; the rest queue in order.
 * A queued call whose `signal` aborts is dropped from the queue without ever running.
 */
export function limitLookups(lookup: Lookup, limit = MAX_CONCURRENT_LOOKUPS) {
  let running = 0;
  const queue: (() => void)[] = [];
  const next = (): void => {
    while (running < limit && queue.length > 0) (queue.shift() as () => void)();
  };
  return (signal?: AbortSignal): LookupFunction =>
    ((hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
      const run = (): void => {
        if (signal?.aborted) return next();
        running++;
        lookup(hostname, options, (err, address, family) => {
          running--;
          next();
          callback(err, address, family);
        });
      };
      queue.push(run);
      next();
    }) as unknown as LookupFunction;
}

/** The process-wide limited form of `dns.lookup` that dials use. */
export const limitedLookup = limitLookups(dns.lookup as unknown as Lookup);
