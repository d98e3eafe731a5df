import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { P2PNode } from '../src/node.js';
import type { Mode } from '../src/options.js';
import { addressOf, MODES, startNode, waitFor, waitForPeerCount, waitUntil } from './helpers/nodes.js';

/** Starts `count` nodes, node k bootstrapping to node k-1 through the `bootstrap` option. */
async function chain(t: TestContext, mode: Mode, count: number): Promise<P2PNode[]> {
  const nodes: P2PNode[] = [];
  for (let i = 0; i < count; i++) {
    const previous = nodes[i - 1];
    nodes.push(
      await startNode(t, {
        mode,
        name: `n${i}`,
        maxPeers: count + 2,
        ...(previous ? { bootstrap: addressOf(previous) } : {}),
      }),
    );
  }
  return nodes;
}

/** Asserts that every node is connected to every other one, each known by its listen address. */
function assertFullMesh(nodes: P2PNode[]): void {
  for (const node of nodes) {
    const peers = node.getPeerInfo().peers;
    const others = nodes.filter((n) => n !== node);
    assert.deepEqual(peers.map((p) => p.id).sort(), others.map((n) => n.id).sort(), `peers of ${node.name}`);
    for (const other of others) {
      const peer = peers.find((p) => p.id === other.id);
      assert.equal(peer?.address, addressOf(other), `${node.name} knows ${other.name} by its listen address`);
    }
  }
}

/**
 * Every node broadcasts one chat and every other node receives it: each pair's kept connection
 * is the same one on both sides (a chat written to a connection the other side dropped is lost).
 */
async function assertMeshCarriesChat(nodes: P2PNode[]): Promise<void> {
  const waits: Promise<unknown>[] = [];
  for (const sender of nodes) {
    for (const receiver of nodes) {
      if (receiver === sender) continue;
      waits.push(
        waitFor(receiver, 'chat', (m) => m.from.id === sender.id && m.text === `hi from ${sender.name}`),
      );
    }
  }
  for (const sender of nodes) {
    const report = await sender.broadcastMessage(`hi from ${sender.name}`);
    assert.equal(report.sent.length, nodes.length - 1);
  }
  await Promise.all(waits);
}

/** Connects every pair of nodes directly and waits for the full mesh. */
async function fullMesh(nodes: P2PNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = 0; j < i; j++) {
      const a = nodes[i] as P2PNode;
      const b = nodes[j] as P2PNode;
      if (!a.getPeerInfo().peers.some((p) => p.id === b.id)) {
        await a.connectToPeer(addressOf(b)).catch((err: { code?: string }) => {
          // An automatic dial from b may have won the race; the wait below checks the result.
          if (err.code !== 'ERR_DUPLICATE_PEER') throw err;
        });
      }
    }
  }
  await waitForPeerCount(nodes, nodes.length - 1);
}

