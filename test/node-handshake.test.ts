import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { P2PNode } from '../src/node.js';
import { MeshwireError } from '../src/errors.js';
import type { NodeOptions } from '../src/options.js';
import {
  addressOf,
  createTestNode,
  MODES,
  record,
  startNode,
  TEST_DEFAULTS,
  waitFor,
  waitForPeerCount,
} from './helpers/nodes.js';

for (const mode of MODES) {
  describe(`two-node handshake (${mode})`, () => {
    test('both sides report the connection with direction, count and max', { timeout: 10_000 }, async (t) => {
      const a = await startNode(t, { mode, name: 'alice', maxPeers: 7 });
      const b = await startNode(t, { mode, maxPeers: 5 });
      const aConnected = waitFor(a, 'peer-connected');
      const bConnected = waitFor(b, 'peer-connected');
      const before = Date.now();

      const ref = await b.connectToPeer(addressOf(a));
      assert.equal(ref.id, a.id);
      assert.equal(ref.name, 'alice');
      assert.equal(ref.address, addressOf(a));

      const [onA, onB] = await Promise.all([aConnected, bConnected]);
      assert.equal(onA.direction, 'inbound');
      assert.equal(onA.peerCount, 1);
      assert.equal(onA.maxPeers, 7);
      assert.deepEqual(onA.peer, { id: b.id, name: b.id, address: addressOf(b) });
      assert.equal(onB.direction, 'outbound');
      assert.equal(onB.peerCount, 1);
      assert.equal(onB.maxPeers, 5);
      assert.deepEqual(onB.peer, { id: a.id, name: 'alice', address: addressOf(a) });

      const infoA = a.getPeerInfo();
      const infoB = b.getPeerInfo();
      assert.equal(infoA.id, a.id);
      assert.equal(infoA.port, a.port);
      assert.equal(infoA.mode, mode);
      assert.equal(infoA.maxPeers, 7);
      assert.equal(infoA.peers.length, 1);
      assert.equal(infoB.peers.length, 1);
      const [peerOfA] = infoA.peers;
      const [peerOfB] = infoB.peers;
      assert.ok(peerOfA && peerOfB);
      assert.equal(peerOfA.id, b.id);
      assert.equal(peerOfA.address, addressOf(b), 'the listener knows the dialer by its listen address');
      assert.equal(peerOfA.direction, 'inbound');
      assert.equal(peerOfB.id, a.id);
      assert.equal(peerOfB.name, 'alice');
      assert.equal(peerOfB.address, addressOf(a));
      assert.equal(peerOfB.direction, 'outbound');
      for (const p of [peerOfA, peerOfB]) {
        assert.ok(p.connectedAt >= before && p.connectedAt <= Date.now());
        assert.ok(p.lastSeen >= p.connectedAt);
      }
      const knownOnA = infoA.known.find((k) => k.address === addressOf(b));
      const knownOnB = infoB.known.find((k) => k.address === addressOf(a));
      assert.ok(knownOnA, 'A knows B by its listen address');
      assert.ok(knownOnB, 'B knows A by the dialled address');
      for (const k of [knownOnA, knownOnB]) {
        assert.ok(k.firstSeen >= before && k.firstSeen <= Date.now());
        assert.equal(k.connected, true);
      }
      assert.equal(knownOnA.id, b.id);
      assert.equal(knownOnB.id, a.id);
    });

    test('connectToPeer of a connected address resolves with that peer', { timeout: 10_000 }, async (t) => {
      const a = await startNode(t, { mode });
      const b = await startNode(t, { mode });
      await b.connectToPeer(addressOf(a));
      const again = await b.connectToPeer(addressOf(a));
      assert.equal(again.id, a.id);
      assert.equal(b.getPeerInfo().peers.length, 1);
      assert.equal(a.getPeerInfo().peers.length, 1);
    });

    test('a node reports system-start with its port', { timeout: 10_000 }, async (t) => {
      const node = createTestNode(t, { mode, name: 'solo' });
      const started = waitFor(node, 'system-start');
      await node.start();
      const msg = await started;
      assert.equal(msg.port, node.port);
      assert.ok(node.port > 0);
      assert.equal(msg.name, 'solo');
      assert.equal(msg.mode, mode);
      assert.equal(msg.id, node.id);
    });
  });
}

