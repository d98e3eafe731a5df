/**
 * Secure mode (the default) end to end over real loopback sockets: meshes that carry any chat
 * text and bytes, the network key, persistent identities, the allow-list and the firewall hook,
 * and clear, prompt errors between a secure and a compat node.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { MeshwireError } from '../src/errors.js';
import type { ChatMessage, BytesMessage } from '../src/messages.js';
import type { P2PNode } from '../src/node.js';
import type { NodeOptions } from '../src/options.js';
import {
  addressOf,
  record,
  startConnectedPair,
  startNode,
  waitFor,
  waitForPeerCount,
  waitUntil,
  rejectsWith,
  ofType,
} from './helpers/nodes.js';
import { tempDir } from './helpers/temp-dir.js';

const TIMEOUT = { timeout: 15_000 };

/** Texts that a line protocol would mangle or read as commands; the native protocol carries them as they are. */
const TRICKY_TEXTS = [
  'hello',
  'two\nlines',
  'PING',
  'PONG',
  'PEERS:10.0.0.1:9000',
  'BYTES:99999999999',
  '\n',
  '',
  '  padded  ',
  'crlf\r\nend',
  'Zoë 😀 \u0000 nul',
];

/** Collects `count` chat messages of `node` (from now on), in order of arrival. */
function collectChats(node: P2PNode, count: number, timeoutMs = 5_000): Promise<ChatMessage[]> {
  const chats: ChatMessage[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      node.off('chat', listener);
      reject(new Error(`timed out with ${chats.length}/${count} chat messages`));
    }, timeoutMs);
    const listener = (m: ChatMessage): void => {
      chats.push(m);
      if (chats.length === count) {
        clearTimeout(timer);
        node.off('chat', listener);
        resolve(chats);
      }
    };
    node.on('chat', listener);
  });
}

