/**
 * The gossip overlay driven by real nodes over loopback TLS (option `overlay`): nodes joined in
 * a chain through random earlier nodes, each keeping at most `maxPeers` neighbours, and a chat
 * broadcast from any node reaching every other exactly once, also after nodes leave.
 */
import assert from 'node:assert/strict';
import { sign as edSign } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { verifyBroadcast } from '../src/mesh/overlay-driver.js';
import { signedBytes, type SignedFields } from '../src/overlay/index.js';
import { peerIdFromPublicKey, rawEd25519PublicKey } from '../src/secure/identity.js';
import { MeshwireError } from '../src/errors.js';
import type { P2PNode } from '../src/node.js';
import { resolveOptions } from '../src/options.js';
import { addressOf, startNode, waitFor, waitUntil } from './helpers/nodes.js';
import { mulberry32 } from './helpers/random.js';
import { pollUntil } from './helpers/wait.js';
import { overlayConnected } from './helpers/overlay-net.js';
import { ed25519Pair } from './helpers/keys.js';

const MAX_PEERS = 4;

/** Chats each node received: `sender id|text`, in arrival order. */
function recordChats(nodes: P2PNode[]): Map<P2PNode, string[]> {
  const log = new Map<P2PNode, string[]>();
  for (const node of nodes) {
    const seen: string[] = [];
    log.set(node, seen);
    node.on('chat', (m) => seen.push(`${m.from.id}|${m.text}`));
  }
  return log;
}

function views(nodes: P2PNode[]): string {
  return nodes
    .map((n, i) => {
      const s = n.overlayStats()!;
      return `${i}: active ${s.active.length} pending ${s.pending.length} joined ${s.joined}`;
    })
    .join('; ');
}

/** Broadcasts `text` from `sender` and waits until every node of `others` has it. */
async function broadcastAndWait(
  sender: P2PNode,
  others: P2PNode[],
  log: Map<P2PNode, string[]>,
  text: string,
): Promise<void> {
  const key = `${sender.id}|${text}`;
  // After departures the sender may be between neighbours for a moment while the overlay repairs.
  await pollUntil(() => sender.overlayStats()!.active.length >= 1, 'the sender has a neighbour', {
    timeoutMs: 10_000,
  });
  const report = await sender.broadcastMessage(text);
  assert.ok(report.sent.length >= 1, 'at least one neighbour took the payload');
  assert.ok(report.sent.length <= MAX_PEERS);
  await waitUntil(
    others,
    () => others.every((n) => log.get(n)!.includes(key)),
    `"${text}" at every node`,
    20_000,
    () => `missing at ${others.filter((n) => !log.get(n)!.includes(key)).length} nodes; ${views(others)}`,
  );
}

async function startOverlayNetwork(t: TestContext, count: number, seed: number): Promise<P2PNode[]> {
  const random = mulberry32(seed);
  const nodes: P2PNode[] = [];
  for (let i = 0; i < count; i++) {
    const node = await startNode(t, { overlay: true, maxPeers: MAX_PEERS, name: `n${i}` });
    if (i > 0) await node.connectToPeer(addressOf(nodes[Math.floor(random() * i)]!));
    nodes.push(node);
  }
  await pollUntil(
    () =>
      nodes.every((n) => {
        const s = n.overlayStats()!;
        return s.active.length >= 1 && s.active.length <= MAX_PEERS && (s.joined || n === nodes[0]);
      }) && overlayConnected(nodes),
    'the overlay connects every node',
    { timeoutMs: 20_000, intervalMs: 50, describe: () => views(nodes) },
  );
  return nodes;
}

describe('overlay option', () => {
  it('is secure-only and must be a boolean', () => {
    assert.throws(
      () => resolveOptions({ mode: 'compat', overlay: true }),
      (e: unknown) =>
        e instanceof MeshwireError && e.code === 'ERR_INVALID_OPTION' && /overlay/.test(e.message),
    );
    assert.throws(
      () => resolveOptions({ overlay: 'yes' as never }),
      (e: unknown) =>
        e instanceof MeshwireError && e.code === 'ERR_INVALID_OPTION' && /overlay/.test(e.message),
    );
    assert.equal(resolveOptions({}).overlay, false);
    assert.equal(resolveOptions({ mode: 'compat', overlay: false }).overlay, false);
  });
});

describe('overlay signatures (PROTOCOL.md O9)', () => {
  it('verify a node key over the signed fields; an altered field or another key fails', () => {
    const key = (): { id: string; sign: (f: SignedFields) => Uint8Array } => {
      const { privateKey, publicKey } = ed25519Pair();
      const raw = rawEd25519PublicKey(publicKey);
      return {
        id: peerIdFromPublicKey(raw),
        sign: (f) => Buffer.concat([raw, edSign(null, signedBytes(f), privateKey)]),
      };
    };
    const alice = key();
    const mallory = key();
    const fields: SignedFields = { sender: alice.id, epoch: 7, seq: 1, kind: 0, payload: Buffer.from('hi') };
    const sig = alice.sign(fields);
    assert.equal(sig.length, 96);
    assert.equal(verifyBroadcast(fields, sig), true);
    for (const altered of [
      { ...fields, payload: Buffer.from('ho') },
      { ...fields, seq: 2 },
      { ...fields, epoch: 8 },
      { ...fields, kind: 1 },
      { ...fields, sender: mallory.id },
    ]) {
      assert.equal(verifyBroadcast(altered, sig), false, JSON.stringify(altered));
    }
    // Mallory signs "as Alice" with her own key: the key does not hash to Alice's ID.
    assert.equal(verifyBroadcast(fields, mallory.sign(fields)), false);
    const flipped = Buffer.from(sig);
    flipped[50]! ^= 1;
    assert.equal(verifyBroadcast(fields, flipped), false);
    assert.equal(verifyBroadcast(fields, sig.subarray(0, 95)), false);
    assert.equal(verifyBroadcast(fields, new Uint8Array(0)), false);
  });
});

