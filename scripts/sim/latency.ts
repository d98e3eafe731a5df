/**
 * The simulator's link latencies. By default every node sits at a random point of the unit
 * square and a link's latency grows with the distance (min at distance 0, max across the
 * diagonal), so latencies obey the triangle inequality like real networks mostly do; `random`
 * draws each link's latency independently instead (many short hops can then beat one long one).
 */
import { mix3 } from './rng.js';

/**
 * The latency function of a run: draws the nodes' coordinates from `rng` (2 draws per node, in
 * node order, so every engine that calls this at the same point of its draws gets the same links).
 */
export function linkLatency(
  n: number,
  [latMin, latMax]: [number, number],
  model: 'coordinates' | 'random',
  rng: () => number,
  seed: number,
): (a: number, b: number) => number {
  const xs = new Float64Array(n);
  const ys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    xs[i] = rng();
    ys[i] = rng();
  }
  const span = latMax - latMin;
  return model === 'coordinates'
    ? (a, b) =>
        latMin + Math.round((span * Math.sqrt((xs[a]! - xs[b]!) ** 2 + (ys[a]! - ys[b]!) ** 2)) / Math.SQRT2)
    : (a, b) => {
        const lo = a < b ? a : b;
        const hi = a < b ? b : a;
        return latMin + (mix3(lo, hi, seed) % (span + 1));
      };
}
