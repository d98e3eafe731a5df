/**
 * Hostile connections over real loopback sockets, in compat and secure mode: sockets that never
 * speak, 500 idle sockets at once, rapid connect/disconnect churn, plaintext into a secure port
 * (and TLS into a compat one), and TLS clients without a certificate. Every case ends with a fresh
 * legitimate node connecting and a chat crossing both ways, and the churn cases check that
 * nothing accumulates: peers, sockets, handles, timers, listeners.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { MeshwireError } from '../src/errors.js';
import type { P2PNode } from '../src/node.js';
import { nodeOptions } from '../src/internal.js';
import type { NodeOptions } from '../src/options.js';
import { createIdentity, type Identity } from '../src/secure/index.js';
import {
  addressOf,
  closedPort,
  MODES,
  RawCompatPeer,
  startNode,
  waitFor,
  assertServesLegitimatePeer,
} from './helpers/nodes.js';
import { describeFrames, helloFrame, RawNativePeer } from './support-secure/raw-native.js';
import { pollUntil, withTimeout } from './helpers/wait.js';

const TEST = { timeout: 20_000 };
const QUIET: NodeOptions = { maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 };
const MiB = 1024 * 1024;

/** Error codes `node` reports, from now on. */
function errorCodes(node: P2PNode): string[] {
  const codes: string[] = [];
  node.on('error', (m) => codes.push(m.error.code));
  return codes;
}

type Handle = { constructor: { name: string }; localPort?: number };
function activeHandles(): Handle[] {
  return (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles();
}

/** Sockets open in this process whose local end is `port`: the node's side of its connections. */
function nodeSideSockets(port: number): number {
  return activeHandles().filter((h) => h instanceof net.Socket && h.localPort === port).length;
}

/** A short summary of the active handles and resources, for failure messages. */
function resources(): string {
  const count = (names: string[]): string => {
    const tally = new Map<string, number>();
    for (const n of names) tally.set(n, (tally.get(n) ?? 0) + 1);
    return [...tally].map(([n, c]) => `${n}=${c}`).join(' ');
  };
  return `handles: ${count(activeHandles().map((h) => h.constructor.name))}; resources: ${count(process.getActiveResourcesInfo())}`;
}

/** Process warnings (MaxListenersExceededWarning would show listeners piling up on an emitter). */
const warnings: Error[] = [];
const onWarning = (w: Error): void => void warnings.push(w);
before(() => process.on('warning', onWarning));
after(() => process.off('warning', onWarning));

function mb(bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}

describe('a connection that sends nothing', () => {
  for (const mode of MODES) {
    test(
      `${mode}: a silent TCP socket is closed after connectionTimeoutMs with ERR_HANDSHAKE_TIMEOUT`,
      TEST,
      async (t) => {
        const node = await startNode(t, { mode, ...QUIET, connectionTimeoutMs: 400 });
        const reported = waitFor(node, 'error');
        const silent = await RawCompatPeer.dial(t, node.port);
        const localPort = silent.socket.localPort;
        const started = Date.now();
        await silent.expectClose(3_000);
        const elapsed = Date.now() - started;
        const { error, address } = await reported;
        assert.equal(error.code, 'ERR_HANDSHAKE_TIMEOUT', error.message);
        assert.match(error.message, /400 ms/);
        assert.equal(address, `127.0.0.1:${localPort}`);
        assert.ok(elapsed >= 300 && elapsed < 2_000, `closed after ${elapsed} ms`);
        assert.equal(silent.pending, 0, 'the node said nothing');
        assert.equal(nodeSideSockets(node.port), 0);
        await assertServesLegitimatePeer(t, node);
      },
    );
  }

  test(
    'secure: a TLS client that never sends its hello is closed with ERR_HANDSHAKE_TIMEOUT',
    TEST,
    async (t) => {
      const node = await startNode(t, { ...QUIET, connectionTimeoutMs: 400 });
      const reported = waitFor(node, 'error');
      const peer = await RawNativePeer.dial(t, node.port, await createIdentity());
      await peer.expectClose(3_000);
      const { error } = await reported;
      assert.equal(error.code, 'ERR_HANDSHAKE_TIMEOUT', error.message);
      assert.deepEqual(peer.frames, [], describeFrames(peer.frames));
      await assertServesLegitimatePeer(t, node);
    },
  );

  test('compat: a hello without its newline, trickled a byte at a time, still times out', TEST, async (t) => {
    const node = await startNode(t, { mode: 'compat', ...QUIET, connectionTimeoutMs: 400 });
    const reported = waitFor(node, 'error');
    const raw = await RawCompatPeer.dial(t, node.port);
    const text = `${raw.id}:slow`;
    let i = 0;
    const trickle = setInterval(() => {
      if (i < text.length && !raw.ended) raw.send(text[i++] as string);
    }, 5);
    t.after(() => clearInterval(trickle));
    await raw.expectClose(3_000);
    clearInterval(trickle);
    assert.equal((await reported).error.code, 'ERR_HANDSHAKE_TIMEOUT');
    await assertServesLegitimatePeer(t, node);
  });
});

/**
 * Opens `count` raw TCP connections to `port` at once that never send a byte. With `holdOpen`
 * they also never close their side when the node closes its own (half-open, as an attacker
 * that ignores FIN would). Destroyed after the test.
 */
async function idleSockets(t: TestContext, port: number, count: number, holdOpen: boolean) {
  const sockets: net.Socket[] = [];
  let ended = 0;
  const ends: (() => void)[] = [];
  t.after(() => {
    for (const s of sockets) s.destroy();
  });
  await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: holdOpen });
          sockets.push(socket);
          socket.on('error', () => undefined);
          socket.once('end', () => {
            ended++;
            for (const wake of ends.splice(0)) wake();
          });
          socket.once('connect', () => resolve());
          socket.once('error', reject);
        }),
    ),
  );
  return {
    sockets,
    get ended() {
      return ended;
    },
    /** Resolves once the node has closed `n` of them (their 'end' arrived). */
    async endedAtLeast(n: number, timeoutMs = 5_000): Promise<void> {
      await withTimeout(
        (async () => {
          while (ended < n) await new Promise<void>((wake) => ends.push(wake));
        })(),
        timeoutMs,
        `${n} idle sockets closed by the node (so far ${ended})`,
      );
    },
  };
}

