/**
 * Plumtree broadcast, per-sender order and the limits, on hand-built scenarios with the
 * deterministic test driver (no sockets, virtual time).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import { Overlay } from '../src/overlay/index.js';
import type { GossipMessage, OverlayAction, OverlayReport } from '../src/overlay/index.js';
import { TestNet, checksum, testSigner, testVerifier } from './helpers/overlay-driver.js';

/** A connected overlay of `ids` (each joins through the first), settled. */
function mesh(
  ids: string[],
  maxPeers: number,
  extra: ConstructorParameters<typeof TestNet>[0] = {},
): TestNet {
  const net = new TestNet({ maxPeers, ...extra });
  for (const id of ids) net.add(id);
  for (const id of ids.slice(1)) {
    net.join(id, ids[0]!);
    net.run(net.now + 5);
  }
  net.run(net.now + 5000);
  return net;
}

function gossip(sender: string, seq: number, text: string, hops = 1): GossipMessage {
  const fields = { sender, epoch: 0, seq, kind: 0, payload: new TextEncoder().encode(text) };
  return { type: 'gossip', ...fields, hops, signature: checksum(fields) };
}

function lone(options: Partial<ConstructorParameters<typeof Overlay>[0]> = {}): Overlay {
  return new Overlay({
    self: { id: 'me', address: 'me.test:1' },
    signer: testSigner,
    verifier: testVerifier,
    ...options,
  });
}

const reportsOf = (out: OverlayAction[]): OverlayReport[] =>
  out.flatMap((a) => (a.type === 'report' ? [a.report] : []));
const delivered = (out: OverlayAction[]): string[] =>
  out.flatMap((a) => (a.type === 'deliver' ? [`${a.message.sender}#${a.message.seq}`] : []));

test('a broadcast reaches every node of a sparse overlay exactly once; duplicates prune the tree', () => {
  const ids = Array.from({ length: 12 }, (_, i) => `n${i}`);
  const net = mesh(ids, 3);
  net.broadcast('n5', 'first');
  net.run(net.now + 2000);
  for (const id of ids) if (id !== 'n5') assert.deepEqual(net.texts(id), ['n5:first'], id);
  // The first one floods; the duplicates prune the tree, mostly without a PRUNE frame (both
  // ends of a link that carried the payload both ways see a duplicate and prune on their own).
  const flooded = net.sent.filter((s) => s.message.type === 'gossip').length;
  const prunes = net.sent.filter((s) => s.message.type === 'prune').length;
  assert.ok(flooded > ids.length - 1, 'the first broadcast flooded');
  assert.ok(prunes < flooded - (ids.length - 1), `${prunes} PRUNEs for ${flooded} payloads`);
  // The second one follows the tree: one payload per receiver, no duplicates.
  const before = net.sent.filter((s) => s.message.type === 'gossip').length;
  net.broadcast('n5', 'second');
  net.run(net.now + 2000);
  const payloads = net.sent.filter((s) => s.message.type === 'gossip').length - before;
  assert.equal(payloads, ids.length - 1, 'exactly one payload per receiver once the tree settled');
  for (const id of ids) if (id !== 'n5') assert.deepEqual(net.texts(id), ['n5:first', 'n5:second'], id);
});

test('a payload lost on the tree is pulled with GRAFT after an IHAVE', () => {
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  const net = mesh(ids, 3, { graftTimeoutMs: 100, ihaveIntervalMs: 10 });
  net.broadcast('a', 'settle');
  net.run(net.now + 2000);
  // Drop every payload sent to f: it can only get the next one by grafting.
  net.filter = (_from, to, m) =>
    to === 'f' && m.type === 'gossip' && m.seq === 2 && !grafted ? 'drop' : 'deliver';
  let grafted = false;
  const base = net.filter;
  net.filter = (from, to, m) => {
    if (m.type === 'graft' && from === 'f') grafted = true;
    return base(from, to, m);
  };
  net.broadcast('a', 'lost');
  net.run(net.now + 3000);
  assert.ok(grafted, 'f sent a GRAFT');
  assert.deepEqual(net.texts('f'), ['a:settle', 'a:lost']);
});

