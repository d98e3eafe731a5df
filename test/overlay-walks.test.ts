/**
 * Shuffle replies retrace the walk over neighbour links (PROTOCOL.md O5) instead of opening a
 * connection to the origin: on hand-built scenarios with the deterministic test driver, and the
 * bounds of the per-node memory of walks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OverlayMessage } from '../src/overlay/index.js';
import { MAX_WALK_ROUTES, WalkRoutes } from '../src/overlay/walk-routes.js';
import { TestNet } from './helpers/overlay-driver.js';

/** A settled overlay of `n` nodes, each joining through a random earlier one. */
function overlay(n: number, maxPeers: number): { net: TestNet; ids: string[] } {
  const net = new TestNet({ maxPeers, shuffleIntervalMs: 500 });
  const ids = Array.from({ length: n }, (_, i) => `n${i}`);
  for (const id of ids) net.add(id);
  for (let i = 1; i < n; i++) {
    net.join(ids[i]!, ids[(i * 7) % i]!);
    net.run(net.now + 5);
  }
  net.run(net.now + 3000);
  return { net, ids };
}

test('shuffle replies go back along the walk, over the links the walk took, and reach the origin', () => {
  const { net, ids } = overlay(16, 3);
  // Each routed reply must go back over a hop of its walk (the connection the walk came in on),
  // or, when that hop broke, straight to the origin.
  const routed: { from: string; to: string; back: boolean; origin: boolean }[] = [];
  const origins = new Map<number, string>();
  const hops = new Set<string>();
  net.filter = (from, to, m: OverlayMessage) => {
    if (m.type === 'shuffle' && m.walk !== 0) {
      origins.set(m.walk, m.origin.id);
      hops.add(`${m.walk} ${from}>${to}`);
    }
    if (m.type === 'shuffle-reply' && m.walk !== 0) {
      routed.push({
        from,
        to,
        back: hops.has(`${m.walk} ${to}>${from}`),
        origin: origins.get(m.walk) === to,
      });
    }
    return 'deliver';
  };
  const sentBefore = net.sent.length;
  net.run(net.now + 10_000);
  const walks = origins.size;
  assert.ok(walks > 30, `${walks} walks`);
  assert.ok(routed.length > 2 * walks, 'replies took more than one hop on the way back');
  assert.deepEqual(
    routed.filter((r) => !r.back && !r.origin),
    [],
  );
  const straight = routed.filter((r) => !r.back).length;
  assert.ok(straight <= walks / 10, `${straight} of ${walks} replies needed a new connection`);
  // Every walk's reply ended at its origin: the last hop of each walk's replies.
  const lastHop = new Map<number, string>();
  for (const s of net.sent.slice(sentBefore)) {
    if (s.message.type === 'shuffle-reply' && s.message.walk !== 0) lastHop.set(s.message.walk, s.to);
  }
  let home = 0;
  for (const [walk, to] of lastHop) if (origins.get(walk) === to) home++;
  assert.ok(home >= walks - 2, `${home} of ${walks} replies came home (walks still under way at the end)`);
  for (const id of ids) assert.ok(net.node(id).stats().passive.length > 0, `${id} learned backups`);
});

test('a reply whose way back broke goes straight to the origin', () => {
  const { net } = overlay(10, 3);
  // Find a walk with at least two hops, then break the link the reply must take back.
  let broken = false;
  let origin = '';
  let walk = 0;
  net.filter = (from, to, m) => {
    if (!broken && m.type === 'shuffle' && m.walk !== 0 && m.origin.id !== from) {
      // `from` is a middle hop: it remembers where the walk came from. Cut that link now.
      const prev = net
        .node(from)
        .stats()
        .active.find((p) => p === m.origin.id);
      if (prev) {
        broken = true;
        origin = m.origin.id;
        walk = m.walk;
        net.event(from, { type: 'peer-down', peer: prev });
        net.event(prev, { type: 'peer-down', peer: from });
      }
    }
    void to;
    return 'deliver';
  };
  net.run(net.now + 10_000);
  assert.ok(broken, 'found a walk through a middle hop');
  const replies = net.sent.filter((s) => s.message.type === 'shuffle-reply' && s.message.walk === walk);
  assert.ok(
    replies.some((s) => s.to === origin),
    `the reply reached ${origin}: ${replies.map((s) => `${s.from}>${s.to}`).join(' ')}`,
  );
});

test('the memory of walks is bounded in walks, visits and time', () => {
  const routes = new WalkRoutes(1000);
  const origin = { id: 'o', address: 'o.test:1' };
  for (let w = 1; w <= MAX_WALK_ROUTES + 10; w++) routes.remember(w, `p${w}`, origin, 0);
  assert.equal(routes.size, MAX_WALK_ROUTES);
  assert.equal(routes.take(1, 0), undefined, 'the oldest walks were forgotten');
  assert.deepEqual(routes.take(MAX_WALK_ROUTES + 10, 0), { prev: `p${MAX_WALK_ROUTES + 10}`, origin });
  // A walk that passes twice is retraced in reverse order.
  routes.remember(5000, 'a', origin, 0);
  routes.remember(5000, 'b', origin, 0);
  assert.equal(routes.take(5000, 0)?.prev, 'b');
  assert.equal(routes.take(5000, 0)?.prev, 'a');
  assert.equal(routes.take(5000, 0), undefined);
  for (let i = 0; i < 20; i++) routes.remember(6000, `v${i}`, origin, 0);
  let visits = 0;
  while (routes.take(6000, 0)) visits++;
  assert.equal(visits, 8, 'at most 8 visits per walk');
  routes.remember(7000, 'x', origin, 0);
  assert.equal(routes.take(7000, 1001), undefined, 'expired');
  routes.remember(7001, 'x', origin, 0);
  routes.expire(2000);
  assert.equal(routes.size, 0);
});
