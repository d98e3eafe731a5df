/**
 * Seeded pseudo-random numbers for the simulator (SplitMix32-style mixing of a 32-bit counter):
 * fast, tiny and reproducible. Not for cryptography.
 */

/** A generator of floats in [0, 1) determined by `seed`. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 2 ** 32;
  };
}

/** A 32-bit mix of two integers and a seed: stable per pair, used for per-link latencies. */
export function mix3(a: number, b: number, seed: number): number {
  let z = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca77) ^ Math.imul(seed, 0xc2b2ae3d)) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d);
  z = Math.imul(z ^ (z >>> 12), 0x297a2d39);
  return (z ^ (z >>> 15)) >>> 0;
}