describe('secure mesh', () => {
  test('secure is the default mode, and the ID is derived from the key', TIMEOUT, async (t) => {
    const node = await startNode(t);
    assert.equal(node.mode, 'secure');
    assert.match(node.id, /^[0-9a-f]{32}$/);
    assert.equal(node.getPeerInfo().mode, 'secure');
  });

  test(
    'two nodes: any chat text (newlines, PING, ...) and bytes arrive unchanged, in order',
    TIMEOUT,
    async (t) => {
      const a = await startNode(t, { name: 'alice' });
      const b = await startNode(t, { name: 'bob' });
      const aConnected = waitFor(a, 'peer-connected');
      const ref = await b.connectToPeer(addressOf(a));
      assert.equal(ref.id, a.id);
      assert.equal(ref.name, 'alice');
      assert.equal((await aConnected).peer.id, b.id);

      const chats = collectChats(b, TRICKY_TEXTS.length);
      for (const text of TRICKY_TEXTS) await a.sendMessageToPeer(b.id, text);
      assert.deepEqual(
        (await chats).map((m) => m.text),
        TRICKY_TEXTS,
      );

      const big = randomBytes(3 * 1024 * 1024 + 7);
      const payloads = [big, new Uint8Array(0), Buffer.from('BYTES:1\n')];
      const received: BytesMessage[] = [];
      const done = waitUntil([a], () => received.length === payloads.length, 'all bytes arrived', 10_000);
      a.on('bytes', (m) => received.push(m));
      for (const p of payloads) await b.sendBytesToPeer(a.id, p);
      await done;
      received.forEach((m, i) => {
        assert.equal(m.from.id, b.id);
        assert.ok(Buffer.from(m.data).equals(Buffer.from(payloads[i] as Uint8Array)), `payload ${i} intact`);
      });
    },
  );

  test(
    'six nodes bootstrapping through each other reach a full mesh; broadcasts reach everyone',
    TIMEOUT,
    async (t) => {
      const nodes: P2PNode[] = [];
      for (let i = 0; i < 6; i++) {
        const previous = nodes[i - 1];
        nodes.push(
          await startNode(t, { name: `n${i}`, ...(previous ? { bootstrap: addressOf(previous) } : {}) }),
        );
      }
      await waitForPeerCount(nodes, 5, 10_000);
      for (const node of nodes) {
        const ids = node
          .getPeerInfo()
          .peers.map((p) => p.id)
          .sort();
        assert.deepEqual(
          ids,
          nodes
            .filter((n) => n !== node)
            .map((n) => n.id)
            .sort(),
        );
      }

      // Every node broadcasts a multi-line chat and a bytes message; every other node gets both.
      const chats = new Map<P2PNode, string[]>(nodes.map((n) => [n, []]));
      const bytes = new Map<P2PNode, string[]>(nodes.map((n) => [n, []]));
      for (const node of nodes) {
        node.on('chat', (m) => chats.get(node)?.push(`${m.from.id}|${m.text}`));
        node.on('bytes', (m) => bytes.get(node)?.push(`${m.from.id}|${Buffer.from(m.data).toString('hex')}`));
      }
      const all = waitUntil(
        nodes,
        () => nodes.every((n) => chats.get(n)?.length === 5 && bytes.get(n)?.length === 5),
        'every node got 5 chats and 5 bytes messages',
      );
      for (const node of nodes) {
        const report = await node.broadcastMessage(`from ${node.name}\nPING`);
        assert.equal(report.sent.length, 5);
        assert.deepEqual(report.failed, []);
        await node.broadcastBytes(Buffer.from(node.id, 'hex'));
      }
      await all;
      for (const node of nodes) {
        const others = nodes.filter((n) => n !== node);
        assert.deepEqual(
          chats.get(node)?.slice().sort(),
          others.map((o) => `${o.id}|from ${o.name}\nPING`).sort(),
        );
        assert.deepEqual(bytes.get(node)?.slice().sort(), others.map((o) => `${o.id}|${o.id}`).sort());
      }
    },
  );

  for (const [what, extra] of [
    ['', {}],
    [' with a network key', { networkKey: 'mesh secret' }],
  ] as const) {
    test(`six nodes connected in a chain with connectToPeer reach a full mesh${what}`, TIMEOUT, async (t) => {
      const nodes: P2PNode[] = [];
      for (let i = 0; i < 6; i++) nodes.push(await startNode(t, { name: `c${i}`, ...extra }));
      for (let i = 1; i < 6; i++) {
        await (nodes[i] as P2PNode)
          .connectToPeer(addressOf(nodes[i - 1] as P2PNode))
          .catch((err: MeshwireError) => {
            // An automatic dial through peer exchange may have connected the pair first.
            if (err.code !== 'ERR_DUPLICATE_PEER') throw err;
          });
      }
      await waitForPeerCount(nodes, 5, 10_000);
      const first = nodes[0] as P2PNode;
      const got = Promise.all(nodes.slice(1).map((n) => waitFor(n, 'chat', (m) => m.from.id === first.id)));
      await first.broadcastMessage('to all\n');
      for (const m of await got) assert.equal(m.text, 'to all\n');
    });
  }
});

describe('simultaneous dials', () => {
  // Regression: the listener of the connection that loses the tie-break counted it as live and
  // could send on it, while the other side discarded it (lost chats in ~25% of 6-node meshes).
  test(
    'chats sent on peer-connected while both sides dial each other are all delivered',
    TIMEOUT,
    async (t) => {
      for (let round = 0; round < 10; round++) {
        const a = await startNode(t);
        const b = await startNode(t);
        for (const node of [a, b]) {
          node.once(
            'peer-connected',
            (m) => void node.sendMessageToPeer(m.peer.id, `hi from ${node.id}`).catch(() => undefined),
          );
        }
        const chats = Promise.all([
          waitFor(a, 'chat', () => true, 2_000),
          waitFor(b, 'chat', () => true, 2_000),
        ]);
        const dial = (from: P2PNode, to: P2PNode) =>
          from.connectToPeer(addressOf(to)).catch((err: MeshwireError) => {
            if (err.code !== 'ERR_DUPLICATE_PEER') throw err;
          });
        await Promise.all([dial(a, b), dial(b, a)]);
        const [onA, onB] = await chats;
        assert.equal(onA.text, `hi from ${b.id}`, `round ${round}`);
        assert.equal(onB.text, `hi from ${a.id}`, `round ${round}`);
        await Promise.all([a.close(), b.close()]);
      }
    },
  );
});

