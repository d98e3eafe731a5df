/**
 * HyParView membership on hand-built scenarios, driven by the deterministic test driver (no
 * sockets, virtual time).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Overlay } from '../src/overlay/index.js';
import type { OverlayAction } from '../src/overlay/index.js';
import { TestNet, testSigner, testVerifier } from './helpers/overlay-driver.js';

/** Active views must be symmetric: A has B iff B has A. */
function assertSymmetric(net: TestNet): void {
  for (const [id, node] of net.nodes) {
    if (net.down.has(id)) continue;
    for (const peer of node.stats().active) {
      if (net.down.has(peer)) continue;
      assert.ok(net.node(peer).stats().active.includes(id), `${id} has ${peer} active but not the reverse`);
    }
  }
}

test('a join makes contact and newcomer neighbours; the newcomer learns the contact view', () => {
  const net = new TestNet({ maxPeers: 3 });
  for (const id of ['a', 'b', 'c']) net.add(id);
  net.join('b', 'a');
  net.run(10);
  net.join('c', 'a');
  net.run(20);
  assert.deepEqual(net.node('a').stats().active.sort(), ['b', 'c']);
  // c joined through a; a forwarded the join to b, whose view had room: full mesh at once.
  assert.deepEqual(net.node('c').stats().active.sort(), ['a', 'b']);
  assertSymmetric(net);
});

test('while N <= maxPeers + 1 the overlay converges to the full mesh', () => {
  const maxPeers = 5;
  const net = new TestNet({ maxPeers });
  const ids = ['n0', 'n1', 'n2', 'n3', 'n4', 'n5'];
  for (const id of ids) net.add(id);
  // Each joins through a random earlier node, as users would.
  for (let i = 1; i < ids.length; i++) {
    net.join(ids[i]!, ids[(i * 7) % i]!);
    net.run(net.now + 3);
  }
  net.run(net.now + 5000);
  for (const id of ids) {
    assert.equal(net.node(id).stats().active.length, maxPeers, `${id}: ${net.node(id).stats().active}`);
  }
  assertSymmetric(net);
});

test('a full contact still accepts a join: it forwards it and evicts to make room', () => {
  const net = new TestNet({ maxPeers: 2 });
  for (const id of ['a', 'b', 'c', 'd']) net.add(id);
  net.join('b', 'a');
  net.run(5);
  net.join('c', 'a');
  net.run(10);
  assert.equal(net.node('a').stats().active.length, 2); // a is full
  net.join('d', 'a');
  net.run(3000);
  const d = net.node('d').stats();
  assert.ok(d.active.length >= 1, 'd got at least one neighbour');
  for (const [id, node] of net.nodes) assert.ok(node.stats().active.length <= 2, `${id} over maxPeers`);
  assertSymmetric(net);
  // Nobody is left alone, and the evicted peer kept a as a backup.
  for (const [id, node] of net.nodes) assert.ok(node.stats().active.length >= 1, `${id} isolated`);
});

test('a dead neighbour is replaced from the passive view at once', () => {
  const net = new TestNet({ maxPeers: 2 });
  for (const id of ['a', 'b', 'c', 'd', 'e']) net.add(id);
  for (const id of ['b', 'c', 'd', 'e']) {
    net.join(id, 'a');
    net.run(net.now + 5);
  }
  net.run(net.now + 5000);
  const victim = net.node('a').stats().active[0]!;
  const before = net.node('a').stats();
  assert.ok(before.passive.length > 0, 'a has backups');
  net.kill(victim);
  // Right after the peer-down, a has asked a passive peer (before any tick).
  const afterDown = net.node('a').stats();
  assert.ok(!afterDown.active.includes(victim));
  assert.equal(afterDown.pending.length + afterDown.active.length, 2, 'replacement requested at once');
  net.run(net.now + 10);
  assert.equal(net.node('a').stats().active.length, 2);
  assertSymmetric(net);
});

