import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { P2PNode } from '../src/node.js';
import {
  addressOf,
  canReadSocketTable,
  RawCompatListener,
  RawCompatPeer,
  establishedWithPort,
  MODES,
  startNode,
  waitFor,
  waitForPeerCount,
} from './helpers/nodes.js';

const ROUNDS = 20;

/** Counts peer-connected minus peer-disconnected: the number of peers the events claim. */
function netConnections(node: P2PNode): () => number {
  let n = 0;
  node.on('peer-connected', () => n++);
  node.on('peer-disconnected', () => n--);
  return () => n;
}

/**
 * Waits until the OS shows exactly one established connection between the two nodes' sockets and
 * returns it as [dialer's ephemeral port, listener's port]. Closing losers may linger briefly.
 */
async function theOneConnection(a: P2PNode, b: P2PNode): Promise<{ dialPort: number; listenPort: number }> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const rows = [...(await establishedWithPort(a.port)), ...(await establishedWithPort(b.port))];
    // A connection to a listening port shows as (ephemeral -> listen) and (listen -> ephemeral).
    const toListener = rows.filter((r) => r.remote === a.port || r.remote === b.port);
    const unique = new Map(toListener.map((r) => [`${r.local}-${r.remote}`, r]));
    if (unique.size === 1) {
      const [only] = unique.values();
      return { dialPort: only?.local ?? 0, listenPort: only?.remote ?? 0 };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `expected one established connection, the OS shows ${JSON.stringify([...unique.keys()])}`,
      );
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

for (const mode of MODES) {
  describe(`simultaneous dial (${mode})`, () => {
    test(
      `A→B and B→A at once leave exactly one connection, the same on both sides (${ROUNDS} rounds)`,
      { timeout: 20_000 },
      async (t) => {
        const osCheck = await canReadSocketTable();
        const outcomes = new Map<string, number>();
        for (let round = 0; round < ROUNDS; round++) {
          const a = await startNode(t, { mode, name: `a${round}`, maintenanceIntervalMs: 60_000 });
          const b = await startNode(t, { mode, name: `b${round}`, maintenanceIntervalMs: 60_000 });
          const countA = netConnections(a);
          const countB = netConnections(b);
          // Each side talks at the earliest moment, on whichever connection it holds then: a message
          // sent on a connection that loses the tie-break must still arrive.
          const earlyAtA = waitFor(a, 'chat', (m) => m.text === 'early from b');
          const earlyAtB = waitFor(b, 'chat', (m) => m.text === 'early from a');
          a.once('peer-connected', () => void a.broadcastMessage('early from a'));
          b.once('peer-connected', () => void b.broadcastMessage('early from b'));
          const results = await Promise.allSettled([
            a.connectToPeer(addressOf(b)),
            b.connectToPeer(addressOf(a)),
          ]);
          const outcome = results.map((r) => r.status).join('/');
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          for (const r of results) {
            if (r.status === 'rejected') {
              assert.equal(
                (r.reason as { code?: string }).code,
                'ERR_DUPLICATE_PEER',
                `round ${round}: ${String(r.reason)}`,
              );
            } else {
              assert.ok(r.value.id === a.id || r.value.id === b.id);
            }
          }
          await waitForPeerCount([a, b], 1);
          const [pa] = a.getPeerInfo().peers;
          const [pb] = b.getPeerInfo().peers;
          assert.ok(pa && pb);
          assert.equal(pa.id, b.id);
          assert.equal(pb.id, a.id);
          assert.notEqual(pa.direction, pb.direction, `round ${round}: complementary directions`);
          assert.equal(countA(), 1, `round ${round}: A's events net to one peer`);
          assert.equal(countB(), 1, `round ${round}: B's events net to one peer`);

          await Promise.all([earlyAtA, earlyAtB]);
          // The kept connection carries traffic both ways.
          const atA = waitFor(a, 'chat', (m) => m.text === `to a ${round}`);
          const atB = waitFor(b, 'chat', (m) => m.text === `to b ${round}`);
          await Promise.all([b.broadcastMessage(`to a ${round}`), a.broadcastMessage(`to b ${round}`)]);
          await Promise.all([atA, atB]);

          if (osCheck) {
            // The OS agrees: one TCP connection, dialled by the side that calls it outbound.
            const { listenPort } = await theOneConnection(a, b);
            const dialer = pa.direction === 'outbound' ? a : b;
            const listener = dialer === a ? b : a;
            assert.equal(
              listenPort,
              listener.port,
              `round ${round}: the connection was dialled by ${dialer.name}`,
            );
          }
          assert.equal(a.getPeerInfo().peers.length, 1);
          assert.equal(b.getPeerInfo().peers.length, 1);
          await Promise.all([a.close(), b.close()]);
        }
        t.diagnostic(
          `outcomes (A→B / B→A): ${JSON.stringify(Object.fromEntries(outcomes))}; OS check: ${osCheck}`,
        );
      },
    );
  });
}

test(
  'a connection replaced by the tie-break still delivers what the peer sent on it (compat)',
  { timeout: 10_000 },
  async (t) => {
    const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
    const listener = await RawCompatListener.listen(t);
    // The raw peer's ID is above any node ID, so the node's own dial wins the tie-break.
    const id = 'f'.repeat(32);
    const connected = waitFor(node, 'peer-connected');
    const old = await RawCompatPeer.join(t, node, 'raw', listener.address, id);
    await connected;
    // The node dials the raw peer too, under another address form, so it does not know it is the same peer.
    const dialling = node.connectToPeer(`localhost:${listener.port}`);
    const fresh = await listener.accept();
    assert.equal(await fresh.readLine(), `${node.id}:${node.name}`);
    await fresh.readLine(); // LISTEN
    const onOld = waitFor(node, 'chat', (m) => m.text === 'sent on the old one');
    const onNew = waitFor(node, 'chat', (m) => m.text === 'sent on the new one');
    fresh.send(`${id}:raw\n`);
    assert.equal((await dialling).id, id);
    // The node now uses the new connection; the peer's message still in flight on the old one arrives.
    old.send('sent on the old one\n');
    fresh.send('sent on the new one\n');
    await Promise.all([onOld, onNew]);
    await old.expectClose(); // the node closes the old one (after the peer's last bytes)
    assert.equal(node.getPeerInfo().peers.length, 1);
    assert.equal(node.getPeerInfo().peers[0]?.direction, 'outbound');
    await node.broadcastMessage('to the survivor');
    assert.equal(await fresh.readLineSkippingPings(), 'REQUEST_PEERS');
    assert.equal(await fresh.readLineSkippingPings(), 'to the survivor');
  },
);