test('a forged or altered broadcast is dropped, reported, and does not shadow the real one', () => {
  const node = lone();
  const out: OverlayAction[] = [];
  node.handle(
    { type: 'message', from: 'relay', message: { type: 'neighbor', high: true, address: '' } },
    0,
    out,
  );
  const real = gossip('origin', 1, 'hello');
  const altered: GossipMessage = { ...real, payload: new TextEncoder().encode('HELLO') };
  out.length = 0;
  node.handle({ type: 'message', from: 'relay', message: altered }, 1, out);
  assert.deepEqual(delivered(out), []);
  assert.deepEqual(
    reportsOf(out).map((r) => r.kind),
    ['bad-signature'],
  );
  out.length = 0;
  node.handle({ type: 'message', from: 'relay', message: real }, 2, out);
  assert.deepEqual(delivered(out), ['origin#1'], 'the genuine copy still gets through');
});

test('in order per sender: early messages are held back, a gap is skipped after gapTimeoutMs and reported', () => {
  const node = lone({ gapTimeoutMs: 1000 });
  const out: OverlayAction[] = [];
  const feed = (m: GossipMessage, now: number): void =>
    node.handle({ type: 'message', from: 'p', message: m }, now, out);
  feed(gossip('s', 1, 'one'), 0);
  feed(gossip('s', 3, 'three'), 1);
  feed(gossip('s', 2, 'two'), 2);
  assert.deepEqual(delivered(out), ['s#1', 's#2', 's#3']);
  out.length = 0;
  feed(gossip('s', 5, 'five'), 3);
  feed(gossip('s', 5, 'five'), 4); // a duplicate of a held message is not delivered twice
  assert.deepEqual(delivered(out), []);
  const timer = out.find((a) => a.type === 'timer' && a.timer.kind === 'gap');
  assert.ok(timer && timer.type === 'timer');
  node.handle({ type: 'timer', timer: timer.timer }, timer.at, out);
  assert.deepEqual(delivered(out), ['s#5']);
  const gap = reportsOf(out).find((r) => r.kind === 'gap');
  assert.deepEqual(gap, { kind: 'gap', sender: 's', epoch: 0, first: 4, last: 4, reason: 'timeout' });
  out.length = 0;
  feed(gossip('s', 4, 'four'), 2000);
  assert.deepEqual(delivered(out), [], 'never out of order');
  assert.deepEqual(reportsOf(out), [
    { kind: 'late', from: 'p', id: { sender: 's', epoch: 0, seq: 4 }, reason: 'skipped' },
  ]);
});

test('hold-back overflow skips the gap at once (reported) instead of buffering without bound', () => {
  const node = lone({ maxHoldBack: 3 });
  const out: OverlayAction[] = [];
  const feed = (seq: number): void =>
    node.handle({ type: 'message', from: 'p', message: gossip('s', seq, `m${seq}`) }, seq, out);
  feed(1);
  for (const seq of [5, 6, 7]) feed(seq);
  assert.deepEqual(delivered(out), ['s#1']);
  feed(8); // a fourth held message overflows
  assert.deepEqual(delivered(out), ['s#1', 's#5', 's#6', 's#7', 's#8']);
  const gap = reportsOf(out).find((r) => r.kind === 'gap');
  assert.deepEqual(gap, { kind: 'gap', sender: 's', epoch: 0, first: 2, last: 4, reason: 'overflow' });
});

test('a restarted sender (higher epoch) starts a new order; an older epoch is late', () => {
  const node = lone();
  const out: OverlayAction[] = [];
  const m = (epoch: number, seq: number): GossipMessage => {
    const f = { sender: 's', epoch, seq, kind: 0, payload: new Uint8Array([seq]) };
    return { type: 'gossip', ...f, hops: 1, signature: checksum(f) };
  };
  for (const msg of [m(1, 1), m(1, 2), m(2, 1), m(1, 3)]) {
    node.handle({ type: 'message', from: 'p', message: msg }, 0, out);
  }
  assert.deepEqual(delivered(out), ['s#1', 's#2', 's#1']);
  assert.deepEqual(
    reportsOf(out).map((r) => (r.kind === 'late' ? r.reason : r.kind)),
    ['old-epoch'],
  );
});

