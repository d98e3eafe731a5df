/**
 * Issue 12's scenarios with real `meshwire` CLI nodes, one per Linux network namespace "host" on
 * a private bridge (test/helpers/netns.ts): a mesh found by `--lan` alone, goodbye on /quit, a
 * partition that heals. LAN discovery runs only inside those namespaces, so no multicast reaches
 * a real interface. Skipped, with the reason, where namespaces cannot be created.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDir, type JsonEvent } from './cli-harness.js';
import { createLan, netnsSkipReason } from './helpers/netns.js';
import {
  chatsWith,
  connectedIds,
  nodeId,
  startHostNode,
  waitFullMesh,
  type HostNode,
} from './support-lan/cli-hosts.js';

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
    // No address was given, so the mesh came from the announcements (a node that others dialled
    // before it heard them has nothing new to report; peer exchange may carry the rest).
    const lanFinds = nodes.flatMap((n) =>
      n.cli.events.filter((e) => e.type === 'peers-discovered' && e.source === 'lan'),
    );
    assert.ok(lanFinds.length > 0, 'addresses found through LAN discovery');
    for (const n of nodes) {
      for (const e of n.cli.events.filter((x) => x.type === 'peers-discovered')) {
        assert.ok(e.source === 'lan' || e.source === 'exchange', `found via ${String(e.source)}`);
      }
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

test(
  'a node that quits is dropped by the others at once (goodbye), not after the peer timeout',
  {
    skip,
    timeout: 30_000,
  },
  async (t) => {
    const lan = await createLan(t, 3);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-node-');
    // The default peer timeout (60 s): a removal within a second can only be the goodbye. Quick
    // discovery rounds (each one visible with --debug as REQUEST_PEERS sent) and pings (every
    // 500 ms) pace the waits below.
    const args = [
      '--lan',
      '--lan-interface',
      'eth0',
      '--no-peer-book',
      '--debug',
      '--discovery-interval',
      '300',
      '--maintenance-interval',
      '500',
    ];
    const nodes = await Promise.all(lan.hosts.map((h) => startHostNode(h, dir, args, (fn) => t.after(fn))));
    const ids = await Promise.all(nodes.map((n) => nodeId(n)));
    await waitFullMesh(nodes, ids, 8_000);
    const [a, b, leaving] = nodes as [HostNode, HostNode, HostNode];
    // Every node announces at start and again a second later: after four ping rounds (1.5 s or
    // more) each has heard the others on the LAN, not only through peer exchange.
    await Promise.all(nodes.map((n) => nthAfter(n, 4, (e) => e.type === 'ping' && e.direction === 'sent')));
    const marks = [a.cli.mark(), b.cli.mark()];
    const quitAt = performance.now();
    leaving.cli.send('/quit');
    const gone = await Promise.all(
      [a, b].map((n, k) =>
        n.cli.waitFor((e) => e.type === 'peer-disconnected' && peerId(e) === ids[2], {
          since: marks[k],
          timeoutMs: 2_000,
          what: 'h2 to leave',
        }),
      ),
    );
    const removalMs = performance.now() - quitAt;
    t.diagnostic(`/quit to removal on both others: ${removalMs.toFixed(0)} ms`);
    for (const e of gone) assert.equal(e.reason, 'goodbye');
    assert.equal(await leaving.cli.exitCode(10_000), 0);
    // The two that stay keep each other.
    assert.ok(connectedIds(a).has(ids[1]!) && connectedIds(b).has(ids[0]!));
    // Its LAN goodbye withdrew the address, not only the connection: once it has gone (one
    // round to settle a dial that may have started between its TCP and its LAN goodbye), three
    // more discovery rounds do not dial it again.
    const isRound = (e: JsonEvent) => e.type === 'peer-request' && e.direction === 'sent';
    await Promise.all([a, b].map((n) => nthAfter(n, 1, isRound)));
    const settled = [a.cli.mark(), b.cli.mark()];
    await Promise.all([a, b].map((n) => nthAfter(n, 3, isRound)));
    for (const [k, n] of [a, b].entries()) {
      const dials = (since: number) =>
        n.cli.events
          .slice(since)
          .filter((e) => e.type === 'connection-failed' && e.address === leaving.address).length;
      t.diagnostic(`${n.cli.label}: ${dials(marks[k]!)} dial(s) of the departed node while it left`);
      assert.equal(dials(settled[k]!), 0, `${n.cli.label} dialled the node that left`);
    }
  },
);

/** Waits until `node` prints `count` more events matching `match` (from now). */
async function nthAfter(node: HostNode, count: number, match: (e: JsonEvent) => boolean): Promise<void> {
  let from = node.cli.mark();
  for (let i = 0; i < count; i++) {
    const e = await node.cli.waitFor(match, {
      since: from,
      timeoutMs: 5_000,
      what: `event ${i + 1} of ${count}`,
    });
    from = node.cli.events.indexOf(e) + 1;
  }
}

