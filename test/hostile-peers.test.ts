/**
 * Hostile PEERS lists over real loopback sockets, in compat and secure mode: entries that point at
 * the node itself (plainly or in disguise), garbage entries, a closed port, and a peer that floods
 * the peer book with thousands of valid-looking unique addresses. The node must never connect to
 * itself, must ignore (compat) or refuse (native, PROTOCOL.md rule 11) garbage, must report the
 * closed port as connection-failed and carry on, and its peer book must stay within maxKnownPeers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import type { MeshMessage } from '../src/messages.js';
import type { P2PNode } from '../src/node.js';
import type { NodeOptions } from '../src/options.js';
import { createIdentity } from '../src/secure/index.js';
import {
  addressOf,
  closedPort,
  RawCompatListener,
  RawCompatPeer,
  record,
  startNode,
  waitFor,
  waitUntil,
  assertServesLegitimatePeer,
  ofType,
} from './helpers/nodes.js';
import { describeFrames, encodeFrames, helloFrame, RawNativePeer } from './support-secure/raw-native.js';

const TEST = { timeout: 15_000 };
const QUIET: NodeOptions = { maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 };

/** Nobody with the node's own ID ever connected. */
function assertNoSelfConnection(node: P2PNode, messages: MeshMessage[]): void {
  assert.deepEqual(
    ofType(messages, 'peer-connected').filter((m) => m.peer.id === node.id),
    [],
  );
  assert.ok(!node.getPeerInfo().peers.some((p) => p.id === node.id));
}

/** Sends a marker chat on `peer` and waits for it: everything sent before it has been handled. */
async function flushCompat(node: P2PNode, raw: RawCompatPeer): Promise<void> {
  const text = `marker ${randomBytes(4).toString('hex')}`;
  const seen = waitFor(node, 'chat', (m) => m.from.id === raw.id && m.text === text);
  raw.send(`${text}\n`);
  await seen;
}

async function flushNative(node: P2PNode, peer: RawNativePeer, id: string): Promise<void> {
  const text = `marker ${randomBytes(4).toString('hex')}`;
  const seen = waitFor(node, 'chat', (m) => m.from.id === id && m.text === text);
  peer.send({ type: 'chat', text });
  await seen;
}

/** Joins `node` as a raw native peer (hello answered with hello). */
async function joinNative(t: TestContext, node: P2PNode, listen: string[] = []) {
  const me = await createIdentity();
  const peer = await RawNativePeer.dial(t, node.port, me);
  const connected = waitFor(node, 'peer-connected', (m) => m.peer.id === me.id);
  peer.send(helloFrame(me.id, listen, 'raw'));
  assert.equal((await peer.nextFrame()).type, 'hello', describeFrames(peer.frames));
  await connected;
  return { peer, id: me.id };
}