describe('network key', () => {
  test('the same key (string) connects and carries chat', TIMEOUT, async (t) => {
    const { listener, dialer } = await startConnectedPair(
      t,
      { networkKey: 'open sesame' },
      { networkKey: 'open sesame' },
    );
    const chat = waitFor(listener, 'chat');
    await dialer.broadcastMessage('inside');
    assert.equal((await chat).text, 'inside');
  });

  test('the same key as Uint8Array, and a string equal to those bytes, connect', TIMEOUT, async (t) => {
    const key = new Uint8Array(randomBytes(32));
    await startConnectedPair(t, { networkKey: key }, { networkKey: Uint8Array.from(key) });
    await startConnectedPair(
      t,
      { networkKey: 'pässword' },
      { networkKey: new Uint8Array(Buffer.from('pässword', 'utf8')) },
    );
  });

  const refusals: [string, NodeOptions, NodeOptions][] = [
    ['different keys', { networkKey: 'alpha' }, { networkKey: 'beta' }],
    ['a listener with a key, a dialer without', { networkKey: 'alpha' }, {}],
    ['a listener without a key, a dialer with one', {}, { networkKey: 'alpha' }],
    [
      'different byte keys',
      { networkKey: new Uint8Array([1, 2, 3]) },
      { networkKey: new Uint8Array([1, 2, 4]) },
    ],
  ];
  for (const [what, listenerOptions, dialerOptions] of refusals) {
    test(`${what}: refused on both sides, nobody connects`, TIMEOUT, async (t) => {
      const listener = await startNode(t, listenerOptions);
      const dialer = await startNode(t, dialerOptions);
      const onListener = record(listener);
      const onDialer = record(dialer);
      const listenerError = waitFor(listener, 'error');
      const failed = waitFor(dialer, 'connection-failed');

      const started = Date.now();
      const err = await rejectsWith(dialer.connectToPeer(addressOf(listener)), 'ERR_UNAUTHORIZED');
      assert.ok(Date.now() - started < 2_000, 'refused at once, not at a timeout');
      assert.match(err.message, /unauthorized/i);
      assert.equal((await failed).error.code, 'ERR_UNAUTHORIZED');
      const reported = await listenerError;
      assert.equal(reported.error.code, 'ERR_UNAUTHORIZED', `listener reported: ${reported.error.message}`);
      assert.match(reported.address ?? '', /^127\.0\.0\.1:\d+$/);

      assert.deepEqual(ofType(onListener, 'peer-connected'), []);
      assert.deepEqual(ofType(onDialer, 'peer-connected'), []);
      assert.equal(listener.getPeerInfo().peers.length, 0);
      assert.equal(dialer.getPeerInfo().peers.length, 0);
    });
  }
});

describe('identity key file', () => {
  test('a restart with the same key file keeps the ID; the file has mode 0600', TIMEOUT, async (t) => {
    const dir = await tempDir(t, 'meshwire-secure-');
    const keyFile = path.join(dir, 'sub', 'node.key');
    const first = await startNode(t, { keyFile });
    const id = first.id;
    if (process.platform !== 'win32') assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    await first.close();

    const second = await startNode(t, { keyFile });
    assert.equal(second.id, id);
    const other = await startNode(t, { keyFile: path.join(dir, 'other.key') });
    assert.notEqual(other.id, id, 'another key file is another identity');
    const ephemeral = await startNode(t);
    assert.notEqual(ephemeral.id, id);

    // The restarted node proves the same ID to its peers.
    const seen = waitFor(other, 'peer-connected');
    await second.connectToPeer(addressOf(other));
    assert.equal((await seen).peer.id, id);
  });
});

