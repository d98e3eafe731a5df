import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { P2PNode } from '../src/node.js';
import type { MeshMessage } from '../src/messages.js';
import {
  addressOf,
  closedPort,
  createTestNode,
  MODES,
  RawCompatPeer,
  randomCompatId,
  record,
  startNode,
  waitFor,
  waitForPeerCount,
  waitUntil,
} from './helpers/nodes.js';

/** Highest peerCount a node ever reported, and a check that its table never held more. */
function trackMaxPeers(node: P2PNode): { max: () => number } {
  let max = 0;
  node.on('peer-connected', (m) => {
    max = Math.max(max, m.peerCount, node.getPeerInfo().peers.length);
  });
  return { max: () => max };
}

for (const mode of MODES) {
  describe(`DUPLICATE and MAX_PEERS (${mode})`, () => {
    test(
      'dialling a connected peer under another address form is refused as duplicate',
      { timeout: 10_000 },
      async (t) => {
        const a = await startNode(t, { mode });
        const b = await startNode(t, { mode });
        await b.connectToPeer(addressOf(a));
        await waitForPeerCount([a, b], 1);
        const failed = waitFor(b, 'connection-failed', (m) => m.address === `localhost:${a.port}`);
        await assert.rejects(b.connectToPeer(`localhost:${a.port}`), { code: 'ERR_DUPLICATE_PEER' });
        assert.equal((await failed).error.code, 'ERR_DUPLICATE_PEER');
        assert.equal(a.getPeerInfo().peers.length, 1);
        assert.equal(b.getPeerInfo().peers.length, 1);
        // The original connection is untouched.
        const chat = waitFor(a, 'chat', (m) => m.text === 'still here');
        await b.broadcastMessage('still here');
        assert.equal((await chat).from.id, b.id);
      },
    );

    test('maxPeers 1: a third node gets ERR_MAX_PEERS', { timeout: 10_000 }, async (t) => {
      const a = await startNode(t, { mode, maxPeers: 1 });
      const b = await startNode(t, { mode });
      const c = await startNode(t, { mode });
      await b.connectToPeer(addressOf(a));
      await assert.rejects(c.connectToPeer(addressOf(a)), { code: 'ERR_MAX_PEERS' });
      assert.equal(a.getPeerInfo().peers.length, 1);
      assert.equal(c.getPeerInfo().peers.length, 0);
      // A full node refuses to dial out as well.
      await assert.rejects(a.connectToPeer(addressOf(c)), { code: 'ERR_MAX_PEERS' });
    });

    test('maxPeers holds under concurrent handshakes from many nodes', { timeout: 20_000 }, async (t) => {
      const a = await startNode(t, { mode, maxPeers: 3 });
      const tracker = trackMaxPeers(a);
      const dialers: P2PNode[] = [];
      for (let i = 0; i < 12; i++) dialers.push(await startNode(t, { mode, autoConnectMax: 0 }));
      const results = await Promise.allSettled(dialers.map((d) => d.connectToPeer(addressOf(a))));
      const ok = results.filter((r) => r.status === 'fulfilled').length;
      const codes = results.flatMap((r) =>
        r.status === 'rejected' ? [(r.reason as { code: string }).code] : [],
      );
      assert.equal(ok, 3, `3 admitted (codes: ${codes.join(',')})`);
      assert.deepEqual(new Set(codes), new Set(['ERR_MAX_PEERS']));
      assert.equal(a.getPeerInfo().peers.length, 3);
      assert.ok(tracker.max() <= 3, `never more than 3 peers (saw ${tracker.max()})`);
    });
  });
}