test('hop limit, per-peer and per-sender rate limits drop and report', () => {
  const node = lone({
    maxHops: 4,
    peerRate: { perSecond: 1, burst: 4 },
    originRate: { perSecond: 1, burst: 2 },
  });
  const out: OverlayAction[] = [];
  node.handle({ type: 'message', from: 'p', message: { type: 'neighbor', high: true, address: '' } }, 0, out);
  node.handle({ type: 'message', from: 'q', message: { type: 'neighbor', high: true, address: '' } }, 0, out);
  out.length = 0;
  node.handle({ type: 'message', from: 'p', message: gossip('s', 1, 'x', 5) }, 0, out);
  assert.deepEqual(
    reportsOf(out).map((r) => r.kind),
    ['hop-limit'],
  );
  out.length = 0;
  // Origin limit: s may relay 2 at once; the third is delivered here but not relayed.
  for (let seq = 1; seq <= 3; seq++)
    node.handle({ type: 'message', from: 'p', message: gossip('s', seq, 'x') }, 0, out);
  assert.deepEqual(delivered(out), ['s#1', 's#2', 's#3']);
  const relayed = out.filter((a) => a.type === 'send' && a.message.type === 'gossip' && a.to === 'q').length;
  assert.equal(relayed, 2);
  assert.deepEqual(
    reportsOf(out).map((r) => (r.kind === 'rate-limited' ? r.scope : r.kind)),
    ['origin'],
  );
  out.length = 0;
  // Peer limit: p has used its burst of 4 (one hop-limited, three above); the next is refused.
  node.handle({ type: 'message', from: 'p', message: gossip('t', 1, 'y') }, 0, out);
  assert.deepEqual(delivered(out), []);
  assert.deepEqual(
    reportsOf(out).map((r) => (r.kind === 'rate-limited' ? r.scope : r.kind)),
    ['peer'],
  );
  // Other neighbours are not affected.
  out.length = 0;
  node.handle({ type: 'message', from: 'q', message: gossip('t', 1, 'y') }, 0, out);
  assert.deepEqual(delivered(out), ['t#1']);
});

test('own broadcasts beyond originRate throw ERR_RATE_LIMITED; bad options throw ERR_INVALID_OPTION', () => {
  const node = lone({ originRate: { perSecond: 1, burst: 2 } });
  const out: OverlayAction[] = [];
  node.broadcast(0, new Uint8Array(1), 0, out);
  node.broadcast(0, new Uint8Array(1), 0, out);
  assert.throws(
    () => node.broadcast(0, new Uint8Array(1), 0, out),
    (e: unknown) => e instanceof MeshwireError && e.code === 'ERR_RATE_LIMITED',
  );
  node.broadcast(0, new Uint8Array(1), 1000, out); // refilled a second later
  for (const [name, value] of [
    ['maxPeers', 0],
    ['passiveViewSize', 1.5],
    ['graftTimeoutMs', -1],
    ['maxHops', 300],
    ['peerRate', { perSecond: 0, burst: 1 }],
    ['mode', 'gossip'],
  ] as const) {
    assert.throws(
      () => lone({ [name]: value }),
      (e: unknown) =>
        e instanceof MeshwireError && e.code === 'ERR_INVALID_OPTION' && e.message.includes(name),
      name,
    );
  }
});