describe('500 idle connections at once (maxPendingHandshakes 64)', () => {
  for (const mode of MODES) {
    for (const holdOpen of [false, true]) {
      test(
        `${mode}${holdOpen ? ', excess held half-open by the attacker' : ''}: a legitimate peer connects while they are open`,
        TEST,
        async (t) => {
          const node = await startNode(t, { mode, ...QUIET, connectionTimeoutMs: 30_000 });
          assert.equal(nodeOptions(node).maxPendingHandshakes, 64);
          const codes = errorCodes(node);
          const before = process.memoryUsage();
          const idle = await idleSockets(t, node.port, 500, holdOpen);
          // The node keeps 64 handshakes in progress and closes the rest, whatever the attacker does.
          await idle.endedAtLeast(500 - 64);
          const during = process.memoryUsage();
          const open = nodeSideSockets(node.port);
          assert.ok(open <= 64, `the node holds ${open} sockets`);
          t.diagnostic(
            `500 idle sockets: node holds ${open}, rss +${mb(during.rss - before.rss)}, arrayBuffers +${mb(during.arrayBuffers - before.arrayBuffers)}`,
          );

          const started = Date.now();
          await assertServesLegitimatePeer(t, node);
          t.diagnostic(`legitimate peer connected and chatted in ${Date.now() - started} ms`);
          // ... while the idle ones are still there: the newcomer made room by closing one of them.
          const stillOpen = idle.sockets.length - idle.ended;
          assert.ok(stillOpen >= 60, `${stillOpen} idle sockets still open`);
          assert.ok(nodeSideSockets(node.port) <= 64 + 1, resources());
          assert.equal(node.getPeerInfo().peers.length, 1);
          assert.deepEqual(codes, [], 'sockets closed to make room are not reported one by one');
        },
      );
    }
  }

  test('secure: a handshake under way survives 500 idle sockets arriving behind it', TEST, async (t) => {
    // A legitimate TLS client is mid-handshake while 500 idle sockets arrive: it has sent bytes,
    // idle ones have not, so they are closed first.
    const node = await startNode(t, { ...QUIET, connectionTimeoutMs: 30_000 });
    const me = await createIdentity();
    const peer = await RawNativePeer.dial(t, node.port, me);
    await idleSockets(t, node.port, 500, true);
    const connected = waitFor(node, 'peer-connected', (m) => m.peer.id === me.id);
    peer.send(helloFrame(me.id));
    assert.equal((await peer.nextFrame()).type, 'hello', describeFrames(peer.frames));
    await connected;
  });
});

/** Baseline of what must not grow, taken once `node` is up. */
function snapshot() {
  const info = process.getActiveResourcesInfo();
  return {
    handles: activeHandles().length,
    timers: info.filter((r) => r === 'Timeout').length,
    others: info.filter((r) => r !== 'Timeout').length,
    warnings: warnings.length,
  };
}