for (const mode of MODES) {
  describe(`mesh (${mode})`, () => {
    test('a 6-node chain of bootstraps reaches a full mesh', { timeout: 15_000 }, async (t) => {
      const nodes = await chain(t, mode, 6);
      await waitForPeerCount(nodes, 5, 10_000);
      assertFullMesh(nodes);
      await assertMeshCarriesChat(nodes);
    });

    test('a 10-node chain converges without the discovery timer', { timeout: 15_000 }, async (t) => {
      const started = Date.now();
      // TEST_DEFAULTS sets discoveryIntervalMs to 60 s: only the immediate exchange can do it.
      const nodes = await chain(t, mode, 10);
      await waitForPeerCount(nodes, 9, 10_000);
      assertFullMesh(nodes);
      const elapsed = Date.now() - started;
      assert.ok(elapsed < 10_000, `converged in ${elapsed} ms`);
      t.diagnostic(`10-node ${mode} mesh converged in ${elapsed} ms`);
      await assertMeshCarriesChat(nodes);
    });

    test(
      'chat and bytes arrive exactly once at every peer, in order per sender',
      { timeout: 20_000 },
      async (t) => {
        const nodes: P2PNode[] = [];
        for (let i = 0; i < 4; i++) nodes.push(await startNode(t, { mode, name: `m${i}` }));
        await fullMesh(nodes);

        const PER_SENDER = 300;
        const senders = nodes.slice(0, 3);
        // received[receiver][sender] = the sequence numbers in arrival order.
        const received = new Map<string, Map<string, number[]>>();
        const ended = new Map<string, Set<string>>();
        for (const node of nodes) {
          const bySender = new Map<string, number[]>();
          const done = new Set<string>();
          received.set(node.id, bySender);
          ended.set(node.id, done);
          const add = (from: string, text: string): void => {
            if (text === 'END') {
              done.add(from);
              return;
            }
            const [sender, seq] = text.split('#');
            assert.equal(sender, from, 'payload names its sender');
            const list = bySender.get(from) ?? [];
            bySender.set(from, list);
            list.push(Number(seq));
          };
          node.on('chat', (m) => add(m.from.id, m.text));
          node.on('bytes', (m) => add(m.from.id, Buffer.from(m.data).toString('utf8')));
        }

        // A burst: every send is started before any completes, chat and bytes interleaved.
        const sends: Promise<unknown>[] = [];
        for (let seq = 0; seq < PER_SENDER; seq++) {
          for (const sender of senders) {
            const text = `${sender.id}#${seq}`;
            sends.push(
              seq % 3 === 0
                ? sender.broadcastBytes(Buffer.from(text, 'utf8'))
                : sender.broadcastMessage(text),
            );
          }
        }
        const reports = (await Promise.all(sends)) as { sent: string[]; failed: unknown[] }[];
        for (const report of reports) {
          assert.equal(report.failed.length, 0);
          assert.equal(report.sent.length, 3);
        }
        // Per-sender order: once END from a sender has arrived, everything it sent before has too.
        await Promise.all(senders.map((s) => s.broadcastMessage('END')));
        await waitUntil(
          nodes,
          () =>
            nodes.every(
              (n) => (ended.get(n.id) as Set<string>).size === senders.filter((s) => s !== n).length,
            ),
          'every node saw END from every other sender',
          10_000,
        );
        const expected = Array.from({ length: PER_SENDER }, (_, i) => i);
        for (const node of nodes) {
          for (const sender of senders) {
            if (sender === node) continue;
            const got = received.get(node.id)?.get(sender.id);
            assert.deepEqual(got, expected, `${node.name} from ${sender.name}`);
          }
          assert.equal(received.get(node.id)?.has(node.id), false, 'no node receives its own messages');
        }
      },
    );

    test('sendBytesToPeer reaches only its target', { timeout: 10_000 }, async (t) => {
      const [a, b, c] = [
        await startNode(t, { mode, name: 'a' }),
        await startNode(t, { mode, name: 'b' }),
        await startNode(t, { mode, name: 'c' }),
      ];
      await fullMesh([a, b, c]);
      const bytesAtC: string[] = [];
      c.on('bytes', (m) => bytesAtC.push(Buffer.from(m.data).toString()));
      const bytesAtB: string[] = [];
      b.on('bytes', (m) => bytesAtB.push(Buffer.from(m.data).toString()));
      const markerAtB = waitFor(b, 'bytes', (m) => Buffer.from(m.data).toString() === 'marker');
      const markerAtC = waitFor(c, 'bytes', (m) => Buffer.from(m.data).toString() === 'marker');

      await a.sendBytesToPeer(b.id, Buffer.from('only for b'));
      // The marker follows on each connection, so its arrival means the private message had its chance.
      await a.broadcastBytes(Buffer.from('marker'));
      const [atB] = await Promise.all([markerAtB, markerAtC]);
      assert.equal(atB.from.id, a.id);
      assert.deepEqual(bytesAtB, ['only for b', 'marker']);
      assert.deepEqual(bytesAtC, ['marker']);

      await assert.rejects(a.sendBytesToPeer('0'.repeat(32), Buffer.from('x')), { code: 'ERR_UNKNOWN_PEER' });
      await assert.rejects(a.sendBytesToPeer(b.id, 'text' as never), { code: 'ERR_INVALID_ARGUMENT' });
    });
  });
}
