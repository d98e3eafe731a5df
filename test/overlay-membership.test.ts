/**
 * The membership features added for partitions and mass failures, on the sans-IO core with the
 * deterministic test driver (virtual time, no sockets): learned candidates (peer exchange, peer
 * book) kept apart from the passive view and used when it is empty; the periodic re-join probe,
 * which merges two overlays that know of each other and changes no link within one overlay.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestNet } from './helpers/overlay-driver.js';

function reach(net: TestNet, from: string): Set<string> {
  const seen = new Set([from]);
  const stack = [from];
  while (stack.length > 0) {
    for (const p of net.node(stack.pop()!).stats().active) {
      if (!seen.has(p) && !net.down.has(p)) {
        seen.add(p);
        stack.push(p);
      }
    }
  }
  return seen;
}

const views = (net: TestNet): string =>
  [...net.nodes.entries()].map(([id, n]) => `${id}:${n.stats().active.sort().join('+')}`).join(' ');

test('learned candidates are bounded, kept apart from the passive view, and rejoin a node whose passive view is empty', () => {
  for (const withCandidate of [true, false]) {
    const net = new TestNet({ maxPeers: 3 });
    for (const id of ['a', 'x', 'z', 'w']) net.add(id);
    net.join('w', 'z');
    net.join('x', 'a');
    net.run(50);
    assert.deepEqual(net.node('x').stats().active, ['a']);
    assert.deepEqual(net.node('x').stats().passive, [], 'x knows no backup');
    if (withCandidate) {
      net.event('x', {
        type: 'learned',
        peers: [
          { id: 'z', address: 'z.test:1' },
          { id: 'x', address: 'x.test:1' },
        ],
      });
      assert.deepEqual(net.node('x').stats().learned, ['z'], 'itself is not a candidate');
      assert.deepEqual(net.node('x').stats().passive, [], 'learned candidates are not backups');
    }
    net.kill('a');
    net.run(net.now + 3000);
    const active = net.node('x').stats().active;
    if (withCandidate) assert.ok(active.includes('z'), `x rejoined through z: ${active.join(',')}`);
    else assert.deepEqual(active, [], 'without a candidate, x stays alone');
  }
  // Bounded: learnedViewSize entries at most.
  const net = new TestNet({ maxPeers: 3, learnedViewSize: 5 });
  net.add('a');
  net.event('a', {
    type: 'learned',
    peers: Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, address: `p${i}.test:1` })),
  });
  assert.equal(net.node('a').stats().learned.length, 5);
});

test('the periodic re-join probe changes no link within one overlay, and merges two that learned of each other', () => {
  const net = new TestNet({ maxPeers: 3, shuffleIntervalMs: 1000, sizeTtlMs: 6000, rejoinIntervalMs: 2000 });
  const left = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'];
  const right = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
  for (const id of [...left, ...right]) net.add(id);
  for (const half of [left, right]) {
    for (const id of half.slice(1)) {
      net.join(id, half[0]!);
      net.run(net.now + 5);
    }
  }
  net.run(net.now + 30_000);
  assert.equal(reach(net, 'l0').size, 6, 'two separate overlays');
  assert.equal(net.node('l0').stats().sizeEstimate, 6);
  // Settled: 30 more seconds (about 15 probes per node, all within its own overlay) change no link.
  const before = views(net);
  const probesBefore = net.sent.filter((s) => s.message.type === 'shuffle' && s.message.ttl === 1).length;
  net.run(net.now + 30_000);
  const probes =
    net.sent.filter((s) => s.message.type === 'shuffle' && s.message.ttl === 1).length - probesBefore;
  assert.ok(probes >= 12 * 5, `probes ran: ${probes}`);
  assert.equal(views(net), before, 'no link changed');
  // One node learns of one node of the other overlay (as from its peer book): they merge.
  net.event('l3', { type: 'learned', peers: [{ id: 'r2', address: 'r2.test:1' }] });
  net.run(net.now + 10_000);
  assert.equal(reach(net, 'l0').size, 12, `one overlay: ${views(net)}`);
  net.run(net.now + 20_000);
  for (const id of [...left, ...right]) {
    assert.equal(net.node(id).stats().sizeEstimate, 12, `${id} counts everyone`);
    for (const p of net.node(id).stats().active)
      assert.ok(net.node(p).stats().active.includes(id), 'symmetric');
  }
});
