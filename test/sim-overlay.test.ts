/**
 * The simulator: determinism (same seed, same output) and the targets at small sizes
 * (the full-size runs are in the README, made with `npm run sim`). Each run takes well under a
 * few seconds; all run in one process with a virtual clock and no sockets.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runSimulation } from '../scripts/sim/simulation.js';
import type { SimOptions, SimResult } from '../scripts/sim/simulation.js';
import { assertSettledTargets } from './helpers/sim-targets.js';

/** The result without the fields that depend on the machine. */
function stable(r: SimResult): Omit<SimResult, 'wall_s' | 'cpu_s' | 'rss_mb'> {
  const { wall_s: _w, cpu_s: _c, rss_mb: _r, ...rest } = r;
  return rest;
}

const base: SimOptions = { nodes: 150, messages: 300, senders: 15, warmupMs: 3000, settleMs: 4000 };

test('same seed, same output; another seed, another run', () => {
  const a = runSimulation({ ...base, nodes: 80, messages: 100, seed: 7, kill: 0.2, loss: 0.05 });
  const b = runSimulation({ ...base, nodes: 80, messages: 100, seed: 7, kill: 0.2, loss: 0.05 });
  const c = runSimulation({ ...base, nodes: 80, messages: 100, seed: 8, kill: 0.2, loss: 0.05 });
  assert.deepEqual(stable(a), stable(b));
  assert.notDeepEqual(stable(a), stable(c));
});

test('plumtree: every message to every node exactly once, in order; settled trees send ~one payload per node', () => {
  const r = runSimulation({ ...base, seed: 1 });
  assertSettledTargets(r);
});

test('baselines: flooding delivers with a high rmr, direct-only reaches only the neighbours', () => {
  const flood = runSimulation({ ...base, protocol: 'flood' });
  const direct = runSimulation({ ...base, protocol: 'direct' });
  const plum = runSimulation({ ...base, protocol: 'plumtree' });
  assert.equal(flood.delivered, 1);
  assert.ok(flood.rmr > 5 * Math.max(plum.rmr, 0.1), `flood rmr ${flood.rmr} vs plumtree ${plum.rmr}`);
  assert.ok(direct.delivered < 0.15, `direct delivered ${direct.delivered}`);
  assert.equal(direct.ldh_max, 1);
});

test('a full mesh stays a full mesh, and a settled broadcast takes one hop with no duplicate', () => {
  const r = runSimulation({ nodes: 11, messages: 200, senders: 11, maxPeers: 10, overlay: { maxPeers: 10 } });
  let degrees: number[] = [];
  runSimulation({
    nodes: 11,
    messages: 1,
    overlay: { maxPeers: 10 },
    inspect: (nodes) => (degrees = nodes.map((n) => n.stats().active.length)),
  });
  assert.deepEqual(degrees, Array(11).fill(10));
  assert.equal(r.delivered, 1);
  assert.equal(r.ldh_max, 1);
  assert.equal(r.rmr_settled, 0);
});

test('20% of the nodes killed at once: delivery after the kill and one component within 2 s', () => {
  const r = runSimulation({ ...base, nodes: 300, kill: 0.2, seed: 3 });
  assert.equal(r.killed, 60);
  assert.ok(r.delivered_after_kill >= 0.999, `delivered after kill ${r.delivered_after_kill}`);
  assert.equal(r.components_2s, 1);
  assert.equal(r.components, 1);
  assert.equal(r.duplicates, 0);
  assert.equal(r.order_violations, 0);
});

test('50% killed: still >= 0.99 delivered after the kill', () => {
  const r = runSimulation({ ...base, nodes: 300, kill: 0.5, seed: 4 });
  assert.ok(r.delivered_after_kill >= 0.99, `delivered after kill ${r.delivered_after_kill}`);
  assert.equal(r.duplicates, 0);
  assert.equal(r.order_violations, 0);
});

test('10% of frames lost on every link: everything is still delivered, in order', () => {
  const r = runSimulation({ ...base, loss: 0.1, seed: 5 });
  assert.ok(r.frames_lost > 0);
  assert.equal(r.delivered, 1, JSON.stringify(r.reports));
  assert.equal(r.duplicates, 0);
  assert.equal(r.order_violations, 0);
});

test('duplicates of a flood prune mostly without PRUNE frames; seeded trees skip the flood', () => {
  const opts: SimOptions = { ...base, nodes: 120, messages: 120, senders: 40, seed: 9 };
  const flood = runSimulation(opts);
  const seeded = runSimulation({ ...opts, overlay: { seedTrees: true } });
  for (const r of [flood, seeded]) {
    assert.equal(r.delivered, 1);
    assert.equal(r.duplicates, 0);
    assert.equal(r.order_violations, 0);
  }
  const gossip = (r: SimResult): number => r.frames_by_type.gossip ?? 0;
  const prunes = (r: SimResult): number => r.frames_by_type.prune ?? 0;
  // Every first broadcast floods: ~maxPeers copies per node, all but one of them duplicates.
  const dupes = gossip(flood) - flood.messages * (flood.nodes - 1);
  assert.ok(dupes > 10_000, `duplicates ${dupes}`);
  assert.ok(prunes(flood) < dupes / 5, `${prunes(flood)} PRUNEs for ${dupes} duplicate payloads`);
  assert.ok(
    gossip(seeded) < gossip(flood) / 2,
    `seeded ${gossip(seeded)} vs flood ${gossip(flood)} payloads`,
  );
});