describe('overlay over real sockets', { timeout: 90_000 }, () => {
  it('a node without the option still gets plain broadcasts from an overlay node, and no overlay frames', async (t) => {
    const withOverlay = await startNode(t, { overlay: true, maxPeers: MAX_PEERS });
    const plain = await startNode(t);
    const errors: string[] = [];
    plain.on('error', (m) => errors.push(m.error.message));
    withOverlay.on('error', (m) => errors.push(m.error.message));
    const connected = waitFor(withOverlay, 'peer-connected');
    await plain.connectToPeer(addressOf(withOverlay));
    await connected;
    const got = waitFor(plain, 'chat', (m) => m.text === 'to plain');
    const report = await withOverlay.broadcastMessage('to plain');
    assert.deepEqual(report.sent, [plain.id]);
    assert.equal((await got).from.id, withOverlay.id);
    const back = waitFor(withOverlay, 'chat', (m) => m.text === 'to overlay');
    await plain.broadcastMessage('to overlay');
    assert.equal((await back).from.id, plain.id);
    assert.deepEqual(withOverlay.overlayStats()!.active, [], 'a peer without overlay-1 is no neighbour');
    assert.equal(plain.overlayStats(), undefined);
    assert.equal(plain.getPeerInfo().peers.length, 1, 'the connection stays up');
    // Overlay broadcasts are bounded by 256 KiB (every node relays and caches them).
    await assert.rejects(
      withOverlay.broadcastBytes(new Uint8Array(256 * 1024 + 1)),
      (e: unknown) => e instanceof MeshwireError && e.code === 'ERR_FRAME_TOO_LARGE',
    );
    assert.deepEqual(errors, []);
  });

  for (const { count, seed, leave } of [
    { count: 12, seed: 13, leave: [2, 7, 9] },
    // Issue 13's test: 30 nodes, a third of them leave at once.
    { count: 30, seed: 7, leave: Array.from({ length: 10 }, (_, i) => 3 * i + 1) },
  ]) {
    it(`${count} nodes with maxPeers 4: every broadcast reaches all others exactly once, also after ${leave.length} leave`, async (t) => {
      await runNetwork(t, count, seed, leave);
    });
  }
});

async function runNetwork(t: TestContext, count: number, seed: number, leave: number[]): Promise<void> {
  const nodes = await startOverlayNetwork(t, count, seed);
  const log = recordChats(nodes);

  // From the first, the last and a middle node: each one's first broadcast floods, so the
  // later ones also exercise trees built by earlier traffic.
  for (const [i, sender] of [0, count - 1, Math.floor(count / 2)].map((i) => [i, nodes[i]!] as const)) {
    await broadcastAndWait(
      sender,
      nodes.filter((n) => n !== sender),
      log,
      `hello from ${i}`,
    );
    await broadcastAndWait(
      sender,
      nodes.filter((n) => n !== sender),
      log,
      `again from ${i}`,
    );
  }
  // Bytes take the same path, from the original sender too.
  const bytesFrom = nodes[3]!;
  const gotBytes = nodes
    .filter((n) => n !== bytesFrom)
    .map((n) => waitFor(n, 'bytes', (m) => Buffer.from(m.data).equals(Buffer.from([1, 2, 3])), 20_000));
  await bytesFrom.broadcastBytes(new Uint8Array([1, 2, 3]));
  for (const m of await Promise.all(gotBytes)) assert.equal(m.from.id, bytesFrom.id);

  // The original sender is `from`, with its name when it is a neighbour, else its ID.
  for (const node of nodes) {
    for (const entry of log.get(node)!) {
      const id = entry.split('|')[0]!;
      assert.ok(
        nodes.some((n) => n.id === id && n !== node),
        'from is another node of the network',
      );
    }
  }
  for (const node of nodes) {
    const s = node.overlayStats()!;
    assert.ok(s.active.length <= MAX_PEERS, `active view within maxPeers: ${s.active.length}`);
    assert.ok(node.getPeerInfo().peers.length <= MAX_PEERS + 4, `connections within maxPeers + slack`);
  }

  // Nodes leave (closed gracefully, never node 0); the rest repair and still get everything.
  const leaving = leave.map((i) => nodes[i]!);
  await Promise.all(leaving.map((n) => n.close()));
  const survivors = nodes.filter((n) => !leaving.includes(n));
  for (const sender of [survivors[0]!, survivors[survivors.length - 1]!]) {
    await broadcastAndWait(
      sender,
      survivors.filter((n) => n !== sender),
      log,
      `after leaving from ${sender.name}`,
    );
  }
  await pollUntil(() => overlayConnected(survivors), 'the survivors form one overlay', {
    timeoutMs: 10_000,
    intervalMs: 50,
    describe: () => views(survivors),
  });

  // Exactly once: no entry twice at any node, and nothing from a node to itself.
  for (const node of nodes) {
    const entries = log.get(node)!;
    assert.equal(new Set(entries).size, entries.length, `duplicates at ${node.name}: ${entries.join(', ')}`);
    assert.ok(!entries.some((e) => e.startsWith(`${node.id}|`)), 'own broadcast not delivered to itself');
  }
}