describe('invalid options', () => {
  const cases: [keyof NodeOptions, NodeOptions][] = [
    ['maxPeers', { maxPeers: 0 }],
    ['maxPeers', { maxPeers: 1.5 }],
    ['port', { port: 70_000 }],
    ['port', { port: -1 }],
    ['mode', { mode: 'x' as never }],
    ['bootstrap', { bootstrap: 'nope' }],
    ['bootstrap', { bootstrap: '127.0.0.1:0' }],
    ['peerTimeoutMs', { peerTimeoutMs: -5 }],
    ['maintenanceIntervalMs', { maintenanceIntervalMs: Number.NaN }],
    ['bootstrapRetryMs', { bootstrapRetryMs: [] }],
    ['bootstrapRetryMs', { bootstrapRetryMs: [10, -1] }],
    ['maxBytesPerMessage', { maxBytesPerMessage: 0 }],
    ['name', { name: 'a:b' }],
    ['host', { host: '' }],
    ['networkKey', { mode: 'compat', networkKey: 'secret' }],
  ];
  for (const [option, options] of cases) {
    test(`${JSON.stringify(options, (_k, v: unknown) => (Number.isNaN(v) ? 'NaN' : v))} throws ERR_INVALID_OPTION naming ${option}`, () => {
      assert.throws(
        () => new P2PNode(options),
        (err: unknown) =>
          err instanceof MeshwireError && err.code === 'ERR_INVALID_OPTION' && err.message.includes(option),
      );
    });
  }
});

for (const mode of MODES) {
  describe(`close (${mode})`, () => {
    test('peers see peer-disconnected promptly', { timeout: 10_000 }, async (t) => {
      // No heartbeat or stale cleanup can fire during the test: only the close itself can explain it.
      const slow = { mode, maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 };
      const a = await startNode(t, slow);
      const b = await startNode(t, slow);
      await b.connectToPeer(addressOf(a));
      await waitForPeerCount([a, b], 1);
      const gone = waitFor(a, 'peer-disconnected', (m) => m.peer.id === b.id, 2_000);
      const bGone = waitFor(b, 'peer-disconnected', (m) => m.peer.id === a.id, 2_000);
      await b.close();
      const [msg, own] = await Promise.all([gone, bGone]);
      assert.equal(msg.peerCount, 0);
      assert.equal(own.reason, 'local-close');
      assert.equal(a.getPeerInfo().peers.length, 0);
    });

    test('close twice and concurrently is fine; later calls are refused', { timeout: 10_000 }, async (t) => {
      const a = await startNode(t, { mode });
      const b = await startNode(t, { mode });
      await b.connectToPeer(addressOf(a));
      await Promise.all([b.close(), b.close()]);
      await b.close();
      await assert.rejects(b.connectToPeer(addressOf(a)), { code: 'ERR_CLOSED' });
      await assert.rejects(b.listen(), { code: 'ERR_CLOSED' });
      const report = await b.broadcastMessage('after close');
      assert.deepEqual(report.sent, []);
    });

    test('a node closed before start is fine', { timeout: 5_000 }, async (t) => {
      const node = createTestNode(t, { mode });
      await node.close();
      await node.close();
      await assert.rejects(node.start(), { code: 'ERR_CLOSED' });
    });

    test('`await using` closes the node at the end of the block', { timeout: 10_000 }, async (t) => {
      const a = await startNode(t, { mode, maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 });
      let gone: Promise<unknown> | undefined;
      let port = 0;
      {
        await using scoped = new P2PNode({ ...TEST_DEFAULTS, mode });
        await scoped.start();
        port = scoped.port;
        await scoped.connectToPeer(addressOf(a));
        gone = waitFor(a, 'peer-disconnected', (m) => m.peer.id === scoped.id, 2_000);
      }
      await gone;
      // The listening socket is released too.
      await assert.rejects(a.connectToPeer(`127.0.0.1:${port}`), (err: MeshwireError) =>
        ['ERR_CONNECTION_REFUSED', 'ERR_CONNECT_TIMEOUT'].includes(err.code),
      );
    });

    test('close() ends messages() iterators', { timeout: 5_000 }, async (t) => {
      const node = await startNode(t, { mode });
      const seen = record(node);
      const iterator = node.messages();
      const done = (async () => {
        const types: string[] = [];
        for await (const m of iterator) types.push(m.type);
        return types;
      })();
      await node.close();
      assert.deepEqual(await done, []);
      assert.deepEqual(seen, []);
    });
  });
}

for (const mode of MODES) {
  test(
    `disconnectPeer closes one connection, both sides report it (${mode})`,
    { timeout: 10_000 },
    async (t) => {
      const a = await startNode(t, { mode, maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 });
      const b = await startNode(t, { mode, maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 });
      const c = await startNode(t, {
        mode,
        maintenanceIntervalMs: 60_000,
        peerTimeoutMs: 60_000,
        autoConnectMax: 0,
      });
      await a.connectToPeer(addressOf(b));
      await a.connectToPeer(addressOf(c));
      const local = waitFor(a, 'peer-disconnected', (m) => m.peer.id === b.id);
      const remote = waitFor(b, 'peer-disconnected', (m) => m.peer.id === a.id);
      a.disconnectPeer(b.id);
      assert.equal((await local).reason, 'local-close');
      assert.equal((await remote).reason, mode === 'secure' ? 'goodbye' : 'closed');
      assert.deepEqual(
        a.getPeerInfo().peers.map((p) => p.id),
        [c.id],
        'the other peer stays connected',
      );
      assert.throws(
        () => a.disconnectPeer(b.id),
        (err: MeshwireError) => err.code === 'ERR_UNKNOWN_PEER',
      );
    },
  );
}