test(
  'a partitioned host is reported gone within the peer timeout, and the mesh heals when its link returns',
  {
    skip,
    timeout: 40_000,
  },
  async (t) => {
    const lan = await createLan(t, 3);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-node-');
    const peerTimeoutMs = 3_000;
    const discoveryMs = 1_000;
    // A peer dropped for silence is not redialled at once (it may be gone for good); the periodic
    // discovery round retries it, so a short round makes healing quick.
    const fast = [
      '--peer-timeout',
      String(peerTimeoutMs),
      '--maintenance-interval',
      '500',
      '--discovery-interval',
      String(discoveryMs),
    ];
    const nodes = await Promise.all(
      lan.hosts.map((h) =>
        startHostNode(h, dir, ['--lan', '--lan-interface', 'eth0', '--no-peer-book', ...fast], (fn) =>
          t.after(fn),
        ),
      ),
    );
    const ids = await Promise.all(nodes.map((n) => nodeId(n)));
    await waitFullMesh(nodes, ids, 8_000);
    const cutHost = lan.hosts[2]!;
    const marks = nodes.map((n) => n.cli.mark());
    const cutAt = performance.now();
    await cutHost.cut();
    // Both sides notice: the two that stay lose h2, h2 loses both. Bound: the peer timeout plus a
    // maintenance tick and scheduling slack on a shared machine.
    const bound = peerTimeoutMs + 500 + 1_500;
    await Promise.all(
      nodes.flatMap((n, i) =>
        ids
          .filter((_, j) => j !== i && (i === 2 || j === 2))
          .map((id) =>
            n.cli.waitFor((e) => e.type === 'peer-disconnected' && peerId(e) === id, {
              since: marks[i],
              timeoutMs: bound,
              what: `h${i} to report ${ids.indexOf(id)} gone`,
            }),
          ),
      ),
    );
    t.diagnostic(`cut to removal everywhere: ${(performance.now() - cutAt).toFixed(0)} ms (bound ${bound})`);
    assert.ok(connectedIds(nodes[0]!).has(ids[1]!), 'h0 and h1 stay connected');

    const restoredAt = performance.now();
    await cutHost.restore();
    await waitFullMesh(nodes, ids, 15_000);
    t.diagnostic(`restore to full mesh: ${(performance.now() - restoredAt).toFixed(0)} ms`);
  },
);

function peerId(e: JsonEvent): string | undefined {
  return (e.peer as { id?: string } | undefined)?.id;
}

test(
  'an unknown --lan-interface stops the node with an error naming it',
  { skip, timeout: 20_000 },
  async (t) => {
    const lan = await createLan(t, 1);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-node-');
    const node = await startHostNode(lan.hosts[0]!, dir, ['--lan', '--lan-interface', 'nope0'], (fn) =>
      t.after(fn),
    );
    assert.equal(await node.cli.exitCode(15_000), 1);
    const error = node.cli.events.find((e) => e.type === 'command-error');
    assert.equal(error?.code, 'ERR_INVALID_OPTION');
    assert.equal(error?.message, 'invalid --lan-interface: "nope0" is not an interface with an IPv4 address');
  },
);