describe('DUPLICATE and MAX_PEERS on the wire (compat)', () => {
  test(
    'a second connection with the same ID gets DUPLICATE and is closed',
    { timeout: 10_000 },
    async (t) => {
      const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
      const id = randomCompatId();
      await RawCompatPeer.join(t, node, 'first', '127.0.0.1:1', id);
      const second = await RawCompatPeer.dial(t, node.port, id);
      second.sendHello('second', '127.0.0.1:2');
      assert.equal(await second.readLine(), 'DUPLICATE');
      await second.expectClose();
      assert.equal(second.pending, 0, 'nothing after DUPLICATE');
      assert.equal(node.getPeerInfo().peers.length, 1);
      assert.equal(node.getPeerInfo().peers[0]?.name, 'first');
    },
  );

  test('a peer over maxPeers gets MAX_PEERS and is closed', { timeout: 10_000 }, async (t) => {
    const node = await startNode(t, { mode: 'compat', maxPeers: 1, maintenanceIntervalMs: 60_000 });
    await RawCompatPeer.join(t, node, 'first');
    const second = await RawCompatPeer.dial(t, node.port);
    second.sendHello('second', '127.0.0.1:2');
    assert.equal(await second.readLine(), 'MAX_PEERS');
    await second.expectClose();
    assert.equal(second.pending, 0, 'nothing after MAX_PEERS');
    assert.equal(node.getPeerInfo().peers.length, 1);
  });

  test('30 concurrent raw handshakes never exceed maxPeers', { timeout: 10_000 }, async (t) => {
    const node = await startNode(t, { mode: 'compat', maxPeers: 5, maintenanceIntervalMs: 60_000 });
    const tracker = trackMaxPeers(node);
    const peers = await Promise.all(Array.from({ length: 30 }, () => RawCompatPeer.dial(t, node.port)));
    // All hellos go out before any answer is read.
    peers.forEach((p, i) => p.sendHello(`p${i}`, `127.0.0.1:${10_000 + i}`));
    const answers = await Promise.all(peers.map((p) => p.readLine()));
    const admitted = answers.filter((line) => line === `${node.id}:${node.name}`);
    const refused = answers.filter((line) => line === 'MAX_PEERS');
    assert.equal(admitted.length, 5);
    assert.equal(refused.length, 25);
    assert.equal(node.getPeerInfo().peers.length, 5);
    assert.ok(tracker.max() <= 5, `never more than 5 (saw ${tracker.max()})`);
  });

  test('30 concurrent raw handshakes with one ID admit exactly one', { timeout: 10_000 }, async (t) => {
    const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
    const id = randomCompatId();
    const peers = await Promise.all(Array.from({ length: 30 }, () => RawCompatPeer.dial(t, node.port, id)));
    peers.forEach((p, i) => p.sendHello(`p${i}`, `127.0.0.1:${10_000 + i}`));
    const answers = await Promise.all(peers.map((p) => p.readLine()));
    assert.equal(answers.filter((line) => line === `${node.id}:${node.name}`).length, 1);
    assert.equal(answers.filter((line) => line === 'DUPLICATE').length, 29);
    assert.equal(node.getPeerInfo().peers.length, 1);
  });
});

describe('stale-peer cleanup', () => {
  test(
    'a raw compat peer that goes silent is dropped after peerTimeoutMs',
    { timeout: 10_000 },
    async (t) => {
      const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 50, peerTimeoutMs: 300 });
      const raw = await RawCompatPeer.join(t, node, 'silent', '127.0.0.1:1');
      const joinedAt = Date.now();
      const cleanup = waitFor(node, 'maintenance-cleanup', (m) => m.peer.id === raw.id, 3_000);
      const gone = waitFor(node, 'peer-disconnected', (m) => m.peer.id === raw.id, 3_000);
      const m = await cleanup;
      const d = await gone;
      assert.equal(m.reason, 'timeout');
      assert.equal(m.peer.name, 'silent');
      assert.equal(d.reason, 'timeout');
      assert.equal(d.error?.code, 'ERR_PEER_TIMEOUT');
      assert.equal(d.peerCount, 0);
      assert.ok(Date.now() - joinedAt >= 300, 'not before peerTimeoutMs');
      // The node pinged it meanwhile, then closed the connection.
      assert.equal(await raw.readLine(), 'PING');
      await raw.expectClose();
    },
  );

  test('a raw compat peer that answers PING stays', { timeout: 10_000 }, async (t) => {
    const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 50, peerTimeoutMs: 300 });
    const silent = await RawCompatPeer.join(t, node, 'silent', '127.0.0.1:1');
    const alive = await RawCompatPeer.join(t, node, 'alive', '127.0.0.1:2');
    const gone = waitFor(node, 'peer-disconnected', (m) => m.peer.id === silent.id, 3_000);
    const answering = (async () => {
      while (!alive.ended) {
        const line = await alive.readLine(1_000).catch(() => undefined);
        if (line === 'PING') alive.send('PONG\n');
        if (line === undefined) return;
      }
    })();
    await gone;
    assert.deepEqual(
      node.getPeerInfo().peers.map((p) => p.name),
      ['alive'],
    );
    alive.socket.destroy();
    await answering;
  });
});

for (const mode of MODES) {
  test(`bootstrap-failed after the retries (${mode})`, { timeout: 10_000 }, async (t) => {
    const port = await closedPort();
    const address = `127.0.0.1:${port}`;
    const node = createTestNode(t, { mode, bootstrap: address, bootstrapRetryMs: [20, 20] });
    const failures: MeshMessage[] = [];
    node.on('connection-failed', (m) => failures.push(m));
    const failed = waitFor(node, 'bootstrap-failed');
    await node.start();
    const msg = await failed;
    assert.equal(msg.address, address);
    assert.equal(msg.attempts, 3, 'bootstrapRetryMs.length + 1 attempts');
    assert.equal(msg.error.code, 'ERR_BOOTSTRAP_FAILED');
    assert.equal(failures.length, 3);
    // The API form rejects with the same code.
    await assert.rejects(node.bootstrap(address), { code: 'ERR_BOOTSTRAP_FAILED' });
  });

  test(`bootstrap-success reports the peer and attempts (${mode})`, { timeout: 10_000 }, async (t) => {
    const a = await startNode(t, { mode });
    const node = createTestNode(t, { mode, bootstrap: addressOf(a) });
    const ok = waitFor(node, 'bootstrap-success');
    await node.start();
    const msg = await ok;
    assert.equal(msg.attempts, 1);
    assert.equal(msg.peer.id, a.id);
    assert.equal(msg.address, addressOf(a));
  });
}