describe('PEERS entries pointing at the node itself or at garbage', () => {
  test(
    'compat: self entries are never dialled, garbage is ignored, a closed port fails once',
    TEST,
    async (t) => {
      const node = await startNode(t, { mode: 'compat', ...QUIET });
      const messages = record(node);
      const own = await RawCompatListener.listen(t);
      const raw = await RawCompatPeer.join(t, node, 'raw', own.address);
      const closed = `127.0.0.1:${await closedPort()}`;
      const failed = waitFor(node, 'connection-failed', (m) => m.address === closed);
      const entries = [
        `127.0.0.1:${node.port}`,
        `localhost:${node.port}`,
        ':::',
        'a:b:c',
        '999.1.1.1:99999',
        '',
        ' ',
        '[::1]:1',
        `${'x'.repeat(400)}:1`,
        'host:0',
        'host:-1',
        closed,
      ];
      raw.send(`PEERS:${entries.join(',')}\n`);
      const { error } = await failed;
      assert.ok(error.code, 'the failure carries a code');
      await flushCompat(node, raw);
      assert.deepEqual(
        node
          .getPeerInfo()
          .known.map((k) => k.address)
          .sort(),
        [closed, own.address].sort(),
        'only the closed port was learnt (and the raw peer itself)',
      );
      assert.deepEqual(
        ofType(messages, 'connection-failed').map((m) => m.address),
        [closed],
        'nothing but the closed port was dialled',
      );
      assertNoSelfConnection(node, messages);
      assert.equal(node.getPeerInfo().peers.length, 1, 'the raw peer is still connected');
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'compat: disguised self addresses (0.0.0.0, LOCALHOST) are caught at the handshake, once',
    TEST,
    async (t) => {
      const node = await startNode(t, { mode: 'compat', ...QUIET });
      const messages = record(node);
      const own = await RawCompatListener.listen(t);
      const raw = await RawCompatPeer.join(t, node, 'raw', own.address);
      const disguised = [`0.0.0.0:${node.port}`, `LOCALHOST:${node.port}`];
      const caught = disguised.map((address) =>
        waitFor(node, 'connection-failed', (m) => m.address === address),
      );
      raw.send(`PEERS:${disguised.join(',')}\n`);
      for (const failed of await Promise.all(caught)) assert.equal(failed.error.code, 'ERR_SELF_CONNECTION');
      // Marked as the node's own: neither a repeated list nor a discovery round dials them again.
      raw.send(`PEERS:${disguised.join(',')}\n`);
      await flushCompat(node, raw);
      node.discover();
      await flushCompat(node, raw);
      assert.equal(ofType(messages, 'connection-failed').length, 2);
      assert.deepEqual(
        node.getPeerInfo().known.map((k) => k.address),
        [own.address],
      );
      assertNoSelfConnection(node, messages);
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'secure: self entries are never dialled, a closed port fails, disguised self is caught by its key',
    TEST,
    async (t) => {
      const node = await startNode(t, QUIET);
      const messages = record(node);
      const { peer, id } = await joinNative(t, node);
      const closed = `127.0.0.1:${await closedPort()}`;
      const disguised = `0.0.0.0:${node.port}`;
      const failures = [closed, disguised].map((address) =>
        waitFor(node, 'connection-failed', (m) => m.address === address),
      );
      peer.send({
        type: 'peers',
        peers: [
          { address: `127.0.0.1:${node.port}`, id: node.id },
          { address: `localhost:${node.port}` },
          { address: disguised },
          { address: closed, id: randomBytes(16).toString('hex') },
        ],
      });
      const [closedFailure, selfFailure] = await Promise.all(failures);
      assert.ok(closedFailure?.error.code);
      assert.equal(selfFailure?.error.code, 'ERR_SELF_CONNECTION');
      await flushNative(node, peer, id);
      assert.deepEqual(
        ofType(messages, 'connection-failed')
          .map((m) => m.address)
          .sort(),
        [closed, disguised].sort(),
      );
      assertNoSelfConnection(node, messages);
      assert.equal(node.getPeerInfo().peers.length, 1, 'the raw peer is still connected');
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'secure: a peers frame with a garbage address is malformed (rule 11): the sender is dropped',
    TEST,
    async (t) => {
      const node = await startNode(t, QUIET);
      for (const garbage of [':::', 'a:b:c', '999.1.1.1:99999', '', 'host:0']) {
        const { peer, id } = await joinNative(t, node);
        const knownBefore = node.getPeerInfo().known.length;
        const dropped = waitFor(node, 'peer-disconnected', (m) => m.peer.id === id);
        const bad = Buffer.from(garbage);
        const body = Buffer.concat([
          Buffer.from([0, 1, bad.length >> 8, bad.length & 255]),
          bad,
          Buffer.from([0]),
        ]);
        const header = Buffer.alloc(5);
        header.writeUInt32BE(body.length + 1, 0);
        header[4] = 0x06;
        peer.socket.write(Buffer.concat([encodeFrames({ type: 'chat', text: 'before' }), header, body]));
        const gone = await dropped;
        assert.equal(gone.reason, 'protocol-error', garbage);
        assert.equal(gone.error?.code, 'ERR_MALFORMED_FRAME', garbage);
        assert.equal(node.getPeerInfo().known.length, knownBefore, 'nothing learnt from the frame');
      }
      await assertServesLegitimatePeer(t, node);
    },
  );
});

/** `count` distinct valid loopback addresses with nothing behind them (all on one closed port). */
function floodAddresses(from: number, count: number, port: number): string[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return `127.${1 + ((i >> 16) & 127)}.${(i >> 8) & 255}.${i & 255 || 1}:${port}`;
  });
}

describe('a peer flooding the peer book', () => {
  for (const dialling of [false, true]) {
    test(
      `compat: 10 PEERS lines x 500 new addresses stay within maxKnownPeers${dialling ? ' (with dialling)' : ''}`,
      TEST,
      async (t) => {
        const node = await startNode(t, {
          mode: 'compat',
          ...QUIET,
          maxKnownPeers: 50,
          autoConnectMax: dialling ? 3 : 0,
        });
        const raw = await RawCompatPeer.join(t, node, 'flood');
        const port = await closedPort();
        let largest = 0;
        node.on('message', () => (largest = Math.max(largest, node.getPeerInfo().known.length)));
        for (let frame = 0; frame < 10; frame++) {
          raw.send(`PEERS:${floodAddresses(frame * 500, 500, port).join(',')}\n`);
          await flushCompat(node, raw);
          assert.ok(node.getPeerInfo().known.length <= 50, `${node.getPeerInfo().known.length} known`);
        }
        // One source's claims fill at most its share of the book (a quarter, at least 16).
        assert.equal(node.getPeerInfo().known.length, 16);
        assert.ok(largest <= 50, `the book reached ${largest}`);
        assert.equal(node.getPeerInfo().peers.length, 1, 'valid lists are no offence: the peer stays');
        await assertServesLegitimatePeer(t, node);
        assert.ok(node.getPeerInfo().known.length <= 50);
      },
    );
  }

  test('secure: 10 peers frames x 1000 new addresses with IDs stay within maxKnownPeers', TEST, async (t) => {
    const node = await startNode(t, { ...QUIET, maxKnownPeers: 50, autoConnectMax: 0 });
    const { peer, id } = await joinNative(t, node);
    const port = await closedPort();
    for (let frame = 0; frame < 10; frame++) {
      peer.send({
        type: 'peers',
        peers: floodAddresses(frame * 1000, 1000, port).map((address) => ({
          address,
          id: randomBytes(16).toString('hex'),
        })),
      });
      await flushNative(node, peer, id);
      assert.ok(node.getPeerInfo().known.length <= 50);
    }
    // One source's claims fill at most its share of the book (a quarter, at least 16).
    assert.equal(node.getPeerInfo().known.length, 16);
    assert.equal(node.getPeerInfo().peers.length, 1);
    await assertServesLegitimatePeer(t, node);
  });

  test('the flood cannot push out addresses of connected peers', TEST, async (t) => {
    const node = await startNode(t, { mode: 'compat', ...QUIET, maxKnownPeers: 20, autoConnectMax: 3 });
    const friend = await startNode(t, { mode: 'compat', ...QUIET, autoConnectMax: 0 });
    await friend.connectToPeer(addressOf(node));
    await waitUntil([node], () => node.getPeerInfo().peers.length === 1, 'the friend is connected');
    const raw = await RawCompatPeer.join(t, node, 'flood');
    const port = await closedPort();
    for (let frame = 0; frame < 5; frame++) {
      raw.send(`PEERS:${floodAddresses(frame * 200, 200, port).join(',')}\n`);
      await flushCompat(node, raw);
    }
    const known = node.getPeerInfo().known;
    assert.ok(known.length <= 20);
    assert.ok(
      known.some((k) => k.address === addressOf(friend) && k.connected),
      'the connected friend keeps its entry',
    );
    await assertServesLegitimatePeer(t, node);
  });
});
