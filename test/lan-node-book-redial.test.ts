/**
 * The persisted peer book's start-up redials, on loopback (no namespaces needed, so this runs
 * everywhere): a remembered peer that is not up yet when the node starts is retried within
 * seconds, not on the discovery round.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createTestNode, startNode, waitFor } from './helpers/nodes.js';

/** A port nothing listens on right now (bound, read, released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('a remembered peer that starts after us is redialled within seconds', { timeout: 20_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-book-redial-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const book = path.join(dir, 'peers.json');
  await writeFile(
    book,
    JSON.stringify({ version: 1, peers: [{ address, lastSuccess: Date.now() - 60_000 }] }),
  );

  // The discovery round (60 s here) cannot be what dials it again within the test.
  const node = createTestNode(t, { peerBookFile: book, discoveryIntervalMs: 60_000 });
  const failed = waitFor(node, 'connection-failed', (m) => m.address === address, 5_000);
  await node.start();
  await failed; // the first dial: nobody there yet

  const startedAt = Date.now();
  const connected = waitFor(node, 'peer-connected', (m) => m.peer.address === address, 10_000);
  const late = await startNode(t, { port });
  const peer = await connected;
  assert.equal(peer.peer.id, late.id);
  const ms = Date.now() - startedAt;
  t.diagnostic(`redialled ${ms} ms after the remembered peer came up`);
  assert.ok(ms < 8_000, `redial within the start-up backoff, took ${ms} ms`);
});