describe('oversize and malformed BYTES (compat)', () => {
  for (const [header, code] of [
    ['BYTES:99999999999', 'ERR_FRAME_TOO_LARGE'],
    ['BYTES:16777217', 'ERR_FRAME_TOO_LARGE'],
    ['BYTES:-1', 'ERR_MALFORMED_FRAME'],
  ] as const) {
    test(`${header} drops that peer with ${code}; the node keeps serving`, { timeout: 10_000 }, async (t) => {
      const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
      const messages = record(node);
      const bad = await RawCompatPeer.join(t, node, 'bad', '127.0.0.1:1');
      const errorEvent = waitFor(node, 'error', (m) => m.peer?.id === bad.id);
      const gone = waitFor(node, 'peer-disconnected', (m) => m.peer.id === bad.id);
      bad.send(`${header}\n`);
      const [error, d] = await Promise.all([errorEvent, gone]);
      assert.equal(error.error.code, code);
      assert.equal(d.error?.code, code);
      assert.equal(d.reason, 'protocol-error');
      await bad.expectClose();
      assert.equal(node.getPeerInfo().peers.length, 0);

      // A legitimate peer is served afterwards, BYTES included.
      const good = await RawCompatPeer.join(t, node, 'good', '127.0.0.1:2');
      const chat = waitFor(node, 'chat', (m) => m.from.id === good.id);
      const bytes = waitFor(node, 'bytes', (m) => m.from.id === good.id);
      good.send('still alive\nBYTES:3\nabc');
      assert.equal((await chat).text, 'still alive');
      assert.deepEqual(Buffer.from((await bytes).data), Buffer.from('abc'));
      assert.ok(!messages.some((m) => m.type === 'bytes' && m.from.id === bad.id));
    });
  }

  test('a BYTES message at exactly maxBytesPerMessage is accepted', { timeout: 10_000 }, async (t) => {
    const node = await startNode(t, {
      mode: 'compat',
      maxBytesPerMessage: 1000,
      maintenanceIntervalMs: 60_000,
    });
    const raw = await RawCompatPeer.join(t, node, 'edge', '127.0.0.1:1');
    const bytes = waitFor(node, 'bytes');
    const gone = waitFor(node, 'peer-disconnected');
    raw.send(Buffer.concat([Buffer.from('BYTES:1000\n'), Buffer.alloc(1000, 7)]));
    assert.equal((await bytes).data.length, 1000);
    raw.send('BYTES:1001\n');
    assert.equal((await gone).error?.code, 'ERR_FRAME_TOO_LARGE');
  });
});

test('a misbehaving peer never produces an unhandled error', { timeout: 10_000 }, async (t) => {
  // No 'error' listener at all: the node must survive garbage from many connections.
  const node = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
  const garbage = [
    Buffer.from([0x16, 0x03, 0x01, 0x00]), // a TLS ClientHello on the plaintext port
    Buffer.from('no-colon-here\n'),
    Buffer.from(`${'x'.repeat(300_000)}\n`), // longer than maxLineBytes
    Buffer.from([0x61, 0x3a, 0xff, 0xfe, 0x0a]), // invalid UTF-8
    Buffer.from(`${randomCompatId()}:ok\nBYTES:-1\n`),
  ];
  const peers = await Promise.all(garbage.map(() => RawCompatPeer.dial(t, node.port)));
  peers.forEach((p, i) => p.send(garbage[i] as Buffer));
  await Promise.all(peers.map((p) => p.expectClose()));
  const good = await RawCompatPeer.join(t, node, 'good');
  await waitUntil([node], () => node.getPeerInfo().peers.length === 1, 'the good peer is connected');
  good.socket.destroy();
});

test(
  'a silent or half-sent handshake is closed at connectionTimeoutMs as ERR_HANDSHAKE_TIMEOUT',
  { timeout: 10_000 },
  async (t) => {
    const node = await startNode(t, { mode: 'compat', connectionTimeoutMs: 150 });
    const errors: string[] = [];
    node.on('error', (m) => errors.push(m.error.code));
    const silent = await RawCompatPeer.dial(t, node.port);
    const half = await RawCompatPeer.dial(t, node.port);
    half.send(`${randomCompatId()}:no-newline`);
    const started = Date.now();
    await Promise.all([silent.expectClose(), half.expectClose()]);
    assert.ok(Date.now() - started >= 100, 'not before the deadline');
    await waitUntil([node], () => errors.length === 2, 'both reported');
    assert.deepEqual(errors, ['ERR_HANDSHAKE_TIMEOUT', 'ERR_HANDSHAKE_TIMEOUT']);
    assert.equal(node.getPeerInfo().peers.length, 0);
  },
);
