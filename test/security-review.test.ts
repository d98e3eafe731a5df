/**
 * The findings of the outside security review that concern connection setup and discovery
 * (issue 9, items 1, 3, 4 and 7), each reproduced over real sockets: address poisoning and the
 * expectedId bypass, PEERS lists that turn a node into a port scanner, a peer book locked full
 * of junk, and ghost peers admitted after their connection closed.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createIdentity } from '../src/secure/identity.js';
import type { MeshMessage } from '../src/messages.js';
import { helloFrame, RawNativePeer } from './support-secure/raw-native.js';
import { addressOf, RawCompatPeer, record, startNode, waitFor, waitForPeerCount } from './helpers/nodes.js';
import { pollUntil, waitForQuiet } from './helpers/wait.js';

/** Resolves once `check()` holds (polled: some of these states have no event), or rejects naming `what`. */
function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return pollUntil(check, what, { timeoutMs });
}

/** TCP listeners that count connection attempts and close each one at once (a "closed" service). */
async function countingListeners(
  t: TestContext,
  n: number,
): Promise<{ ports: number[]; hits: () => number }> {
  let hits = 0;
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const server = net.createServer((socket) => {
      hits++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    ports.push((server.address() as net.AddressInfo).port);
  }
  return { ports, hits: () => hits };
}

/** Resolves once `value()` has stayed the same for `quietMs` (bounded by `timeoutMs`). */
async function settled(value: () => number, quietMs: number, timeoutMs: number): Promise<number> {
  return (await waitForQuiet(value, quietMs, timeoutMs, 20)).value;
}

describe('item 1: a claimed listen address binds nothing', () => {
  test(
    'a peer claiming an honest address cannot answer for it, nor make it unreachable',
    { timeout: 20_000 },
    async (t) => {
      const victim = await startNode(t);
      const honest = await startNode(t, { name: 'honest' });
      const events = record(victim);
      // The attacker connects first and says it listens on the honest node's address.
      const attackerIdentity = await createIdentity();
      const attacker = await RawNativePeer.dial(t, victim.port, attackerIdentity);
      attacker.send(helloFrame(attackerIdentity.id, [addressOf(honest)], 'attacker'));
      await waitUntil(
        () => victim.getPeerInfo().peers.some((p) => p.id === attackerIdentity.id),
        3_000,
        'attacker in',
      );
      assert.equal(
        victim.getPeerInfo().peers.find((p) => p.id === attackerIdentity.id)?.address,
        addressOf(honest),
      );

      // expectedId resolves only with the certified owner of that ID, whatever else is connected.
      const ref = await victim.connectToPeer(addressOf(honest), { expectedId: honest.id });
      assert.equal(ref.id, honest.id);
      const secret = waitFor(honest, 'chat', (m) => m.text === 'secret', 3_000);
      await victim.sendMessageToPeer(ref.id, 'secret');
      await secret;
      assert.ok(!attacker.frames.some((f) => f.type === 'chat'), 'the attacker got no chat');

      // Without expectedId too: the dial goes to the address, not to whoever claimed it.
      victim.disconnectPeer(honest.id);
      await waitUntil(
        () => !victim.getPeerInfo().peers.some((p) => p.id === honest.id),
        3_000,
        'honest gone',
      );
      const again = await victim.connectToPeer(addressOf(honest));
      assert.equal(again.id, honest.id);

      // The claim left no binding behind: once the attacker is gone, the honest address works.
      attacker.socket.destroy();
      await waitUntil(
        () => !victim.getPeerInfo().peers.some((p) => p.id === attackerIdentity.id),
        3_000,
        'attacker gone',
      );
      victim.disconnectPeer(honest.id);
      await waitUntil(
        () => !victim.getPeerInfo().peers.some((p) => p.id === honest.id),
        3_000,
        'honest gone',
      );
      const third = await victim.connectToPeer(addressOf(honest));
      assert.equal(third.id, honest.id);
      const entry = victim.getPeerInfo().known.find((k) => k.address === addressOf(honest));
      assert.equal(entry?.id, honest.id);
      assert.equal(entry?.verified, true);
      assert.ok(
        !events.some((m) => m.type === 'connection-failed' && m.error.code === 'ERR_PEER_ID_MISMATCH'),
        'no dial failed with an ID mismatch',
      );
    },
  );
});

describe('item 3: what PEERS lists can make a node dial is bounded', () => {
  test(
    'a peer listing 40 dead services gets at most its per-source budget dialled',
    { timeout: 20_000 },
    async (t) => {
      const { ports, hits } = await countingListeners(t, 40);
      const victim = await startNode(t, { mode: 'compat', autoConnectJitterMs: 0, autoConnectMax: 3 });
      const attacker = await RawCompatPeer.join(t, victim, 'scanner');
      const list = ports.map((p) => `127.0.0.1:${p}`).join(',');
      // Five lists in a row: a new list must not restart the scan.
      for (let i = 0; i < 5; i++) attacker.send(`PEERS:${list}\n`);
      // Discovery still dials what a peer names (on a loaded machine the first dial can take a
      // while), then the budget stops it: 1 s without a new attempt counts as stopped.
      await waitUntil(() => hits() >= 1, 8_000, 'the first dial of a listed address');
      const total = await settled(hits, 1_000, 10_000);
      // The budget is 2 x autoConnectMax failed dials per source per minute.
      assert.ok(total <= 6, `dialled ${total} of the listed services`);
      assert.ok(total >= 1, 'discovery still dials what a peer names');
      // The attacker could not make the node its scanner, and the node still serves real peers.
      const honest = await startNode(t, { mode: 'compat' });
      await honest.connectToPeer(addressOf(victim));
      await waitForPeerCount([honest], 1);
    },
  );

  test('a source naming real peers is not slowed down', { timeout: 20_000 }, async (t) => {
    // Eight real nodes known to one hub: a newcomer learns them all from the hub's single list and
    // connects to every one, far beyond the per-source budget, because each dial succeeds.
    const hub = await startNode(t, { maxPeers: 20 });
    const others = [];
    for (let i = 0; i < 8; i++) {
      const n = await startNode(t, { maxPeers: 20 });
      await n.connectToPeer(addressOf(hub));
      others.push(n);
    }
    await waitForPeerCount([hub], 8);
    const newcomer = await startNode(t, { maxPeers: 20, autoConnectMax: 1 });
    await newcomer.connectToPeer(addressOf(hub));
    await waitForPeerCount([newcomer], 9, 10_000);
  });
});

describe('item 4: the peer book cannot be locked full', () => {
  test(
    'one source fills at most its share; honest addresses still get in; a crashed peer is redialled',
    { timeout: 20_000 },
    async (t) => {
      const victim = await startNode(t, { mode: 'compat', maxKnownPeers: 100, autoConnectMax: 0 });
      const honest = await startNode(t, { mode: 'compat', name: 'honest' });
      await victim.connectToPeer(addressOf(honest));
      // A peer without a listen address floods the book with 1,000 junk addresses.
      const flooder = await RawCompatPeer.join(t, victim, 'flooder');
      const junk = Array.from({ length: 1000 }, (_, i) => `10.${(i >> 8) & 255}.${i & 255}.1:9`).join(',');
      const discovered = waitFor(victim, 'peers-discovered', () => true, 3_000);
      flooder.send(`PEERS:${junk}\n`);
      await discovered;
      const fromFlooder = (): number =>
        victim.getPeerInfo().known.filter((k) => k.address.startsWith('10.')).length;
      assert.ok(fromFlooder() <= 25, `the flooder holds ${fromFlooder()} of 100 entries`);

      // A second honest peer's list still gets in.
      const other = await RawCompatPeer.join(t, victim, 'other');
      const got = waitFor(victim, 'peers-discovered', (m) => m.addresses.includes('192.0.2.7:8000'), 3_000);
      other.send('PEERS:192.0.2.7:8000\n');
      await got;

      // The honest peer crashes (its connection drops without a goodbye) and comes back: redialled.
      const port = honest.port;
      const gone = waitFor(victim, 'peer-disconnected', (m) => m.peer.name === 'honest', 5_000);
      await honest.close();
      await gone;
      const back = await startNode(t, { mode: 'compat', name: 'honest', port });
      const redialled = waitFor(victim, 'peer-connected', (m) => m.peer.name === 'honest', 10_000);
      await redialled;
      assert.ok(back.getPeerInfo().peers.length >= 1);
    },
  );
});

describe('item 7: no ghost peers with a slow firewall', () => {
  test('dialers that hang up during the firewall await never take a slot', { timeout: 20_000 }, async (t) => {
    let decided = 0;
    let asked = 0;
    const node = await startNode(t, {
      maxPeers: 3,
      firewall: async () => {
        asked++;
        await new Promise((resolve) => setTimeout(resolve, 100));
        decided++;
        return true;
      },
    });
    const messages: MeshMessage[] = record(node);
    for (let i = 0; i < 3; i++) {
      const identity = await createIdentity();
      const ghost = await RawNativePeer.dial(t, node.port, identity);
      ghost.send(helloFrame(identity.id, [], `ghost${i}`));
      // Hang up once the node has the hello (it is now awaiting the firewall).
      await waitUntil(() => asked > i, 3_000, 'the firewall asked');
      ghost.socket.end();
      ghost.socket.destroy();
    }
    await waitUntil(() => decided >= 3, 5_000, 'the firewall decided on all three');
    assert.equal(node.getPeerInfo().peers.length, 0, 'no ghost holds a slot');
    const legit = await startNode(t);
    const ref = await legit.connectToPeer(addressOf(node));
    assert.equal(ref.id, node.id);
    // Every peer-disconnected follows exactly one peer-connected of the same peer.
    const connected = new Set(messages.filter((m) => m.type === 'peer-connected').map((m) => m.peer.id));
    for (const m of messages) {
      if (m.type === 'peer-disconnected')
        assert.ok(connected.has(m.peer.id), `ghost ${m.peer.name} reported gone`);
    }
  });
});
