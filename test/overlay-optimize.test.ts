/**
 * The tree optimisation must not orphan the node that makes it (sans-IO, one Plumtree core with
 * hand-made neighbours). A node that moves to a shorter path grafts the new parent and prunes the
 * old one; a payload the old parent had already sent then arrives over the pruned link. Relaying
 * that copy up to the new parent, or pruning the new parent when its own copy arrives second,
 * cut the node off from the sender's tree: the 10,000-node simulation lost one (message, node)
 * pair that way (README "Simulation", note ³).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveOverlayOptions } from '../src/overlay/index.js';
import type { GossipMessage, OverlayAction, PeerInfo } from '../src/overlay/index.js';
import { Plumtree } from '../src/overlay/plumtree.js';
import { checksum, seeded, testSigner, testVerifier } from './helpers/overlay-driver.js';

const PEERS: PeerInfo[] = Array.from({ length: 4 }, (_, i) => ({ id: `p${i}`, address: `p${i}` }));

function core(): Plumtree {
  const o = resolveOverlayOptions({
    self: { id: 'me', address: 'me' },
    signer: testSigner,
    verifier: testVerifier,
    random: seeded(3),
  });
  const ids = new Set(PEERS.map((p) => p.id));
  return new Plumtree(o, { isNeighbor: (id) => ids.has(id), neighborIds: () => PEERS.map((p) => p.id) });
}

function gossip(seq: number, hops: number): GossipMessage {
  const fields = { sender: 's', epoch: 0, seq, kind: 1, payload: new Uint8Array([seq]) };
  return { type: 'gossip', ...fields, hops, signature: checksum(fields) };
}

/** The sends in `out`, as "type→peer" (payloads with their seq: "gossip:2→p1"). */
function sends(out: OverlayAction[]): string[] {
  return out.flatMap((a) =>
    a.type !== 'send'
      ? []
      : [`${a.message.type}${a.message.type === 'gossip' ? `:${a.message.seq}` : ''}→${a.to}`],
  );
}

/**
 * A core whose tree for sender `s` came through p0 (5 hops), with p2 and p3 pruned, that then
 * hears from lazy p1 of the same message at 1 hop and so moves to p1 (GRAFT p1, PRUNE p0).
 */
function optimised(): Plumtree {
  const p = core();
  p.onGossip('p0', gossip(1, 5), 0, []);
  p.onPrune('p2', 's');
  p.onPrune('p3', 's');
  p.onPrune('p1', 's');
  const out: OverlayAction[] = [];
  p.onIHave('p1', [{ sender: 's', epoch: 0, seq: 1, hops: 1 }], 10, out);
  assert.deepEqual(sends(out).sort(), ['graft→p1', 'prune→p0']);
  return p;
}

test('a copy that crossed the PRUNE to the old parent is delivered, but not relayed up to the new parent', () => {
  const p = optimised();
  const out: OverlayAction[] = [];
  p.onGossip('p0', gossip(2, 5), 20, out);
  assert.equal(p.order.state('s')!.next, 3, 'message 2 delivered');
  assert.deepEqual(
    sends(out).filter((s) => s.startsWith('gossip')),
    [],
    'p1 is the parent: it has message 2 or gets it first',
  );
  assert.equal(p.order.state('s')!.parent, 'p1', 'the parent stays the one chosen');
});

test('the new parent is not pruned when its copy arrives after the crossed one', () => {
  const p = optimised();
  p.onGossip('p0', gossip(2, 5), 20, []);
  const out: OverlayAction[] = [];
  p.onGossip('p1', gossip(2, 2), 25, out);
  assert.deepEqual(sends(out), [], 'no PRUNE to the parent');
  assert.deepEqual(p.eagerFor('s').sort(), ['p1'], 'p1 is still in the tree');
  // The next message through p1 is a new one, delivered and kept in the tree.
  const next: OverlayAction[] = [];
  p.onGossip('p1', gossip(3, 2), 30, next);
  assert.equal(p.order.state('s')!.next, 4);
  assert.equal(p.order.state('s')!.parent, 'p1');
});

test('a duplicate from a neighbour that is not the parent is still pruned', () => {
  const p = core();
  p.onGossip('p0', gossip(1, 2), 0, []);
  const out: OverlayAction[] = [];
  // p1 is eager here and we relayed message 1 to it: both ends prune on their own (no PRUNE).
  p.onGossip('p1', gossip(1, 3), 5, out);
  assert.ok(!p.eagerFor('s').includes('p1'));
  // p2's copy of message 2 arrives after p0's: p2 is pruned, p0 stays the parent.
  p.onGossip('p0', gossip(2, 2), 10, []);
  p.onPrune('p2', 's'); // p2 pruned us meanwhile; our copy to it was a duplicate there
  const dup: OverlayAction[] = [];
  p.onGossip('p3', gossip(2, 4), 12, dup);
  assert.ok(!p.eagerFor('s').includes('p3'), 'p3 pruned');
  assert.deepEqual(p.eagerFor('s'), ['p0']);
});