function now() {
  return snapshot();
}

/**
 * After churn: the node has no peer and no socket left, handles and non-timer resources are back
 * to `base`, pending timers are at most `maxTimers` above it (a compat peer that leaves cannot say
 * goodbye, so each one gets a bounded redial schedule), and no process warning was emitted (a
 * MaxListenersExceededWarning would show listeners piling up).
 */
async function assertNothingLeft(
  base: ReturnType<typeof snapshot>,
  node: P2PNode,
  maxTimers: number,
): Promise<void> {
  await pollUntil(
    () => {
      const current = now();
      return (
        current.handles <= base.handles &&
        current.others <= base.others &&
        current.timers <= base.timers + maxTimers
      );
    },
    `handles (${base.handles}), resources (${base.others}) and timers (${base.timers} + ${maxTimers}) are back to their baseline`,
    { describe: resources },
  );
  assert.deepEqual(node.getPeerInfo().peers, []);
  assert.equal(nodeSideSockets(node.port), 0);
  assert.deepEqual(
    warnings.slice(base.warnings).map((w) => `${w.name}: ${w.message}`),
    [],
  );
}

/** Closes the nodes; then every timer, socket and server they had is gone. */
async function assertAllGoneAfterClose(base: ReturnType<typeof snapshot>, nodes: P2PNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.close()));
  await pollUntil(
    () => {
      const current = now();
      return current.handles < base.handles && current.others < base.others && current.timers <= base.timers;
    },
    'the closed nodes hold no handle or timer',
    { describe: resources },
  );
}

async function lanes(count: number, cycles: number, run: (lane: number, cycle: number) => Promise<void>) {
  await Promise.all(
    Array.from({ length: count }, async (_, lane) => {
      for (let cycle = 0; cycle < cycles; cycle++) await run(lane, cycle);
    }),
  );
}

describe('connect/disconnect churn', () => {
  test(
    'compat: 300 raw handshake-then-close cycles leave no peer, socket, handle or timer behind',
    TEST,
    async (t) => {
      const node = await startNode(t, { mode: 'compat', ...QUIET });
      const listen = `127.0.0.1:${await closedPort()}`;
      const base = snapshot();
      const rss = process.memoryUsage().rss;
      let connected = 0;
      let disconnected = 0;
      node.on('peer-connected', () => connected++);
      node.on('peer-disconnected', () => disconnected++);
      await lanes(10, 30, async () => {
        const raw = await RawCompatPeer.dial(t, node.port);
        const gone = waitFor(node, 'peer-disconnected', (m) => m.peer.id === raw.id);
        raw.sendHello('churn', listen);
        assert.equal(await raw.readLine(), `${node.id}:${node.name}`);
        raw.socket.destroy();
        await gone;
      });
      assert.equal(connected, 300);
      assert.equal(disconnected, 300);
      await assertNothingLeft(base, node, 1);
      t.diagnostic(`rss +${mb(process.memoryUsage().rss - rss)} after 300 cycles; ${resources()}`);
      assert.equal(node.getPeerInfo().known.length, 1, 'one LISTEN address, learnt once');
      const legit = await assertServesLegitimatePeer(t, node);
      await assertAllGoneAfterClose(base, [legit, node]);
    },
  );

  test('secure: 300 raw TLS handshake-then-close cycles leave nothing behind', TEST, async (t) => {
    const node = await startNode(t, QUIET);
    const ids: Identity[] = await Promise.all(Array.from({ length: 10 }, () => createIdentity()));
    const listen = `127.0.0.1:${await closedPort()}`;
    const base = snapshot();
    let connected = 0;
    node.on('peer-connected', () => connected++);
    await lanes(10, 30, async (lane) => {
      const me = ids[lane] as Identity;
      const peer = await RawNativePeer.dial(t, node.port, me);
      const gone = waitFor(node, 'peer-disconnected', (m) => m.peer.id === me.id);
      peer.send(helloFrame(me.id, [listen]));
      assert.equal((await peer.nextFrame()).type, 'hello');
      peer.socket.destroy();
      await gone;
    });
    assert.equal(connected, 300);
    await assertNothingLeft(base, node, 1);
    t.diagnostic(resources());
    const legit = await assertServesLegitimatePeer(t, node);
    await assertAllGoneAfterClose(base, [legit, node]);
  });

  for (const mode of MODES) {
    test(`${mode}: 50 full nodes connect, chat and close, one after another`, TEST, async (t) => {
      const node = await startNode(t, { mode, ...QUIET });
      const base = snapshot();
      const errors: MeshwireError[] = [];
      node.on('error', (m) => errors.push(m.error));
      for (let i = 0; i < 50; i++) {
        const visitor = await startNode(t, { mode, ...QUIET, autoConnectMax: 0 });
        const heard = waitFor(node, 'chat', (m) => m.from.id === visitor.id);
        await visitor.connectToPeer(addressOf(node));
        await visitor.broadcastMessage(`visit ${i}`);
        assert.equal((await heard).text, `visit ${i}`);
        const gone = waitFor(node, 'peer-disconnected', (m) => m.peer.id === visitor.id);
        await visitor.close();
        await gone;
      }
      await assertNothingLeft(base, node, mode === 'compat' ? 50 : 0);
      t.diagnostic(resources());
      assert.deepEqual(
        errors.map((e) => e.code),
        [],
      );
      const legit = await assertServesLegitimatePeer(t, node);
      await assertAllGoneAfterClose(base, [legit, node]);
    });
  }
});

