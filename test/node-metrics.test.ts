/**
 * node.metrics() and node.metricsRegistry (issue 15): what only the node's inside sees
 * (handshake durations, dials by result, backpressure pauses) is counted from the start, message
 * traffic from the first use on, and the Prometheus text carries no peer ID.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FamilySnapshot } from '../src/metrics/registry.js';
import { addressOf, closedPort, startNode, waitFor, waitForPeerCount } from './helpers/nodes.js';

function total(snapshot: Record<string, FamilySnapshot>, name: string, label?: string): number {
  const family = snapshot[name];
  assert.ok(family, `family ${name}`);
  let sum = 0;
  for (const series of family.series) {
    if (label !== undefined && !Object.values(series.labels).includes(label)) continue;
    sum += series.value ?? series.count ?? 0;
  }
  return sum;
}

test(
  'metrics count handshakes, dials, messages and bytes both ways, without peer IDs',
  { timeout: 15_000 },
  async (t) => {
    const a = await startNode(t);
    const b = await startNode(t);
    const before = a.metrics();
    assert.equal(total(before, 'meshwire_dials_total'), 0);
    await a.connectToPeer(addressOf(b));
    await waitForPeerCount([a, b], 1);
    await assert.rejects(a.connectToPeer(`127.0.0.1:${await closedPort()}`));

    const chat = waitFor(b, 'chat', (m) => m.text === 'counted');
    await a.broadcastMessage('counted');
    await chat;
    const bytes = waitFor(a, 'bytes', (m) => m.data.length === 1000);
    await b.sendBytesToPeer(a.id, Buffer.alloc(1000));
    await bytes;

    const after = a.metrics();
    assert.equal(total(after, 'meshwire_dials_total', 'ok'), 1);
    assert.equal(total(after, 'meshwire_dials_total', 'ERR_CONNECTION_REFUSED'), 1);
    assert.ok(total(after, 'meshwire_handshake_duration_seconds', 'outbound') >= 2, 'both dials timed');
    assert.equal(total(after, 'meshwire_messages_sent_total', 'chat'), 1);
    assert.equal(total(after, 'meshwire_sent_bytes_total', 'chat'), 'counted'.length);
    assert.equal(total(after, 'meshwire_messages_received_total', 'bytes'), 1);
    assert.equal(total(after, 'meshwire_received_bytes_total', 'bytes'), 1000);

    const text = a.metricsRegistry.render();
    assert.match(text, /^# TYPE meshwire_handshake_duration_seconds histogram$/m);
    assert.ok(!text.includes(b.id), 'no peer ID in any label');
    const info = a.getPeerInfo().peers[0];
    assert.ok(info && info.bytesIn > 1000 && info.bytesOut > 0, 'per-peer bytes in getPeerInfo');
  },
);
