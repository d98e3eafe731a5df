/**
 * Faults: a peer that goes away and comes back. The others redial a peer that dropped
 * unexpectedly with backoff (1 s, 2 s, 4 s, ...), so a node restarted on the same port (in secure
 * mode with the same key file, hence the same ID) rejoins the mesh without any bootstrap; a node
 * that was gone for longer than the peer timeout heals into one mesh through a single bootstrap.
 *
 * "Unexpectedly": a compat node has no goodbye, so its close looks like a crash; a secure node
 * that closes says goodbye and is deliberately not redialled (it left on purpose), so the secure
 * restart here is a crash (SIGKILL of a child process), and a gracefully restarted secure node
 * rejoins through its bootstrap (second describe).
 *
 * The discovery timer never fires in these tests (TEST_DEFAULTS: 60 s), so only the redial and
 * the peer exchange can rebuild the mesh.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { P2PNode } from '../src/node.js';
import type { NodeOptions } from '../src/options.js';
import {
  MODES,
  startNode as startTestNode,
  TEST_DEFAULTS,
  waitFor,
  waitForPeerCount,
  waitUntil,
} from './helpers/nodes.js';
import { tempDir } from './helpers/temp-dir.js';
import { ChildPeer } from './support-faults/child.js';

/**
 * These tests close a node and start another on its port a moment later, while the survivors
 * redial that address. On 127.0.0.1 a concurrently running test file could bind the freed port
 * in between (and in compat, which has no identity, its mesh would be let in), so on Linux, where
 * all of 127/8 is loopback, this file uses an address of its own.
 */
const HOST =
  process.platform === 'linux'
    ? `127.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}.1`
    : '127.0.0.1';

function startNode(t: TestContext, options: NodeOptions = {}): Promise<P2PNode> {
  return startTestNode(t, { host: HOST, ...options });
}

function addressOf(node: { port: number }): string {
  return `${HOST}:${node.port}`;
}

/** IDs of the peers of `node`, sorted. */
function peerIds(node: P2PNode): string[] {
  return node
    .getPeerInfo()
    .peers.map((p) => p.id)
    .sort();
}

/** Asserts that `nodes` form one full mesh: each one is connected to exactly all the others. */
function assertFullMesh(nodes: P2PNode[]): void {
  for (const node of nodes) {
    assert.deepEqual(
      peerIds(node),
      nodes
        .filter((n) => n !== node)
        .map((n) => n.id)
        .sort(),
      `${node.name} is connected to every other node`,
    );
  }
}

/** Starts `count` nodes meshed through the first one. */
async function mesh(t: TestContext, count: number, options: (i: number) => NodeOptions): Promise<P2PNode[]> {
  const nodes: P2PNode[] = [];
  for (let i = 0; i < count; i++) {
    nodes.push(
      await startNode(t, { ...options(i), ...(i > 0 ? { bootstrap: addressOf(nodes[0] as P2PNode) } : {}) }),
    );
  }
  // Generous: a newcomer may wait out the 3 s grace before dialling a peer that ranks first.
  await waitForPeerCount(nodes, count - 1, 10_000);
  return nodes;
}

