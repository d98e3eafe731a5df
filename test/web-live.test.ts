/**
 * The live channel batches: a burst of chat reaches an open stream as a handful of events, not
 * one per message, and every line arrives (or is counted as skipped).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it } from 'node:test';
import type { LiveUpdate } from '../src/web/index.js';
import { startDashboard } from '../src/web/index.js';
import { addressOf, startNode, waitFor } from './helpers/nodes.js';
import { builtAssets } from './support-web/browser.js';

describe('live channel', { timeout: 30_000 }, () => {
  it('delivers a 2,000-message chat burst in a few batched events', async (t) => {
    const hub = await startNode(t, { name: 'hub' });
    const peer = await startNode(t, { name: 'talker' });
    const joined = waitFor(hub, 'peer-connected', (m) => m.peer.id === peer.id);
    await peer.connectToPeer(addressOf(hub));
    await joined;
    const dash = await startDashboard(hub, { assetsDir: await builtAssets(), flushIntervalMs: 100 });
    t.after(() => dash.close());

    const updates: LiveUpdate[] = [];
    let seen = 0;
    let skipped = 0;
    const total = 2_000;
    const done = new Promise<void>((resolve, reject) => {
      const req = http.get(
        {
          host: '127.0.0.1',
          port: dash.port,
          path: '/api/live',
          headers: { authorization: `Bearer ${dash.token}` },
        },
        (res) => {
          assert.equal(res.statusCode, 200);
          let buffer = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let end: number;
            while ((end = buffer.indexOf('\n\n')) >= 0) {
              const event = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              if (!event.startsWith('data: ')) continue;
              const u = JSON.parse(event.slice(6)) as LiveUpdate;
              updates.push(u);
              if (u.kind === 'batch') {
                seen += u.chat?.length ?? 0;
                skipped += u.chatSkipped ?? 0;
              }
              if (seen + skipped >= total) {
                res.destroy();
                resolve();
              }
            }
          });
        },
      );
      req.on('error', (err) => (seen + skipped >= total ? undefined : reject(err)));
      t.after(() => req.destroy());
    });
    // Wait for the snapshot before the burst, so every line comes as a batch.
    while (updates.length === 0) await new Promise((r) => setImmediate(r));
    for (let i = 0; i < total; i += 100)
      await Promise.all(Array.from({ length: 100 }, (_, j) => peer.broadcastMessage(`m${i + j}`)));
    await done;
    const batches = updates.filter((u) => u.kind === 'batch');
    t.diagnostic(`${total} messages in ${batches.length} live events (${skipped} skipped)`);
    assert.equal(updates[0]!.kind, 'snapshot');
    assert.equal(seen + skipped, total);
    assert.ok(batches.length <= 40, `${batches.length} events for ${total} messages`);
  });
});
