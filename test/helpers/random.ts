/**
 * A seeded pseudo-random generator for tests that want random-looking input (split points,
 * payloads) yet the same input on every run, so a failure can be reproduced from its seed.
 */

/** mulberry32: a tiny seeded generator of numbers in [0, 1). Not for anything but tests. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `length` bytes drawn from `random` (one of {@link mulberry32}'s generators). */
export function seededBytes(random: () => number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  for (let i = 0; i < length; i++) buf[i] = Math.floor(random() * 256);
  return buf;
}
