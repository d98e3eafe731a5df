/**
 * The `overlay` bench suite decides "formed" from the nodes' active views (bench/lib/overlay-net.ts):
 * connectivity, one-sided links, and whether the views are as full as the network allows.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { viewShape, type NodeView } from '../bench/lib/overlay-net.js';

const ids = ['a', 'b', 'c', 'd', 'e'];

/** Views from undirected links, e.g. ['ab', 'bc']. */
function views(links: string[], oneSided: string[] = []): NodeView[] {
  const active = new Map(ids.map((id) => [id, [] as string[]]));
  for (const [x, y] of links.map((l) => [...l])) {
    active.get(x!)!.push(y!);
    active.get(y!)!.push(x!);
  }
  for (const [x, y] of oneSided.map((l) => [...l])) active.get(x!)!.push(y!);
  return ids.map((id) => ({ active: active.get(id)!, passive: 0, joined: true }));
}

describe('overlay bench: viewShape', () => {
  it('a ring of 5 with maxPeers 2 is connected, full and maximal', () => {
    const s = viewShape(ids, views(['ab', 'bc', 'cd', 'de', 'ea']), 2);
    assert.deepEqual(s, {
      connected: true,
      maximal: true,
      fullNodes: 5,
      minActive: 2,
      meanActive: 2,
      asymmetric: 0,
    });
  });

  it('two components are not connected', () => {
    const s = viewShape(ids, views(['ab', 'cd', 'de', 'ec']), 2);
    assert.equal(s.connected, false);
  });

  it('a node without neighbours is not connected', () => {
    const s = viewShape(ids, views(['ab', 'bc', 'cd']), 2);
    assert.equal(s.connected, false);
    assert.equal(s.minActive, 0);
  });

  it('two non-adjacent nodes with room are not maximal; adjacent ones are', () => {
    // A path a-b-c-d-e: a and e have room (1 of 2) and could link.
    const path = viewShape(ids, views(['ab', 'bc', 'cd', 'de']), 2);
    assert.equal(path.connected, true);
    assert.equal(path.maximal, false);
    assert.equal(path.fullNodes, 3);
    // maxPeers 3 on a ring plus chord a-c: b, d, e have room; d-e adjacent, b not adjacent to d.
    const ring = viewShape(ids, views(['ab', 'bc', 'cd', 'de', 'ea', 'ac']), 3);
    assert.equal(ring.maximal, false);
    // b-d and b-e too: now every pair of nodes with room is linked.
    const full = viewShape(ids, views(['ab', 'bc', 'cd', 'de', 'ea', 'ac', 'bd', 'be']), 3);
    assert.equal(full.maximal, true);
  });

  it('counts links one side has not confirmed', () => {
    const s = viewShape(ids, views(['ab', 'bc', 'cd', 'de', 'ea'], ['ac']), 3);
    assert.equal(s.asymmetric, 1);
  });
});
