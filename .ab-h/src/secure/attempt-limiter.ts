import net from 'node:net';

/** Failed network-key attempts one source may make in a burst. @default 5 */
export const DEFAULT_NETWORK_KEY_MAX_FAILURES = 5;
/** The time over which {@link DEFAULT_NETWORK_KEY_MAX_FAILURES} failures are forgiven. @default 60000 */
export const DEFAULT_NETWORK_KEY_FAILURE_WINDOW_MS = 60_000;
/** Most sources remembered at once. @default 4096 */
export const DEFAULT_NETWORK_KEY_MAX_SOURCES = 4096;

/** The limits of an {@link AttemptLimiter}. */
export interface AttemptLimits {
  /** Failures a source may have outstanding; one more is refused until one has leaked away. */
  maxFailures: number;
  /** Time in ms in which `maxFailures` failures leak away (one every `windowMs / maxFailures`). */
  windowMs: number;
  /** Most sources tracked; past it the one that failed least recently is forgotten. */
  maxSources: number;
}

interface Bucket {
  /** Failures outstanding at `at` (a real number: it leaks continuously). */
  level: number;
  at: number;
}

/**
 * Rate limit of failed network-key attempts per source address (a leaky bucket per source).
 *
 * Every failure adds one to the source's level, which leaks at `maxFailures` per `windowMs`; a
 * source whose level is above `maxFailures - 1` is refused. So a source gets `maxFailures` quick
 * guesses, then one each `windowMs / maxFailures` for as long as it keeps failing, and a burst
 * of parallel attempts (each counted when it ends) only lengthens its wait. Successes leave the
 * level alone: an honest peer's failures leak away like anyone's.
 *
 * IPv6 sources are grouped by /64, since one host usually owns a whole /64. The map is bounded
 * by `maxSources`; a source forgotten to make room starts again from nothing, so an attacker with
 * more than `maxSources` addresses gets `maxFailures` guesses per address, no more than without
 * the bound.
 */
export class AttemptLimiter {
  readonly #limits: AttemptLimits;
  readonly #now: () => number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(limits: AttemptLimits, now: () => number = Date.now) {
    this.#limits = limits;
    this.#now = now;
  }

  /** Sources currently remembered. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Milliseconds until `host` may try again; 0 if it may try now. */
  retryAfterMs(host: string): number {
    const key = sourceKey(host);
    const bucket = this.#buckets.get(key);
    if (!bucket) return 0;
    const level = this.#level(bucket);
    if (level <= 0) {
      this.#buckets.delete(key);
      return 0;
    }
    const excess = level - (this.#limits.maxFailures - 1);
    return excess > 0 ? Math.ceil((excess * this.#limits.windowMs) / this.#limits.maxFailures) : 0;
  }

  /** Records one failed attempt from `host`. */
  fail(host: string): void {
    const key = sourceKey(host);
    const bucket = this.#buckets.get(key);
    const level = bucket ? Math.max(0, this.#level(bucket)) : 0;
    // Delete and re-insert: the map's order is then least recently failed first, for eviction.
    this.#buckets.delete(key);
    if (this.#buckets.size >= this.#limits.maxSources) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
    this.#buckets.set(key, { level: level + 1, at: this.#now() });
  }

  #level(bucket: Bucket): number {
    const elapsed = Math.max(0, this.#now() - bucket.at);
    return bucket.level - (elapsed * this.#limits.maxFailures) / this.#limits.windowMs;
  }
}

/** The key a host is counted under: an IPv4 address as it is, an IPv6 address by its /64. */
export function sourceKey(host: string): string {
  const bare = host.replace(/^\[|\]$/g, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  if (mapped) return mapped[1] as string;
  if (!net.isIPv6(bare)) return bare;
  return `${expandIPv6(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (zone removed), as lowercase hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const withoutZone = address.split('%')[0] as string;
  const [head = '', tail] = withoutZone.split('::');
  const parse = (part: string): string[] => (part === '' ? [] : part.split(':'));
  let left = parse(head);
  let right = tail === undefined ? [] : parse(tail);
  // An embedded IPv4 tail (::1.2.3.4) stands for two groups; only the first four matter here.
  const fix = (groups: string[]): string[] => groups.flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]));
  left = fix(left);
  right = fix(right);
  const missing = Math.max(0, 8 - left.length - right.length);
  return [...left, ...Array.from({ length: missing }, () => '0'), ...right].map((g) =>
    (parseInt(g, 16) || 0).toString(16),
  );
}
