/**
 * Issue 12's scenarios about what a node remembers and what it lets strangers learn, with real
 * `meshwire` CLI nodes in Linux network namespace "hosts" (test/helpers/netns.ts): a whole group
 * restarted without `--lan` and without an address reforms from its persisted peer books; a
 * corrupt book does not stop a node; a stranger without the network key learns no member from
 * the announcements. LAN discovery runs only inside the namespaces. Skipped, with the reason,
 * where namespaces cannot be created.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { tempDir } from './cli-harness.js';
import { createLan, netnsSkipReason } from './helpers/netns.js';
import { LanProcess, waitUntil } from './support-lan/harness.js';
import {
  connectedIds,
  nodeId,
  startHostNode,
  waitFullMesh,
  NODE_PORT,
  type HostNode,
} from './support-lan/cli-hosts.js';

const skip = netnsSkipReason();

/** The CLI's default peer book, relative to a node's working directory. */
const BOOK = path.join('.meshwire', `peers-${NODE_PORT}.json`);

/** Sends /quit to every node and waits until each has exited cleanly (books saved). */
async function quitAll(nodes: HostNode[]): Promise<void> {
  for (const n of nodes) n.cli.send('/quit');
  const codes = await Promise.all(nodes.map((n) => n.cli.exitCode(15_000)));
  assert.deepEqual(
    codes,
    nodes.map(() => 0),
  );
}

test(
  'a whole group restarted without --lan and without an address reforms from its peer books',
  { skip, timeout: 45_000 },
  async (t) => {
    const lan = await createLan(t, 4);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-book-');
    const cleanup = (fn: () => unknown) => t.after(fn);
    // First life: found on the LAN; each node keeps its key and book in its own directory.
    const first = await Promise.all(
      lan.hosts.map((h) => startHostNode(h, dir, ['--lan', '--lan-interface', 'eth0'], cleanup)),
    );
    const ids = await Promise.all(first.map((n) => nodeId(n)));
    await waitFullMesh(first, ids, 8_000);
    await quitAll(first);
    // Every link was dialled by one of its ends, and that end remembered it.
    // (A node that only ever accepted has dialled nobody, and so writes no book.)
    const books = await Promise.all(
      first.map(async (n) => {
        const text = await readFile(path.join(n.cwd, BOOK), 'utf8').catch(() => '{"peers":[]}');
        return (JSON.parse(text) as { peers: { address: string; id?: string }[] }).peers;
      }),
    );
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        const knows = (a: number, b: number) =>
          books[a]!.some((e) => e.address === first[b]!.address && e.id === ids[b]);
        assert.ok(knows(i, j) || knows(j, i), `the book of h${i} or h${j} holds the other`);
      }
    }

    // Second life: no --lan, no address, same directories. One after another, each once the
    // previous one listens, as a group that comes back over a few seconds: the first dials of the
    // early nodes are refused, and only their start-up redials (not the 30 s discovery round)
    // can close those links within the bound.
    const restartAt = performance.now();
    const second: HostNode[] = [];
    const ids2: string[] = [];
    for (const h of lan.hosts) {
      const n = await startHostNode(h, dir, [], cleanup);
      second.push(n);
      ids2.push(await nodeId(n));
    }
    assert.deepEqual(ids2, ids, 'the key files kept every identity');
    await waitFullMesh(second, ids, 15_000);
    const lastStart = Math.max(
      ...second.map((n) => Date.parse(n.cli.events.find((e) => e.type === 'system-start')!.time)),
    );
    const failedDials = second.flatMap((n) => n.cli.events.filter((e) => e.type === 'connection-failed'));
    t.diagnostic(
      `restart to full mesh from the books: ${(performance.now() - restartAt).toFixed(0)} ms from spawn, ` +
        `${Date.now() - lastStart} ms after the last node started; ${failedDials.length} dials failed ` +
        `(peer not up yet): ${[...new Set(failedDials.map((e) => (e.error as { code?: string }).code))].join(', ')}`,
    );
    for (const [i, n] of second.entries()) {
      assert.ok(
        !n.cli.events.some((e) => e.type === 'peers-discovered' && e.source === 'lan'),
        `h${i} ran without LAN discovery`,
      );
      assert.equal(connectedIds(n).size, ids.length - 1);
    }
    assert.ok(
      second.some((n) => n.cli.events.some((e) => e.type === 'peers-discovered' && e.source === 'book')),
      'the remembered peers came from the books',
    );
  },
);

