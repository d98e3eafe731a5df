/**
 * Small overlays must not stay split into groups that are each internally "done": with
 * `maxPeers: 3`, eight nodes could settle into two full cliques of four (every view full, so
 * nobody asks anyone), or a pair whose low-priority requests every full node refuses. Only the
 * periodic re-join probe (every 15-45 s) merged them, and not before the other group's entries
 * expired from the size sketch (2 minutes). Run in the simulator over many seeds, every run must
 * be one component 25 virtual seconds after the joins. On the code before the fix, 1 of the 200
 * eight-node seeds and 9 of the 200 twenty-node ones were still split then.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from '../scripts/sim/simulation.js';

function splitRuns(nodes: number, maxPeers: number, seeds: number): string[] {
  const split: string[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    // Joins end within nodes × 2 ms; the broadcasts start at 25 s, checked 1 s after the last one.
    const r = runSimulation({
      nodes,
      messages: 5,
      maxPeers,
      seed,
      warmupMs: 25_000,
      settleMs: 1000,
      overlay: { maxPeers },
    });
    if (r.components !== 1 || r.delivered !== 1) {
      split.push(`seed ${seed}: ${r.components} components, delivered ${r.delivered}`);
    }
  }
  return split;
}

test('eight nodes with maxPeers 3 form one overlay, whatever the seed', () => {
  assert.deepEqual(splitRuns(8, 3, 200), []);
});

test('twenty nodes with maxPeers 3 form one overlay, whatever the seed', () => {
  assert.deepEqual(splitRuns(20, 3, 200), []);
});
