/**
 * Repair paths of the broadcast layer on hand-built scenarios (no sockets, virtual time): a node
 * that links to a new neighbour after the one re-announcement of a sender's last message must
 * still end up with it (issue 13, "one lost message in 50 runs").
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestNet } from './helpers/overlay-driver.js';

const count = (net: TestNet, type: string, from?: string): number =>
  net.sent.filter((s) => s.message.type === type && (from === undefined || s.from === from)).length;

test('a node that links to a holder after the re-announcement tick still gets the last message', () => {
  const net = new TestNet({ maxPeers: 2, ihaveIntervalMs: 10, graftTimeoutMs: 50 });
  for (const id of ['s', 'a', 'b']) net.add(id);
  net.join('a', 's');
  net.run(net.now + 100);
  net.broadcast('s', 'last');
  // Past the tick that re-announces it (and its IHAVE batch): nothing will announce it again.
  net.run(net.now + 2500);
  assert.deepEqual(net.texts('a'), ['s:last']);
  net.join('b', 'a');
  net.run(net.now + 3000);
  assert.ok(net.node('b').stats().active.includes('a'), 'b linked to a');
  assert.deepEqual(net.texts('b'), ['s:last'], 'b heard of the message from its new neighbour');
  assert.deepEqual(net.reports.get('b'), [], 'nothing to report: the order starts at 1');
});

test('a neighbour that lost a message while it had no link to any holder gets it on relinking', () => {
  const net = new TestNet({ maxPeers: 2, ihaveIntervalMs: 10, graftTimeoutMs: 50 });
  for (const id of ['s', 'a', 'b']) net.add(id);
  net.join('a', 's');
  net.run(net.now + 100);
  net.join('b', 'a');
  net.run(net.now + 100);
  net.broadcast('s', 'one');
  net.run(net.now + 2500);
  for (const id of ['a', 'b']) assert.deepEqual(net.texts(id), ['s:one'], id);
  // Every frame to b is lost for a while (its links break, as a lost TCP connection would).
  net.filter = (_from, to) => (to === 'b' ? 'drop' : 'deliver');
  net.broadcast('s', 'two');
  net.run(net.now + 2500);
  assert.deepEqual(net.texts('b'), ['s:one']);
  // b's links go down and come back: the new link must tell it about message 2.
  net.filter = () => 'deliver';
  for (const peer of net.node('b').stats().active) {
    net.event('b', { type: 'peer-down', peer });
    net.event(peer, { type: 'peer-down', peer: 'b' });
  }
  net.join('b', 'a');
  net.run(net.now + 3000);
  assert.deepEqual(net.texts('b'), ['s:one', 's:two']);
  assert.deepEqual(
    net.reports.get('b')!.filter((r) => r.kind !== 'join-failed'),
    [],
    'no gap: the message was repaired',
  );
});

test('a new link announces what the other side already has without any payload or GRAFT', () => {
  const net = new TestNet({ maxPeers: 3, ihaveIntervalMs: 10, graftTimeoutMs: 50 });
  const ids = ['s', 'a', 'b', 'c'];
  for (const id of ids) net.add(id);
  for (const id of ids.slice(1)) {
    net.join(id, 's');
    net.run(net.now + 10);
  }
  net.run(net.now + 2000);
  net.broadcast('s', 'x');
  net.run(net.now + 2500);
  const grafts = count(net, 'graft');
  const payloads = count(net, 'gossip');
  const ihaves = count(net, 'ihave');
  // c leaves and rejoins through a: every node already has the message.
  for (const peer of net.node('c').stats().active) {
    net.event('c', { type: 'peer-down', peer });
    net.event(peer, { type: 'peer-down', peer: 'c' });
  }
  net.join('c', 'a');
  net.run(net.now + 3000);
  assert.ok(count(net, 'ihave') > ihaves, 'the new links carried an IHAVE');
  assert.equal(count(net, 'graft'), grafts, 'nobody grafted what it had');
  assert.equal(count(net, 'gossip'), payloads, 'no payload was sent again');
  for (const id of ids.slice(1)) assert.deepEqual(net.texts(id), ['s:x'], id);
});

test('a newcomer catches up on the recent messages of each sender, in order, from its first neighbour', () => {
  const net = new TestNet({ maxPeers: 2, ihaveIntervalMs: 10, graftTimeoutMs: 50 });
  for (const id of ['s', 'a', 'b']) net.add(id);
  net.join('a', 's');
  net.run(net.now + 100);
  for (let i = 1; i <= 5; i++) {
    net.broadcast('s', `m${i}`);
    net.run(net.now + 20);
  }
  net.run(net.now + 2500);
  net.join('b', 'a');
  net.run(net.now + 3000);
  // Told of message 5, b grafts it and, while its order is not fixed yet, the ones before it.
  assert.deepEqual(net.texts('b'), ['s:m1', 's:m2', 's:m3', 's:m4', 's:m5']);
  assert.deepEqual(net.reports.get('b'), []);
});