test('a low-priority NEIGHBOR to a full node is refused with DISCONNECT; high priority is not', () => {
  const mk = (id: string): Overlay =>
    new Overlay({
      self: { id, address: `${id}.test:1` },
      signer: testSigner,
      verifier: testVerifier,
      maxPeers: 1,
    });
  const full = mk('full');
  const out: OverlayAction[] = [];
  full.handle(
    { type: 'message', from: 'x', message: { type: 'neighbor', high: false, address: 'x.test:1' } },
    0,
    out,
  );
  assert.deepEqual(full.stats().active, ['x']);
  out.length = 0;
  full.handle(
    { type: 'message', from: 'y', message: { type: 'neighbor', high: false, address: 'y.test:1' } },
    0,
    out,
  );
  assert.deepEqual(full.stats().active, ['x']);
  assert.ok(
    out.some((a) => a.type === 'send' && a.to === 'y' && a.message.type === 'disconnect' && a.message.alive),
  );
  assert.ok(full.stats().passive.includes('y'), 'the refused peer is kept as a backup');
  out.length = 0;
  full.handle(
    { type: 'message', from: 'z', message: { type: 'neighbor', high: true, address: 'z.test:1' } },
    0,
    out,
  );
  assert.deepEqual(full.stats().active, ['z']);
  assert.ok(out.some((a) => a.type === 'send' && a.to === 'x' && a.message.type === 'disconnect'));
  assert.ok(out.some((a) => a.type === 'neighbor-down' && a.peer === 'x'));
});

test('FORWARD_JOIN walks: a full node forwards, records the newcomer in its passive view at PRWL', () => {
  const node = new Overlay({
    self: { id: 'm', address: 'm.test:1' },
    signer: testSigner,
    verifier: testVerifier,
    maxPeers: 2,
    activeWalkLength: 4,
    passiveWalkLength: 3,
  });
  const out: OverlayAction[] = [];
  for (const p of ['p', 'q']) {
    node.handle(
      { type: 'message', from: p, message: { type: 'neighbor', high: true, address: `${p}.test:1` } },
      0,
      out,
    );
  }
  out.length = 0;
  const newcomer = { id: 'new', address: 'new.test:1' };
  node.handle(
    { type: 'message', from: 'p', message: { type: 'forward-join', peer: newcomer, ttl: 3 } },
    0,
    out,
  );
  assert.ok(node.stats().passive.includes('new'), 'kept as a backup at ttl = PRWL');
  const fwd = out.find((a) => a.type === 'send' && a.message.type === 'forward-join');
  assert.ok(fwd && fwd.type === 'send' && fwd.to === 'q', 'forwarded to a neighbour other than the sender');
  assert.equal(fwd.message.type === 'forward-join' && fwd.message.ttl, 2);
  out.length = 0;
  node.handle(
    { type: 'message', from: 'p', message: { type: 'forward-join', peer: newcomer, ttl: 0 } },
    0,
    out,
  );
  assert.ok(node.stats().active.includes('new'), 'the walk ends here at ttl 0');
});

test('shuffles spread passive entries; a leaving node is dropped from backups', () => {
  const net = new TestNet({ maxPeers: 2, shuffleIntervalMs: 500 });
  const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
  for (const id of ids) net.add(id);
  for (let i = 1; i < ids.length; i++) {
    net.join(ids[i]!, 'a');
    net.run(net.now + 5);
  }
  net.run(net.now + 10_000);
  const known = (id: string): number => {
    const s = net.node(id).stats();
    return new Set([...s.active, ...s.passive]).size;
  };
  for (const id of ids) assert.ok(known(id) >= 3, `${id} knows ${known(id)} peers`);
  const out: OverlayAction[] = [];
  const leaver = net.node('f');
  const neighbours = leaver.stats().active;
  leaver.leave(out);
  net.perform('f', out);
  net.run(net.now + 10);
  for (const n of neighbours) {
    const s = net.node(n).stats();
    assert.ok(!s.active.includes('f') && !s.passive.includes('f'), `${n} forgot f`);
  }
});

test('two halves that healed separately merge through one re-join', () => {
  const net = new TestNet({ maxPeers: 3 });
  const left = ['l0', 'l1', 'l2', 'l3', 'l4', 'l5'];
  const right = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'];
  for (const id of [...left, ...right]) net.add(id);
  for (const half of [left, right]) {
    for (const id of half.slice(1)) {
      net.join(id, half[0]!);
      net.run(net.now + 5);
    }
  }
  net.run(net.now + 5000);
  const reach = (from: string): Set<string> => {
    const seen = new Set([from]);
    const stack = [from];
    while (stack.length > 0) {
      for (const p of net.node(stack.pop()!).stats().active) {
        if (!seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return seen;
  };
  assert.equal(reach('l0').size, 6, 'two separate halves');
  net.join('l3', 'r2'); // the node's periodic re-join through a known address
  net.run(net.now + 5000);
  assert.equal(reach('l0').size, 12, 'one overlay again');
  assertSymmetric(net);
});