test('messages overtaking the first one of a new sender wait for it (order starts at the lowest)', () => {
  const node = lone({ graftTimeoutMs: 100, ihaveIntervalMs: 10 });
  const out: OverlayAction[] = [];
  node.handle({ type: 'message', from: 'p', message: gossip('s', 3, 'three') }, 0, out);
  node.handle({ type: 'message', from: 'p', message: gossip('s', 2, 'two') }, 50, out);
  assert.deepEqual(delivered(out), [], 'nothing before the start is fixed');
  const timer = out.find((a) => a.type === 'timer' && a.timer.kind === 'gap');
  assert.ok(timer && timer.type === 'timer');
  node.handle({ type: 'timer', timer: timer.timer }, timer.at, out);
  assert.deepEqual(delivered(out), ['s#2', 's#3']);
  // Message 1 never came: that is reported, not silently skipped.
  assert.deepEqual(reportsOf(out), [
    { kind: 'gap', sender: 's', epoch: 0, first: 1, last: 1, reason: 'start' },
  ]);
});

test('the seen/order state is bounded in size (least recently active first) and in time', () => {
  const node = lone({ maxSenders: 2, senderTtlMs: 60_000, cacheRetentionMs: 1000 });
  const out: OverlayAction[] = [];
  for (const [i, sender] of ['a', 'b', 'c'].entries()) {
    node.handle({ type: 'message', from: 'p', message: gossip(sender, 1, 'x') }, i, out);
  }
  assert.equal(node.stats().senders, 2);
  assert.deepEqual(
    reportsOf(out).filter((r) => r.kind === 'sender-evicted'),
    [{ kind: 'sender-evicted', sender: 'a' }],
  );
  node.handle({ type: 'timer', timer: { kind: 'tick' } }, 30_000, out);
  assert.equal(node.stats().senders, 2, 'not idle long enough');
  node.handle({ type: 'timer', timer: { kind: 'tick' } }, 61_000, out);
  assert.equal(node.stats().senders, 0, 'idle senders forgotten');
  assert.throws(() => lone({ senderTtlMs: 1000 }), /senderTtlMs/);
});

test('a flooding node reaches only its neighbours beyond originRate; honest broadcasts still reach all', () => {
  const ids = Array.from({ length: 10 }, (_, i) => `n${i}`);
  const net = mesh(ids, 3, { originRate: { perSecond: 10, burst: 20 } });
  // The flooder skips its own limit (it is malicious) and hands 100 signed messages to n0.
  for (let seq = 1; seq <= 100; seq++) {
    net.event('n0', { type: 'message', from: 'flooder', message: gossip('flooder', seq, `spam${seq}`) });
  }
  net.broadcast('n7', 'honest');
  net.run(net.now + 3000);
  const spam = (id: string): number => net.texts(id).filter((t) => t.startsWith('flooder:')).length;
  assert.equal(spam('n0'), 100, 'the first node delivers what it verified');
  for (const id of ids.slice(1)) {
    assert.ok(spam(id) <= 20, `${id} got ${spam(id)} flood messages`);
    if (id !== 'n7') assert.ok(net.texts(id).includes('n7:honest'), `${id} missed the honest broadcast`);
  }
  const limited = net.reports.get('n0')!.filter((r) => r.kind === 'rate-limited' && r.scope === 'origin');
  assert.equal(limited.length, 80, 'every message not relayed is reported');
});

test('the GRAFT cache keeps at most maxCachedMessages payloads, each at most cacheRetentionMs', async () => {
  const { MessageCache } = await import('../src/overlay/message-cache.js');
  const cache = new MessageCache(40, 1000);
  for (let seq = 1; seq <= 100; seq++) cache.add(gossip('s', seq, 'x'), seq);
  assert.equal(cache.size, 40);
  assert.equal(cache.get({ sender: 's', epoch: 0, seq: 60 }, 100), undefined, 'evicted by count');
  assert.equal(cache.get({ sender: 's', epoch: 0, seq: 61 }, 100)?.seq, 61);
  assert.equal(cache.get({ sender: 't', epoch: 0, seq: 61 }, 100), undefined);
  assert.equal(cache.get({ sender: 's', epoch: 0, seq: 100 }, 1099)?.seq, 100);
  assert.equal(cache.get({ sender: 's', epoch: 0, seq: 99 }, 1100), undefined, 'expired by time');
  assert.equal(cache.size, 1);
});
