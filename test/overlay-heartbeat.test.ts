/**
 * With the overlay, the heartbeat leaves out links that carried something within the last
 * maintenance period: a node that keeps hearing broadcasts from its neighbour does not ping it,
 * the neighbour that hears nothing back still does, and nobody times out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { peersToPing, timerSpread } from '../src/mesh/overlay-pacing.js';
import type { P2PNode } from '../src/node.js';
import { startConnectedPair, waitUntil } from './helpers/nodes.js';

/** Counts the pings `node` sends (debug reports). */
function pingsSent(node: P2PNode): { count: number } {
  const counter = { count: 0 };
  node.on('ping', (m) => {
    if (m.direction === 'sent') counter.count++;
  });
  return counter;
}

test('a neighbour that keeps hearing broadcasts does not ping; the other end still does', async (t) => {
  const options = { overlay: true, debug: true, maintenanceIntervalMs: 100, peerTimeoutMs: 2_000 };
  const { listener: a, dialer: b } = await startConnectedPair(t, options, options);
  await waitUntil(
    [a, b],
    () => a.overlayStats()!.active.includes(b.id) && b.overlayStats()!.active.includes(a.id),
    'a and b overlay neighbours',
  );
  const fromA = pingsSent(a);
  const fromB = pingsSent(b);
  let received = 0;
  b.on('chat', () => received++);
  // 1.2 s of broadcasts from a every 20 ms: b hears a far more often than once per period.
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (performance.now() - started >= 1_200) {
        clearInterval(timer);
        resolve();
        return;
      }
      a.broadcastMessage('tick').catch(() => {});
    }, 20);
  });
  const elapsedRounds = (performance.now() - started) / 100;
  assert.ok(received > 20, `b received ${received} broadcasts`);
  // Without the rule b would ping a every round (~12 times); a heard nothing from b but PONGs.
  assert.ok(fromB.count <= 2, `b pinged a ${fromB.count} times in ${elapsedRounds.toFixed(1)} rounds`);
  assert.ok(fromA.count >= 3, `a pinged b ${fromA.count} times in ${elapsedRounds.toFixed(1)} rounds`);
  // Idle for longer than the timeout: the link stays up (one end pings the other each period).
  const disconnects: string[] = [];
  for (const node of [a, b]) node.on('peer-disconnected', (m) => disconnects.push(m.reason));
  await new Promise((resolve) => setTimeout(resolve, 2_500));
  assert.deepEqual(disconnects, []);
  assert.ok(a.overlayStats()!.active.includes(b.id));
});

test('peersToPing: only peers quiet for a period, and every peer when the timeout is short', () => {
  const now = 100_000;
  const peers = [{ lastSeen: now - 1_000 }, { lastSeen: now - 15_000 }, { lastSeen: now - 40_000 }];
  // Defaults (15 s period, 60 s timeout): the one heard 1 s ago is skipped.
  assert.deepEqual(peersToPing(peers, now, 15_000, 60_000), peers.slice(1));
  // 15 s period, 20 s timeout: two more silent periods would not fit, so all are pinged.
  assert.deepEqual(peersToPing(peers, now, 15_000, 20_000), peers);
});

test('timerSpread: ticks and IHAVE batches only later, by at most 20 % and 25 %', () => {
  for (let i = 0; i < 1_000; i++) {
    const tick = timerSpread({ kind: 'tick' }, 1_000);
    const ihave = timerSpread({ kind: 'ihave' }, 200);
    assert.ok(tick >= 0 && tick <= 200, `tick +${tick}`);
    assert.ok(ihave >= 0 && ihave <= 50, `ihave +${ihave}`);
    assert.equal(timerSpread({ kind: 'graft', key: 'k' }, 150), 0);
    assert.equal(timerSpread({ kind: 'tick' }, -5), 0);
  }
});