describe('a peer restarted on the same address rejoins on its own', () => {
  test(
    'compat: a node closes, a new one starts on its port, the others redial it',
    { timeout: 20_000 },
    async (t) => {
      // Compat has no goodbye: a closed peer looks like a lost one, and is redialled with backoff.
      const [a, b, c] = (await mesh(t, 3, (i) => ({ mode: 'compat', name: `n${i}` }))) as [
        P2PNode,
        P2PNode,
        P2PNode,
      ];
      const port = c.port;
      const oldId = c.id;
      const address = `${HOST}:${port}`;
      const lost = [a, b].map((n) => waitFor(n, 'peer-disconnected', (m) => m.peer.id === oldId));
      // Both survivors try to redial while the node is down, and fail: the restart comes only
      // after that, so it is a later attempt of the backoff that finds it again.
      const failed = [a, b].map((n) => waitFor(n, 'connection-failed', (m) => m.address === address));
      await c.close();
      await Promise.all(lost);
      await Promise.all(failed);

      const restarted = await startNode(t, { mode: 'compat', name: 'n2', port });
      assert.equal(restarted.port, port);
      assert.notEqual(restarted.id, oldId, 'compat IDs are per run: the address is what is redialled');
      await waitForPeerCount([a, b, restarted], 2, 10_000);
      assertFullMesh([a, b, restarted]);
      const heard = Promise.all([a, b].map((n) => waitFor(n, 'chat', (m) => m.text === 'back again')));
      await restarted.broadcastMessage('back again');
      await heard;
    },
  );

  test(
    'secure: a crashed node (SIGKILL) restarted with the same key file and port is redialled',
    { timeout: 25_000 },
    async (t) => {
      const dir = await tempDir(t, 'meshwire-rejoin-');
      const keyFile = path.join(dir, 'c.key');
      const a = await startNode(t, { name: 'a' });
      const b = await startNode(t, { name: 'b', bootstrap: addressOf(a) });
      await waitForPeerCount([a, b], 1);
      const childOptions = (port: number, bootstrap?: string): string =>
        JSON.stringify({
          ...TEST_DEFAULTS,
          host: HOST,
          name: 'c',
          keyFile,
          port,
          ...(bootstrap ? { bootstrap } : {}),
        });
      const c = ChildPeer.spawn(t, 'mesh-node.ts', [childOptions(0, addressOf(a))], 'c');
      const { id, port } = (await c.waitFor('started')) as unknown as { id: string; port: number };
      await waitForPeerCount([a, b], 2, 10_000);
      await c.waitFor('peer-connected', (e) => e.peerCount === 2);

      // A crash: no goodbye, the kernel closes the sockets. The survivors see an unexpected drop,
      // redial, fail while nothing listens there, and back off.
      const address = `${HOST}:${port}`;
      const failed = [a, b].map((n) => waitFor(n, 'connection-failed', (m) => m.address === address));
      await c.kill();
      await waitForPeerCount([a, b], 1);
      await Promise.all(failed);

      const restarted = ChildPeer.spawn(t, 'mesh-node.ts', [childOptions(port)], "c'");
      const started = (await restarted.waitFor('started')) as unknown as { id: string; port: number };
      assert.equal(started.id, id, 'same key file, same ID');
      assert.equal(started.port, port);
      await waitForPeerCount([a, b], 2, 10_000);
      await restarted.waitFor('peer-connected', (e) => e.peerCount === 2, 10_000);
      for (const n of [a, b]) assert.ok(peerIds(n).includes(id), `${n.name} is connected to c again`);
      assert.ok(peerIds(a).includes(b.id) && peerIds(b).includes(a.id));

      // Chat flows both ways on the rebuilt links.
      const heard = Promise.all([a, b].map((n) => waitFor(n, 'chat', (m) => m.text === 'back again')));
      restarted.child.stdin.write('broadcast back again\n');
      await heard;
      const received = restarted.waitFor('chat', (e) => e.text === 'welcome back' && e.from === a.id);
      await a.broadcastMessage('welcome back');
      await received;
    },
  );
});

describe('a node gone for longer than the peer timeout', () => {
  for (const mode of MODES) {
    test(
      `${mode}: restarted with a bootstrap to one of the others, heals into one mesh`,
      { timeout: 20_000 },
      async (t) => {
        const PEER_TIMEOUT = 300;
        // Pings every 50 ms keep the live links well inside the 300 ms peer timeout. `debug` reports
        // each ping as a message: the time-based waits below are re-checked on those, not on a sleep.
        const options = (i: number): NodeOptions => ({
          mode,
          name: `n${i}`,
          maintenanceIntervalMs: 50,
          peerTimeoutMs: PEER_TIMEOUT,
          debug: true,
        });
        const nodes = await mesh(t, 4, options);
        const gone = nodes[3] as P2PNode;
        const rest = nodes.slice(0, 3);
        const port = gone.port;
        await gone.close();
        await waitForPeerCount(rest, 2);

        // Stay away for more than the peer timeout: several maintenance rounds pass and the
        // survivors' links to each other stay up. In compat (no goodbye) they also redial the
        // lost address, fail and back off; a secure node said goodbye and is not redialled.
        const downSince = Date.now();
        if (mode === 'compat') {
          await Promise.all(
            rest.map((n) => waitFor(n, 'connection-failed', (m) => m.address === `${HOST}:${port}`)),
          );
        }
        await waitUntil(
          rest,
          () => Date.now() - downSince > 2 * PEER_TIMEOUT,
          'twice the peer timeout has passed',
          5_000,
        );
        await waitForPeerCount(rest, 2);

        const back = await startNode(t, { ...options(3), port, bootstrap: addressOf(rest[1] as P2PNode) });
        const all = [...rest, back];
        await waitForPeerCount(all, 3, 10_000);
        assertFullMesh(all);
        // And it stays one mesh: nothing times out or flaps over several peer timeouts.
        const since = Date.now();
        const drops: string[] = [];
        for (const n of all)
          n.on('peer-disconnected', (m) => drops.push(`${n.name} lost ${m.peer.name}: ${m.reason}`));
        await waitUntil(
          all,
          () => Date.now() - since > 3 * PEER_TIMEOUT,
          'three peer timeouts have passed',
          5_000,
        );
        assert.deepEqual(drops, []);
        assertFullMesh(all);
      },
    );
  }
});
