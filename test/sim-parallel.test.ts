/**
 * The parallel simulator engine (`simulate({ threads: 2 })`): determinism per thread count and
 * the single-threaded tests' targets at small sizes, with the nodes split between two worker
 * threads that swap their cross-partition events every latency[0] ms of virtual time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import { simulate } from '../scripts/sim/simulation.js';
import type { SimOptions, SimResult } from '../scripts/sim/simulation.js';
import { CrossWriter, readBatch } from '../scripts/sim/cross-codec.js';
import { PayloadIntern } from '../scripts/sim/payload-intern.js';
import type { GossipMessage, OverlayMessage } from '../src/overlay/index.js';
import { assertSettledTargets } from './helpers/sim-targets.js';

/** The result without the fields that depend on the machine. */
function stable(r: SimResult): Omit<SimResult, 'wall_s' | 'cpu_s' | 'rss_mb' | 'waited_s'> {
  const { wall_s: _w, cpu_s: _c, rss_mb: _r, waited_s: _ws, ...rest } = r;
  return rest;
}

const base: SimOptions = {
  nodes: 150,
  messages: 300,
  senders: 15,
  warmupMs: 3000,
  settleMs: 4000,
  threads: 2,
};

test('threads 2: same seed, same output; another seed, another run', { timeout: 60_000 }, async () => {
  const opts: SimOptions = { ...base, nodes: 80, messages: 100, seed: 7, kill: 0.2, loss: 0.05 };
  const [a, b, c] = await Promise.all([simulate(opts), simulate(opts), simulate({ ...opts, seed: 8 })]);
  assert.equal(a.threads, 2);
  assert.ok(a.events > 10_000, `events ${a.events}`);
  assert.deepEqual(stable(a), stable(b));
  assert.notDeepEqual(stable(a), stable(c));
});

test(
  'threads 2: every message to every node exactly once, in order; settled trees',
  { timeout: 60_000 },
  async () => {
    const records: Record<string, unknown>[] = [];
    const r = await simulate({ ...base, seed: 1, progress: (x) => records.push(x) });
    assertSettledTargets(r);
    assert.equal(r.size_estimate.actual, 150);
    assert.ok(records.some((x) => x.event === 'joined'));
  },
);

test(
  'threads 2, 20% killed: delivery after the kill and one component within 2 s',
  { timeout: 60_000 },
  async () => {
    const records: Record<string, unknown>[] = [];
    const r = await simulate({ ...base, nodes: 300, kill: 0.2, seed: 3, progress: (x) => records.push(x) });
    assert.equal(r.killed, 60);
    assert.equal(r.size_estimate.actual, 240);
    assert.ok(r.delivered_after_kill >= 0.999, `delivered after kill ${r.delivered_after_kill}`);
    assert.equal(r.components_2s, 1);
    assert.equal(r.components, 1);
    assert.notEqual(r.repair_ms, null);
    assert.equal(r.duplicates, 0);
    assert.equal(r.order_violations, 0);
    assert.ok(records.some((x) => x.event === 'kill' && x.killed === 60 && typeof x.t === 'number'));
  },
);

test(
  'threads 2, 10% of frames lost: everything is still delivered, in order',
  { timeout: 60_000 },
  async () => {
    const r = await simulate({ ...base, loss: 0.1, seed: 5 });
    assert.ok(r.frames_lost > 0);
    assert.equal(r.delivered, 1);
    assert.equal(r.duplicates, 0);
    assert.equal(r.order_violations, 0);
  },
);

test('threads 3 runs too (three partitions, every pair exchanging)', { timeout: 60_000 }, async () => {
  const r = await simulate({ ...base, nodes: 90, messages: 100, threads: 3, seed: 2 });
  assert.equal(r.threads, 3);
  assert.equal(r.delivered, 1);
  assert.equal(r.duplicates, 0);
  assert.equal(r.components, 1);
});