test(
  'a corrupt peer book does not stop a node: warned, kept as .bad, rewritten',
  {
    skip,
    timeout: 30_000,
  },
  async (t) => {
    const lan = await createLan(t, 2);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-book-');
    const cleanup = (fn: () => unknown) => t.after(fn);
    const [h0, h1] = lan.hosts as [(typeof lan.hosts)[0], (typeof lan.hosts)[0]];
    const other = await startHostNode(h1, dir, ['--no-peer-book'], cleanup);
    const otherId = await nodeId(other);

    // A book cut off in the middle of a write by something other than us (a full disk, a copy).
    const cwd = path.join(dir, `h${h0.index}`);
    const corrupt = '{"version":1,"peers":[{"address":"10.77.0.9:7000","lastSu';
    await mkdir(path.join(cwd, '.meshwire'), { recursive: true });
    await writeFile(path.join(cwd, BOOK), corrupt);
    const node = await startHostNode(h0, dir, [], cleanup, { bootstrap: other.address });
    await nodeId(node);
    const warning = await node.cli.waitFor(
      (e) => e.type === 'error' && /peer book/.test((e.error as { message?: string }).message ?? ''),
      { timeoutMs: 10_000, what: 'the peer book warning' },
    );
    assert.match(
      (warning.error as { message: string }).message,
      /^peer book .*peers-7000\.json is not valid JSON.*\.bad and started empty$/,
    );
    assert.equal(await readFile(path.join(cwd, BOOK + '.bad'), 'utf8'), corrupt, 'the corrupt file is kept');
    // The node runs normally: it joins through the address it was given ...
    await node.cli.waitFor((e) => e.type === 'peer-connected' && (e.peer as { id: string }).id === otherId, {
      timeoutMs: 10_000,
      what: 'the connection to h1',
    });
    await quitAll([node, other]);
    // ... and leaves a valid book behind, holding the peer it dialled.
    const book = JSON.parse(await readFile(path.join(cwd, BOOK), 'utf8')) as {
      version: number;
      peers: { address: string; id?: string }[];
    };
    assert.deepEqual(
      book.peers.map((e) => [e.address, e.id]),
      [[other.address, otherId]],
    );
  },
);

test(
  'a stranger without the network key learns no member from the announcements',
  {
    skip,
    timeout: 40_000,
  },
  async (t) => {
    const lan = await createLan(t, 5);
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-lan-book-');
    const cleanup = (fn: () => unknown) => t.after(fn);
    const keyFile = path.join(dir, 'network.key');
    await writeFile(keyFile, 'correct horse battery staple lan\n', { mode: 0o600 });
    const [m0, m1, m2, strangerHost, listenerHost] = lan.hosts as (typeof lan.hosts)[0][];
    // Listening before anyone announces: every packet on the LAN, raw.
    const listener = new LanProcess(listenerHost!, 'raw');
    await listener.waitFor((e) => e.ev === 'ready', 15_000, 'raw listener ready');
    // A meshwire node on the same LAN, with LAN discovery and no key.
    const stranger = await startHostNode(strangerHost!, dir, ['--lan', '--no-peer-book'], cleanup, {
      name: 'stranger',
    });
    await nodeId(stranger);
    const names = ['member-alpha', 'member-bravo', 'member-charlie'];
    const members = await Promise.all(
      [m0!, m1!, m2!].map((h, i) =>
        startHostNode(h, dir, ['--lan', '--no-peer-book', '--network-key-file', keyFile], cleanup, {
          name: names[i]!,
        }),
      ),
    );
    const ids = await Promise.all(members.map((n) => nodeId(n)));
    // The members find each other on the LAN with the key ...
    await waitFullMesh(members, ids, 10_000);
    // ... and each has announced at least twice (start) where the stranger and the listener hear it.
    const fromMember = (k: number) =>
      listener.events.filter((e) => e.ev === 'packet' && e.from === members[k]!.host.ip).length;
    await waitUntil([listener], () => members.every((_, k) => fromMember(k) >= 2), 10_000, 'announcements');

    const packets = listener.events.filter((e) => e.ev === 'packet').map((e) => e.hex!.toLowerCase());
    for (const [k, id] of ids.entries()) {
      const needles = [
        id.toLowerCase(),
        Buffer.from(id).toString('hex'),
        Buffer.from(names[k]!).toString('hex'),
      ];
      for (const needle of needles) {
        assert.ok(!packets.some((p) => p.includes(needle)), `no packet names member ${k} (${needle})`);
      }
    }
    // The stranger found nobody on the LAN and connected to nobody.
    const found = stranger.cli.events.filter((e) => e.type === 'peers-discovered');
    assert.deepEqual(found, [], 'the stranger discovered no member');
    assert.equal(connectedIds(stranger).size, 0);
    for (const m of members) assert.ok(!connectedIds(m).has(await nodeId(stranger)));
  },
);
