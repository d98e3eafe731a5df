/**
 * Who hears of a message by IHAVE (sans-IO, one Plumtree core with hand-made neighbours): at
 * most `lazyFanout` lazy neighbours per message, every eager one, and a quiet sender's newest
 * message re-announced to every neighbour once, a whole tick after it stopped changing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import { resolveOverlayOptions } from '../src/overlay/index.js';
import type { GossipMessage, OverlayAction, OverlayOptions, PeerInfo } from '../src/overlay/index.js';
import { Plumtree } from '../src/overlay/plumtree.js';
import { checksum, seeded, testSigner, testVerifier } from './helpers/overlay-driver.js';

const PEERS: PeerInfo[] = Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, address: `p${i}` }));

function core(options: Partial<OverlayOptions> = {}): Plumtree {
  const o = resolveOverlayOptions({
    self: { id: 'me', address: 'me' },
    signer: testSigner,
    verifier: testVerifier,
    random: seeded(5),
    ...options,
  });
  const ids = new Set(PEERS.map((p) => p.id));
  return new Plumtree(o, { isNeighbor: (id) => ids.has(id), neighborIds: () => PEERS.map((p) => p.id) });
}

function gossip(sender: string, seq: number): GossipMessage {
  const fields = { sender, epoch: 0, seq, kind: 1, payload: new Uint8Array([seq]) };
  return { type: 'gossip', ...fields, hops: 1, signature: checksum(fields) };
}

/** IHAVE entries sent by `flushIHave`, per neighbour: "sender:seq" lists. */
function flush(p: Plumtree): Map<string, string[]> {
  const out: OverlayAction[] = [];
  p.flushIHave(out);
  const sent = new Map<string, string[]>();
  for (const a of out) {
    if (a.type !== 'send' || a.message.type !== 'ihave') continue;
    sent.set(a.to, [...(sent.get(a.to) ?? []), ...a.message.entries.map((e) => `${e.sender}:${e.seq}`)]);
  }
  return sent;
}

/** A core that got message 1 of `s` from p0 and whose other neighbours all pruned it. */
function prunedByAll(options: Partial<OverlayOptions> = {}): Plumtree {
  const p = core(options);
  p.onGossip('p0', gossip('s', 1), 0, []);
  flush(p);
  for (const peer of PEERS.slice(1)) p.onPrune(peer.id, 's');
  return p;
}

test('a message is announced to lazyFanout of its lazy neighbours, picked at random', () => {
  const p = prunedByAll();
  const out: OverlayAction[] = [];
  for (let seq = 2; seq <= 41; seq++) p.onGossip('p0', gossip('s', seq), seq, out);
  assert.equal(out.filter((a) => a.type === 'send').length, 0, 'no payload: every other link is lazy');
  const sent = flush(p);
  assert.ok(!sent.has('p0'), 'never back to where it came from');
  // Each of the 40 messages went to exactly three of the nine lazy neighbours...
  const perMessage = new Map<string, number>();
  for (const entries of sent.values()) {
    for (const e of entries) perMessage.set(e, (perMessage.get(e) ?? 0) + 1);
  }
  assert.equal(perMessage.size, 40);
  for (const [e, n] of perMessage) assert.equal(n, 3, `${e} announced to ${n}`);
  // ...and not always the same three: every lazy neighbour hears of some.
  assert.equal(sent.size, 9);
});

test('lazyFanout 9 announces to every lazy neighbour (the paper), 0 to none; eager ones always hear', () => {
  const all = prunedByAll({ lazyFanout: 9 });
  all.onGossip('p0', gossip('s', 2), 1, []);
  assert.deepEqual(
    [...flush(all).keys()].sort(),
    PEERS.slice(1).map((p) => p.id),
  );

  const none = prunedByAll({ lazyFanout: 0 });
  none.onGossip('p0', gossip('s', 2), 1, []);
  assert.equal(flush(none).size, 0);

  // p3 grafts (eager again): with fanout 0 it is still announced to, since it is eager.
  none.onGraft('p3', [{ sender: 's', epoch: 0, seq: 0 }], 2, []);
  none.onGossip('p0', gossip('s', 3), 3, []);
  assert.deepEqual([...flush(none).keys()], ['p3']);
});

test('lazyFanout is validated', () => {
  for (const bad of [-1, 1.5, Number.NaN]) {
    assert.throws(
      () => core({ lazyFanout: bad }),
      (e: unknown) =>
        e instanceof MeshwireError && e.code === 'ERR_INVALID_OPTION' && /lazyFanout/.test(e.message),
    );
  }
});

test("a quiet sender's newest message is re-announced, once, a tick after it stopped changing", () => {
  const p = prunedByAll({ lazyFanout: 9, tickMs: 1000 });
  p.onGossip('p0', gossip('s', 2), 100, []);
  assert.equal(flush(p).size, 9, 'announced as it arrived');
  p.tick(1000, []);
  assert.equal(flush(p).size, 0, 'still the newest seen by the previous tick? no: first tick to see it');
  p.tick(2000, []);
  const again = flush(p);
  assert.deepEqual(
    [...again.keys()].sort(),
    PEERS.slice(1).map((x) => x.id),
    'every neighbour but the one it came from',
  );
  for (const entries of again.values()) assert.deepEqual(entries, ['s:2']);
  p.tick(3000, []);
  assert.equal(flush(p).size, 0, 'once');
});

test('a sender that keeps speaking is not re-announced (its next message reveals any gap)', () => {
  const p = prunedByAll({ tickMs: 1000 });
  for (let t = 1; t <= 5; t++) {
    p.onGossip('p0', gossip('s', t + 1), t * 1000 - 500, []);
    flush(p);
    p.tick(t * 1000, []);
    assert.equal(flush(p).size, 0, `tick ${t}`);
  }
  // It falls silent: message 6 is re-announced a tick after the first tick that saw it, to
  // every neighbour but the one it came from, eager or lazy alike.
  p.tick(6000, []);
  const again = flush(p);
  assert.equal(again.size, 9);
  assert.ok(!again.has('p0'), 'not to where it came from');
  for (const entries of again.values()) assert.deepEqual(entries, ['s:6']);
});
