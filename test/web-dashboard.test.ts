/**
 * The dashboard in real Chromium against real nodes on loopback: a 4-node mesh shows up within
 * 2 s, a hostile peer name renders as text, a peer that quits leaves graph and table, and data
 * requests without the token get 401 from inside the page too.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FileReceiver } from '../src/files/receiver.js';
import type { P2PNode } from '../src/node.js';
import { startDashboard, type Dashboard } from '../src/web/index.js';
import { addressOf, startNode, waitFor } from './helpers/nodes.js';
import { builtAssets, noBrowserReason, openBrowser, screenshot } from './support-web/browser.js';

const skip = noBrowserReason();
const XSS_NAME = '<img src=x onerror=alert(1)>';

/** A hub with a dashboard and `names.length` peers connected to it (and, by exchange, to each other). */
async function mesh(
  t: TestContext,
  names: string[],
): Promise<{ hub: P2PNode; peers: P2PNode[]; dash: Dashboard }> {
  // Debug mode reports the PEERS lists the hub receives, and a short discovery interval makes
  // it ask for them: that is where the graph's peer-to-peer links come from.
  const hub = await startNode(t, { name: 'hub', debug: true, discoveryIntervalMs: 300 });
  const downloads = await mkdtemp(path.join(os.tmpdir(), 'meshwire-web-dl-'));
  t.after(() => rm(downloads, { recursive: true, force: true }));
  const receiver = new FileReceiver(hub, { downloadsDir: downloads });
  t.after(() => receiver.close());
  await receiver.start();
  const peers: P2PNode[] = [];
  for (const name of names) {
    const peer = await startNode(t, { name });
    const joined = waitFor(hub, 'peer-connected', (m) => m.peer.id === peer.id);
    await peer.connectToPeer(addressOf(hub));
    await joined;
    peers.push(peer);
  }
  const dash = await startDashboard(hub, { assetsDir: await builtAssets(), receiver, flushIntervalMs: 50 });
  t.after(() => dash.close());
  return { hub, peers, dash };
}

describe('dashboard in Chromium', { skip, timeout: 60_000 }, () => {
  it('shows the 3 peers of a 4-node mesh within 2 s, a hostile name as text, and a peer leaving', async (t) => {
    const { hub, peers, dash } = await mesh(t, ['alice', 'bob', XSS_NAME]);
    const [, bob, hostile] = peers as [P2PNode, P2PNode, P2PNode];
    const { page, errors } = await openBrowser(t);

    const started = Date.now();
    await page.goto(dash.url);
    await page.locator('#peers tbody tr').nth(2).waitFor({ timeout: 2_000 });
    const elapsed = Date.now() - started;
    t.diagnostic(`3 peers on the page ${elapsed} ms after navigation`);
    assert.equal(await page.locator('#peers tbody tr').count(), 3);
    // This node and its three peers in the graph.
    await page.locator('#graph g.node[data-id]').nth(3).waitFor({ timeout: 2_000 });
    for (const p of [hub, ...peers])
      assert.equal(await page.locator(`#graph g.node[data-id="${p.id}"]`).count(), 1);
    assert.equal(await page.locator('#status').getAttribute('data-state'), 'live');

    // The token left the address bar; node facts never include a key.
    assert.equal(new URL(page.url()).hash, '');
    assert.equal(await page.locator('[data-fact="network key"] dd').textContent(), 'not set');
    assert.equal(await page.locator('[data-fact="ID"] dd').textContent(), hub.id.slice(0, 8));

    // The hostile name is text, in the table and in the graph; nothing was injected or run.
    assert.equal(await page.locator(`#peers tr[data-id="${hostile.id}"] td.name`).textContent(), XSS_NAME);
    assert.equal(
      await page.locator(`#graph g.node[data-id="${hostile.id}"] text`).textContent(),
      XSS_NAME.slice(0, 23) + '…',
    );
    assert.equal(await page.locator('img').count(), 0);
    assert.deepEqual(errors, []);
    await screenshot(page, 'dashboard-mesh');

    // Without the token, from inside the page: 401 and an empty body, on data and live channel.
    const probes = await page.evaluate(async () => {
      const out: { path: string; status: number; body: string }[] = [];
      for (const p of ['/api/state', '/api/live', '/metrics', '/api/files/t1']) {
        const res = await fetch(p);
        out.push({ path: p, status: res.status, body: await res.text() });
      }
      const post = await fetch('/api/chat', { method: 'POST', body: '{"text":"x"}' });
      out.push({ path: 'POST /api/chat', status: post.status, body: await post.text() });
      return out;
    });
    for (const probe of probes) assert.deepEqual(probe, { ...probe, status: 401, body: '' }, probe.path);

    // Links the peers reported between themselves are drawn (dashed) once a PEERS list is in.
    await page.locator('#graph line.edge.reported').first().waitFor({ timeout: 5_000 });

    // Bob quits: he leaves the table and, after the fade, the graph.
    const left = waitFor(hub, 'peer-disconnected', (m) => m.peer.id === bob.id);
    await bob.close();
    await left;
    await page.locator(`#peers tr[data-id="${bob.id}"]`).waitFor({ state: 'detached', timeout: 3_000 });
    await page.locator(`#graph g.node[data-left="${bob.id}"]`).waitFor({ state: 'detached', timeout: 3_000 });
    assert.equal(await page.locator(`#graph g.node[data-id="${bob.id}"]`).count(), 0);
    assert.equal(await page.locator('#peers tbody tr').count(), 2);
    await screenshot(page, 'dashboard-after-leave');
  });

  it('a page opened without the token shows why and gets no data', async (t) => {
    const { dash } = await mesh(t, ['alice']);
    const { page } = await openBrowser(t);
    await page.goto(dash.origin + '/');
    await page.locator('#status[data-state="error"]').waitFor({ timeout: 3_000 });
    assert.equal(await page.locator('#peers tbody tr').count(), 0);
    // A wrong token: the live channel answers 401 and the page says so.
    await page.goto(`${dash.origin}/#token=${'x'.repeat(43)}`);
    await page.locator('#status[data-state="error"]').waitFor({ timeout: 3_000 });
    assert.match((await page.locator('#status').textContent()) ?? '', /token/);
  });
});
