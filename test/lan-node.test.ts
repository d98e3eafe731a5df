/**
 * Issue 12's scenarios with real `meshwire` CLI nodes, one per Linux network namespace "host" on
 * a private bridge (test/helpers/netns.ts): a mesh found by `--lan` alone, goodbye on /quit, a
 * partition that heals. LAN discovery runs only inside those namespaces, so no multicast reaches
 * a real interface. Skipped, with the reason, where namespaces cannot be created.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDir } from './cli-harness.js';
import { createLan, netnsSkipReason } from './helpers/netns.js';
import { chatsWith, connectedIds, nodeId, startHostNode, waitFullMesh } from './support-lan/cli-hosts.js';

const skip = netnsSkipReason();

test(
  '5 hosts started with --lan and no address form a full mesh; chat from each reaches all',
  { skip, timeout: 30_000 },
  async (t) => {
    const lan = await createLan(t, 5);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-node-');
    const t0 = performance.now();
    // Default interface choice: inside a host that is eth0 alone (lo is never used).
    const nodes = await Promise.all(
      lan.hosts.map((h) => startHostNode(h, dir, ['--lan', '--no-peer-book'], (fn) => t.after(fn))),
    );
    const ids = await Promise.all(nodes.map((n) => nodeId(n)));
    const started = performance.now();
    await waitFullMesh(nodes, ids, 8_000);
    t.diagnostic(
      `full mesh of 5 in ${(performance.now() - started).toFixed(0)} ms after the last start ` +
        `(${(performance.now() - t0).toFixed(0)} ms from spawn)`,
    );
    // Found on the LAN: each node's peers came from the announcements, at their host addresses.
    for (const [i, n] of nodes.entries()) {
      const found = n.cli.events.filter((e) => e.type === 'peers-discovered' && e.source === 'lan');
      assert.ok(found.length > 0, `h${i} found its peers through LAN discovery`);
    }

    const chatStart = performance.now();
    for (const [i, n] of nodes.entries()) n.cli.send(`hello from h${i}`);
    await Promise.all(
      nodes.flatMap((n, i) =>
        nodes
          .filter((_, j) => j !== i)
          .map((other) =>
            other.cli.waitFor((e) => e.type === 'chat' && e.text === `hello from h${i}`, {
              timeoutMs: 5_000,
              what: `the chat of h${i}`,
            }),
          ),
      ),
    );
    t.diagnostic(`20 chat deliveries in ${(performance.now() - chatStart).toFixed(0)} ms`);
    for (const [i, n] of nodes.entries()) {
      for (let j = 0; j < nodes.length; j++) {
        if (j !== i) assert.equal(chatsWith(n, `hello from h${j}`).length, 1, `h${i} got h${j}'s chat once`);
      }
      assert.equal(connectedIds(n).size, 4);
    }
  },
);