describe('allow-list', () => {
  test('admits listed peers and refuses others in both directions', TIMEOUT, async (t) => {
    const b1 = await startNode(t, { name: 'b1' });
    const b2 = await startNode(t, { name: 'b2' });
    const c = await startNode(t, { name: 'c' });
    const a = await startNode(t, { name: 'a', allowList: [b1.id, b2.id] });
    const onA = record(a);
    const onC = record(c);

    // Listed peers: b1 may dial A, and A may dial b2.
    const aSawB1 = waitFor(a, 'peer-connected');
    await b1.connectToPeer(addressOf(a));
    assert.equal((await aSawB1).peer.id, b1.id);
    assert.equal((await a.connectToPeer(addressOf(b2))).id, b2.id);

    // C dials A: refused.
    const aError = waitFor(a, 'error');
    await rejectsWith(c.connectToPeer(addressOf(a)), 'ERR_UNAUTHORIZED');
    assert.equal((await aError).error.code, 'ERR_UNAUTHORIZED');

    // A dials C: A refuses C's certified ID right after the TLS handshake and sends nothing at
    // all, not even a goodbye (rule 26): C never learns A's name and never sees A connect.
    const cSawClose = waitFor(c, 'error');
    await rejectsWith(a.connectToPeer(addressOf(c)), 'ERR_UNAUTHORIZED');
    assert.equal((await cSawClose).error.code, 'ERR_CONNECTION_CLOSED');
    assert.equal(c.getPeerInfo().peers.length, 0);
    assert.deepEqual(ofType(onC, 'peer-connected'), []);

    assert.deepEqual(
      ofType(onA, 'peer-connected')
        .map((m) => m.peer.id)
        .sort(),
      [b1.id, b2.id].sort(),
    );
    assert.deepEqual(
      a
        .getPeerInfo()
        .peers.map((p) => p.id)
        .sort(),
      [b1.id, b2.id].sort(),
    );
    assert.deepEqual(ofType(onC, 'chat'), []);
    assert.deepEqual(ofType(onC, 'peers-discovered'), [], 'A told C nothing about its peers');
  });
});