describe('the wrong protocol on a port', () => {
  for (const [what, payload] of [
    ['BYTES:99999999999', 'BYTES:99999999999\n'],
    ['a compat hello', `${randomBytes(16).toString('hex')}:mallory\nLISTEN:127.0.0.1:1\n`],
    ['1 MiB of random bytes', randomBytes(MiB)],
  ] as const) {
    test(
      `plaintext into a secure port (${what}): ERR_PLAINTEXT_REJECTED or ERR_TLS, quickly`,
      TEST,
      async (t) => {
        const node = await startNode(t, { ...QUIET, connectionTimeoutMs: 10_000 });
        const reported = waitFor(node, 'error');
        const raw = await RawCompatPeer.dial(t, node.port);
        const started = Date.now();
        raw.send(payload);
        await raw.expectClose(3_000);
        const elapsed = Date.now() - started;
        const { error } = await reported;
        const expected =
          typeof payload === 'string' ? ['ERR_PLAINTEXT_REJECTED'] : ['ERR_PLAINTEXT_REJECTED', 'ERR_TLS'];
        assert.ok(expected.includes(error.code), `${error.code}: ${error.message}`);
        assert.ok(elapsed < 1_000, `closed after ${elapsed} ms`);
        assert.deepEqual(node.getPeerInfo().peers, []);
        await assertServesLegitimatePeer(t, node);
      },
    );
  }

  test('a compat node dialling a secure node, and the reverse, fail fast on both sides', TEST, async (t) => {
    const secure = await startNode(t, { ...QUIET, connectionTimeoutMs: 10_000 });
    const compat = await startNode(t, { mode: 'compat', ...QUIET, connectionTimeoutMs: 10_000 });
    const secureReported = waitFor(secure, 'error');
    const started = Date.now();
    await assert.rejects(compat.connectToPeer(addressOf(secure)), (err: MeshwireError) => {
      assert.match(err.code, /^ERR_(MODE_MISMATCH|TLS)$/);
      return true;
    });
    assert.equal((await secureReported).error.code, 'ERR_PLAINTEXT_REJECTED');
    const compatReported = waitFor(compat, 'error');
    await assert.rejects(secure.connectToPeer(addressOf(compat)), (err: MeshwireError) => {
      assert.equal(err.code, 'ERR_MODE_MISMATCH', err.message);
      return true;
    });
    const { error } = await compatReported;
    assert.equal(error.code, 'ERR_MALFORMED_FRAME');
    assert.match(error.message, /TLS/);
    assert.ok(Date.now() - started < 3_000, `took ${Date.now() - started} ms`);
    await assertServesLegitimatePeer(t, secure);
    await assertServesLegitimatePeer(t, compat);
  });

  test(
    'a TLS client without a certificate is refused with ERR_UNAUTHORIZED; the node is fine',
    TEST,
    async (t) => {
      const node = await startNode(t, QUIET);
      const reported = waitFor(node, 'error');
      const peers = await Promise.all(
        Array.from({ length: 5 }, () => RawNativePeer.dial(t, node.port, null)),
      );
      for (const peer of peers) peer.send(helloFrame('0123456789abcdef0123456789abcdef'));
      await Promise.all(peers.map((p) => p.expectClose()));
      for (const peer of peers) assert.deepEqual(peer.frames, [], describeFrames(peer.frames));
      const { error } = await reported;
      assert.equal(error.code, 'ERR_UNAUTHORIZED');
      assert.match(error.message, /no certificate/);
      await assertServesLegitimatePeer(t, node);
    },
  );
});
