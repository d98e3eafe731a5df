/**
 * Small overlays must not stay split into groups that are each internally "done": with
 * `maxPeers: 3`, eight nodes could settle into two full cliques of four (every view full, so
 * nobody asks anyone), or a pair whose low-priority requests every full node refuses. Only the
 * periodic re-join probe (every 15-45 s) merged them, and not before the other group's entries
 * expired from the size sketch (2 minutes). Run in the simulator over many seeds, every run must
 * be one component 25 virtual seconds after the joins (eight nodes), or 40 s (twenty). On the
 * code before the fix, 1 of the 200 eight-node runs and 4 of the 200 twenty-node runs were
 * still split then (and 2 twenty-node runs still at 60 s).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from '../scripts/sim/simulation.js';

function splitRuns(nodes: number, maxPeers: number, seeds: number, warmupMs: number): string[] {
  const split: string[] = [];
  for (let seed = 1; seed <= seeds; seed++) {
    // Joins end within nodes × 2 ms; the broadcasts start at `warmupMs`, checked 3 s after the
    // last one (a merge just before them is followed by the repair of what the groups missed).
    const r = runSimulation({
      nodes,
      messages: 5,
      maxPeers,
      seed,
      warmupMs,
      settleMs: 3000,
      overlay: { maxPeers },
    });
    if (r.components !== 1 || r.delivered !== 1) {
      split.push(`seed ${seed}: ${r.components} components, delivered ${r.delivered}`);
    }
  }
  return split;
}

test('eight nodes with maxPeers 3 form one overlay, whatever the seed', () => {
  assert.deepEqual(splitRuns(8, 3, 200, 25_000), []);
});

test('twenty nodes with maxPeers 3 form one overlay, whatever the seed', () => {
  assert.deepEqual(splitRuns(20, 3, 200, 40_000), []);
});