describe('firewall hook', () => {
  type Call = { id: string; address: string; direction: 'inbound' | 'outbound' };

  test('is called with id, address and direction; false refuses, true admits', TIMEOUT, async (t) => {
    const b = await startNode(t);
    const c = await startNode(t);
    const calls: Call[] = [];
    const a = await startNode(t, {
      firewall: (peer) => {
        calls.push({ ...peer });
        return peer.id === b.id;
      },
    });

    const aSawB = waitFor(a, 'peer-connected');
    await b.connectToPeer(addressOf(a));
    await aSawB;
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.id, b.id);
    assert.equal(calls[0]?.direction, 'inbound');
    assert.match(calls[0]?.address ?? '', /^127\.0\.0\.1:\d+$/);

    const aError = waitFor(a, 'error');
    await rejectsWith(c.connectToPeer(addressOf(a)), 'ERR_UNAUTHORIZED');
    assert.equal((await aError).error.code, 'ERR_UNAUTHORIZED');
    assert.deepEqual(
      { id: calls[1]?.id, direction: calls[1]?.direction },
      { id: c.id, direction: 'inbound' },
    );

    await rejectsWith(a.connectToPeer(addressOf(c)), 'ERR_UNAUTHORIZED');
    assert.deepEqual(calls[2], { id: c.id, address: addressOf(c), direction: 'outbound' });
    assert.deepEqual(
      a.getPeerInfo().peers.map((p) => p.id),
      [b.id],
    );
  });

  test('an async hook is awaited', TIMEOUT, async (t) => {
    const b = await startNode(t);
    const c = await startNode(t);
    const a = await startNode(t, {
      firewall: async ({ id }) => {
        await new Promise((resolve) => setImmediate(resolve));
        return id === b.id;
      },
    });
    const aSawB = waitFor(a, 'peer-connected');
    await b.connectToPeer(addressOf(a));
    await aSawB;
    await rejectsWith(c.connectToPeer(addressOf(a)), 'ERR_UNAUTHORIZED');
    await rejectsWith(a.connectToPeer(addressOf(c)), 'ERR_UNAUTHORIZED');
    assert.equal(a.getPeerInfo().peers.length, 1);
  });

  for (const kind of ['throwing', 'rejecting'] as const) {
    test(`a ${kind} hook refuses, is reported, and does not crash the node`, TIMEOUT, async (t) => {
      const b = await startNode(t);
      const c = await startNode(t);
      const hook =
        kind === 'throwing'
          ? () => {
              throw new Error('firewall exploded');
            }
          : () => Promise.reject(new Error('firewall exploded'));
      const a = await startNode(t, { firewall: hook });
      const onA = record(a);

      const aError = waitFor(a, 'error');
      const inbound = await rejectsWith(b.connectToPeer(addressOf(a)), 'ERR_UNAUTHORIZED');
      assert.match(inbound.message, /unauthorized/i);
      const reported = (await aError).error;
      assert.equal(reported.code, 'ERR_UNAUTHORIZED', `reported: ${reported.message}`);

      // A's hook fails on C's certified ID before A sends anything: C never sees A connect.
      const onC = record(c);
      const cSawClose = waitFor(c, 'error');
      const outbound = await rejectsWith(a.connectToPeer(addressOf(c)), 'ERR_UNAUTHORIZED');
      assert.match(outbound.message, /firewall hook failed: firewall exploded/);
      assert.equal((outbound.cause as Error | undefined)?.message, 'firewall exploded');
      assert.equal((await cSawClose).error.code, 'ERR_CONNECTION_CLOSED');
      assert.deepEqual(ofType(onC, 'peer-connected'), []);

      // Still alive and still refusing.
      await rejectsWith(c.connectToPeer(addressOf(a)), 'ERR_UNAUTHORIZED');
      assert.deepEqual(ofType(onA, 'peer-connected'), []);
      assert.equal(a.getPeerInfo().peers.length, 0);
    });
  }
});

describe('secure and compat nodes do not mix (no downgrade)', () => {
  const slow: NodeOptions = { connectionTimeoutMs: 10_000 };

  test('a compat node dialing a secure node gets a clear error at once', TIMEOUT, async (t) => {
    const secure = await startNode(t, slow);
    const compat = await startNode(t, { ...slow, mode: 'compat' });
    const onSecure = record(secure);
    const secureError = waitFor(secure, 'error');
    const started = Date.now();
    let error: MeshwireError | undefined;
    await compat.connectToPeer(addressOf(secure)).catch((err: MeshwireError) => (error = err));
    const elapsed = Date.now() - started;
    assert.ok(error, 'the dial failed');
    assert.ok(elapsed < 1_000, `failed after ${elapsed} ms`);
    assert.match(error.message, /secure/, `message: ${error.message}`);
    assert.equal((await secureError).error.code, 'ERR_PLAINTEXT_REJECTED');
    assert.deepEqual(ofType(onSecure, 'peer-connected'), []);
  });

  test('a secure node dialing a compat node gets a clear error at once', TIMEOUT, async (t) => {
    const compat = await startNode(t, { ...slow, mode: 'compat' });
    const secure = await startNode(t, slow);
    const onCompat = record(compat);
    const compatError = waitFor(compat, 'error');
    const started = Date.now();
    let error: MeshwireError | undefined;
    await secure.connectToPeer(addressOf(compat)).catch((err: MeshwireError) => (error = err));
    const elapsed = Date.now() - started;
    assert.ok(error, 'the dial failed');
    assert.ok(elapsed < 1_000, `failed after ${elapsed} ms`);
    assert.equal(error.code, 'ERR_MODE_MISMATCH');
    assert.match(error.message, /compat/, `message: ${error.message}`);
    assert.match((await compatError).error.message, /TLS/);
    assert.deepEqual(ofType(onCompat, 'peer-connected'), []);
  });
});