test('invalid combinations throw ERR_INVALID_OPTION naming the option', async () => {
  const bad = async (o: Partial<SimOptions>, pattern: RegExp): Promise<void> => {
    await assert.rejects(simulate({ ...base, ...o }), (err: unknown) => {
      assert.ok(err instanceof MeshwireError);
      assert.equal(err.code, 'ERR_INVALID_OPTION');
      assert.match(err.message, pattern);
      return true;
    });
  };
  await bad({ latency: [0, 10] }, /latency\[0\] > 0/);
  await bad({ inspect: () => {} }, /inspect/);
  await bad({ onReport: () => {} }, /onReport/);
  await bad({ threads: 1.5 }, /threads/);
  await bad({ threads: 0 }, /threads/);
  await bad({ partition: 'stripes' as 'range' }, /partition/);
});

test('a worker that fails rejects the run instead of hanging it', { timeout: 30_000 }, async () => {
  await assert.rejects(simulate({ ...base, nodes: 20, messages: 5, overlay: { maxPeers: 0 } }), /maxPeers/);
});

test('cross-partition codec: a decoded message has the original fields and values, canonical IDs', () => {
  const ids = Array.from({ length: 20 }, (_, i) => `n${i}`);
  const msgs: OverlayMessage[] = [
    {
      type: 'gossip',
      sender: 'n3',
      epoch: 2,
      seq: 9,
      kind: 1,
      payload: Uint8Array.of(1, 2, 3),
      hops: 4,
      signature: Uint8Array.of(9, 8, 7, 6),
    },
    { type: 'ihave', entries: [{ sender: 'n5', epoch: 0, seq: 3, hops: 2 }] },
    { type: 'graft', ids: [{ sender: 'n7', epoch: 0, seq: 1 }] },
    { type: 'prune', sender: 'n11' },
    { type: 'forward-join', peer: { id: 'n4', address: 'n4' }, ttl: 3 },
    { type: 'shuffle-reply', walk: 5, peers: [{ id: 'n6', address: 'n6' }], sketch: [{ hash: 77, age: 1 }] },
    // Not a simulator ID, or an epoch beyond 32 bits: the clone path, unchanged.
    { type: 'prune', sender: 'peer-x' },
    { type: 'graft', ids: [{ sender: 'n1', epoch: 2 ** 40, seq: 1 }] },
  ];
  const w = new CrossWriter(ids.length);
  msgs.forEach((m, x) => w.add(100 + x, 0, x, 19, m));
  w.add(200, 2, 1, 2, null);
  w.add(201, 0, 5, 19, msgs[0]!); // the same payload object to a second node
  const batch = structuredClone(w.take());
  assert.equal(batch.spare, null);
  const got: [number, number, number, number, OverlayMessage | null][] = [];
  const intern = new PayloadIntern();
  readBatch(batch, ids, (...e) => got.push(e), intern);
  assert.equal(got.length, msgs.length + 2);
  msgs.forEach((m, x) => {
    assert.deepEqual(got[x], [100 + x, 0, x, 19, m]);
  });
  assert.deepEqual(got[msgs.length], [200, 2, 1, 2, null]);
  // One object sent to two nodes is decoded once: both get the same object, as in one thread.
  assert.equal(got[msgs.length + 1]![4], got[0]![4]);
  // Another copy of that broadcast (another hop count) shares its payload and signature; one
  // whose bytes differ does not.
  const g0 = msgs[0] as GossipMessage;
  const w2 = new CrossWriter(ids.length);
  w2.add(300, 0, 6, 19, { ...g0, hops: 5 });
  w2.add(301, 0, 7, 19, { ...g0, payload: Uint8Array.of(1, 2, 4) });
  const again: GossipMessage[] = [];
  readBatch(structuredClone(w2.take()), ids, (...e) => again.push(e[4] as GossipMessage), intern);
  const first = got[0]![4] as GossipMessage;
  assert.equal(again[0]!.payload, first.payload);
  assert.equal(again[0]!.signature, first.signature);
  assert.equal(again[0]!.hops, 5);
  assert.notEqual(again[1]!.payload, first.payload);
  assert.deepEqual(again[1]!.payload, Uint8Array.of(1, 2, 4));
  // IDs come back as the worker's strings for those nodes.
  const g = got[0]![4] as { sender: string };
  assert.equal(g.sender, ids[3]);
  const fj = got[4]![4] as { peer: { id: string } };
  assert.equal(fj.peer.id, ids[4]);
});
