/**
 * Discovery on its own, against a fake DiscoveryHost that records dials and lets the test
 * settle each one, and node:test's mock clock (setTimeout and Date) for the schedules: the
 * candidate entry point, autoConnect's limits, the dial-order rule, the dial budget (charged
 * for claims, refunded on success) and the redial schedule of a dropped peer.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { Discovery, type DiscoveryOptions } from '../src/internal.js';
import type { PeerRef } from '../src/messages.js';
import { FakeDiscoveryHost as FakeHost, type PendingDial } from './helpers/fake-hosts.js';
import { fakePeer } from './helpers/fake-peer.js';

const T0 = 1_700_000_000_000;

const OPTIONS: DiscoveryOptions = {
  maxKnownPeers: 100,
  autoConnectMax: 3,
  autoConnectJitterMs: 0,
  discoveryIntervalMs: 40_000,
};

/** A discovery on a mock clock at T0, stopped after the test. */
function setup(
  t: TestContext,
  options: Partial<DiscoveryOptions> = {},
): { host: FakeHost; discovery: Discovery; advance: (ms: number) => Promise<void> } {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: T0 });
  const host = new FakeHost();
  const discovery = new Discovery(host, { ...OPTIONS, ...options });
  host.discovery = discovery;
  t.after(() => discovery.stop());
  const advance = async (ms: number): Promise<void> => {
    // Promise callbacks first (a settled dial schedules the next round), then the clock.
    await settle();
    t.mock.timers.tick(ms);
    await settle();
  };
  return { host, discovery, advance };
}

/** Lets pending promise callbacks run (setImmediate is not mocked). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** `count` addresses with ports above the host's (so the dial-order rule never defers them). */
function peers(prefix: string, count: number): { address: string; id: string }[] {
  return Array.from({ length: count }, (_, i) => ({
    address: `${prefix}.test:${6000 + i}`,
    id: `z-${prefix}-${i}`,
  }));
}

describe('Discovery: candidates', () => {
  test('addCandidate records source and quota key, ignores self addresses and repeats, dials nothing', async (t) => {
    const { host, discovery, advance } = setup(t);
    host.selfAddresses.add('me.test:5000');
    assert.equal(discovery.addCandidate('me.test:5000', { source: 'lan' }), false);
    assert.equal(
      discovery.addCandidate('a.test:6000', { source: 'exchange', via: 'peer-1', id: 'z1' }),
      true,
    );
    assert.equal(discovery.addCandidate('a.test:6000', { source: 'exchange', via: 'peer-2' }), false);
    assert.equal(discovery.addCandidate('b.test:6000', { source: 'bootstrap' }), true);
    assert.equal(discovery.addCandidate('c.test:6000', { source: 'book', id: 'z3', verified: true }), true);

    const a = discovery.book.get('a.test:6000');
    assert.deepEqual([a?.source, a?.quotaKey, a?.id, a?.verified], ['exchange', 'peer-1', 'z1', false]);
    const b = discovery.book.get('b.test:6000');
    assert.deepEqual([b?.source, b?.quotaKey], ['bootstrap', 'bootstrap']);
    assert.equal(discovery.book.get('c.test:6000')?.verified, true);
    assert.equal(discovery.book.get('me.test:5000'), undefined);

    await advance(10_000);
    assert.deepEqual(host.dials, [], 'addCandidate alone starts no dial');
  });

  test('addCandidates reports what was new (once, with its source) and dials at once', async (t) => {
    const { host, discovery, advance } = setup(t);
    const from: PeerRef = { id: 'p', name: 'p', address: 'p.test:1' };
    const list = peers('a', 2);
    discovery.addCandidates(list, { source: 'exchange', via: 'p' }, from);
    discovery.addCandidates(list, { source: 'exchange', via: 'p' }, from);
    assert.deepEqual(host.reports, [
      {
        type: 'peers-discovered',
        source: 'exchange',
        from,
        newCount: 2,
        totalKnown: 2,
        addresses: list.map((p) => p.address),
      },
    ]);
    await advance(0);
    assert.deepEqual(host.dialled().sort(), list.map((p) => p.address).sort());
  });
});

describe('Discovery: autoConnect', () => {
  test('dials at most autoConnectMax per round', async (t) => {
    const { host, discovery, advance } = setup(t, { autoConnectMax: 3 });
    discovery.addCandidates(peers('a', 10), { source: 'bootstrap' });
    await advance(0);
    assert.equal(host.dials.length, 3);
  });

  test('dials no more than the free slots', async (t) => {
    const { host, discovery, advance } = setup(t, { autoConnectMax: 3 });
    host.slots = 2;
    discovery.addCandidates(peers('b', 10), { source: 'bootstrap' });
    await advance(0);
    assert.equal(host.dials.length, 2);
  });

  test('keeps at most 8 dials of its own in flight; each finished dial starts the next', async (t) => {
    const { host, discovery, advance } = setup(t);
    for (const p of peers('v', 20))
      discovery.addCandidate(p.address, { source: 'book', id: p.id, verified: true });
    discovery.autoConnect(100);
    await advance(0);
    assert.equal(host.dials.length, 8);
    (host.dials[0] as PendingDial).succeed();
    await advance(0);
    assert.equal(host.dials.length, 9, 'one finished, one more started');
    // The follow-up round comes back for the rest without any new candidate.
    for (const d of host.dials.slice(1)) d.fail();
    await advance(100);
    assert.ok(host.dials.length > 9);
    assert.equal(new Set(host.dialled()).size, host.dials.length, 'no address dialled twice');
  });

  test('skips connected, already dialling, self and backed-off addresses', async (t) => {
    const { host, discovery, advance } = setup(t, { autoConnectMax: 10 });
    const [connected, dialling, self, failed, fresh] = peers('s', 5) as { address: string; id: string }[] & {
      length: 5;
    };
    for (const p of [connected, dialling, self, failed, fresh])
      discovery.addCandidate(p!.address, { source: 'bootstrap' });
    host.connected.add(connected!.address);
    host.dialingNow.add(dialling!.address);
    host.selfAddresses.add(self!.address);
    discovery.onDialFailed(failed!.address, false);
    discovery.autoConnect();
    await advance(0);
    assert.deepEqual(host.dialled(), [fresh!.address]);
    // The failed address is dialled again once its backoff (discoveryIntervalMs / 4) has passed.
    host.dials[0]?.succeed();
    host.connected.add(fresh!.address);
    await advance(10_000);
    discovery.autoConnect();
    await advance(0);
    assert.deepEqual(host.dialled(), [fresh!.address, failed!.address]);
  });

  test('dial order: the end with the lower ID (or, without IDs, lower port) defers by 2 s', async (t) => {
    const { host, discovery, advance } = setup(t, { autoConnectMax: 10 });
    host.id = 'm';
    host.port = 5000;
    discovery.addCandidates(
      [
        { address: 'lower-id.test:9000', id: 'a' }, // they rank first: they dial, we wait
        { address: 'higher-id.test:1', id: 'z' }, // we rank first: at once, whatever the port
        { address: 'lower-port.test:4000' }, // no ID: the lower port dials
        { address: 'higher-port.test:6000' },
      ],
      { source: 'bootstrap' },
    );
    await advance(0);
    assert.deepEqual(host.dialled().sort(), ['higher-id.test:1', 'higher-port.test:6000']);
    await advance(1999);
    assert.equal(host.dials.length, 2, 'nothing more before the grace period ends');
    await advance(1);
    await advance(0);
    assert.deepEqual(host.dialled().slice(2).sort(), ['lower-id.test:9000', 'lower-port.test:4000']);
  });

  test('a closed host dials nothing', async (t) => {
    const { host, discovery, advance } = setup(t);
    host.closed = true;
    discovery.addCandidates(peers('a', 3), { source: 'bootstrap' });
    await advance(1000);
    assert.equal(host.dials.length, 0);
  });

  test('stop() cancels the dials already scheduled', async (t) => {
    const { host, discovery, advance } = setup(t, { autoConnectJitterMs: 500 });
    discovery.addCandidates(peers('a', 3), { source: 'bootstrap' });
    discovery.stop();
    await advance(10_000);
    assert.equal(host.dials.length, 0);
  });
});

describe('Discovery: dial budget', () => {
  test('claims of one peer are charged to it: failures hold its credit, a success refunds it', async (t) => {
    // autoConnectMax 1 gives each source a credit of 2 dials (regrowing at 2 a minute).
    const { host, discovery, advance } = setup(t, { autoConnectMax: 1 });
    discovery.addCandidates(peers('claim', 6), { source: 'exchange', via: 'liar' });
    discovery.autoConnect(100);
    await advance(0);
    assert.equal(host.dials.length, 2, 'two dials, the credit of the peer that named them');
    for (const d of host.dials) d.fail();
    await advance(29_999);
    assert.equal(host.dials.length, 2, 'failed dials keep the credit used');
    await advance(1);
    await advance(0);
    assert.equal(host.dials.length, 3, 'one credit regrew after 30 s');

    (host.dials[2] as PendingDial).succeed();
    await advance(0);
    assert.equal(host.dials.length, 4, 'a dial that reached a peer gave its credit back at once');
  });

  test('another source’s claims and verified addresses are not held up by a spent source', async (t) => {
    const { host, discovery, advance } = setup(t, { autoConnectMax: 1 });
    discovery.addCandidates(peers('liar', 4), { source: 'exchange', via: 'liar' });
    discovery.autoConnect(100);
    await advance(0);
    for (const d of host.dials) d.fail();
    await advance(0);
    discovery.addCandidates(peers('honest', 1), { source: 'exchange', via: 'honest' });
    discovery.addCandidate('proven.test:7000', { source: 'book', id: 'z-proven', verified: true });
    discovery.autoConnect(100);
    await advance(0);
    assert.deepEqual(host.dialled().slice(2).sort(), ['honest.test:6000', 'proven.test:7000']);
  });
});

describe('Discovery: redials', () => {
  test('a dropped peer is redialled after 1 s, 2 s, 4 s ... while the dials fail', async (t) => {
    const { host, discovery, advance } = setup(t);
    const peer = fakePeer({ id: 'z', address: 'gone.test:7000', direction: 'outbound' });
    discovery.onConnected(peer);
    discovery.onDisconnected(peer, true);
    await advance(999);
    assert.equal(host.dials.length, 0);
    await advance(1);
    assert.deepEqual(host.dialled(), ['gone.test:7000']);
    host.dials[0]?.fail();
    await advance(1999);
    assert.equal(host.dials.length, 1);
    await advance(1);
    assert.equal(host.dials.length, 2);
    host.dials[1]?.fail();
    await advance(4000);
    assert.equal(host.dials.length, 3);
    assert.deepEqual(
      host.dials.map((d) => d.at - T0),
      [1000, 3000, 7000],
    );
  });

  test('gives up after 8 attempts', async (t) => {
    const { host, discovery, advance } = setup(t);
    const peer = fakePeer({ id: 'z', address: 'gone.test:7000' });
    discovery.onDisconnected(peer, true);
    for (let i = 0; i < 12; i++) {
      await advance(60_000);
      for (const d of host.dials.slice(i)) d.fail();
    }
    assert.equal(host.dials.length, 8);
  });

  test('stops on a final error, when the peer is back, and is never started without cause', async (t) => {
    const { host, discovery, advance } = setup(t);
    const a = fakePeer({ id: 'za', address: 'a.test:7000' });
    const b = fakePeer({ id: 'zb', address: 'b.test:7000' });
    discovery.onDisconnected(a, true);
    discovery.onDisconnected(b, true);
    discovery.onDisconnected(fakePeer({ id: 'zc', address: 'c.test:7000' }), false);
    discovery.onDisconnected(fakePeer({ id: 'zd', address: 'd.test:7000', advertised: false }), true);
    await advance(1000);
    assert.deepEqual(host.dialled().sort(), ['a.test:7000', 'b.test:7000']);
    host.dials.find((d) => d.address === 'a.test:7000')?.fail('ERR_UNAUTHORIZED');
    host.dials.find((d) => d.address === 'b.test:7000')?.fail();
    host.connected.add('zb'); // b dialled us meanwhile
    await advance(120_000);
    assert.equal(host.dials.length, 2);
  });
});

describe('Discovery: connections and failures', () => {
  test('only our own dial verifies an address; an inbound peer’s address stays a claim', (t) => {
    const { discovery } = setup(t);
    const out = fakePeer({ id: 'z1', address: 'out.test:1', direction: 'outbound' });
    const inb = fakePeer({ id: 'z2', address: 'in.test:1', direction: 'inbound' });
    assert.equal(discovery.onConnected(out), true);
    assert.equal(discovery.onConnected(out), false, 'known now');
    assert.equal(discovery.onConnected(inb), true);
    assert.equal(discovery.book.get('out.test:1')?.verified, true);
    assert.equal(discovery.book.get('in.test:1')?.verified, false);
    assert.equal(discovery.book.get('in.test:1')?.quotaKey, 'z2');
    assert.equal(
      discovery.onConnected(fakePeer({ id: 'z3', address: 'x.test:1', advertised: false })),
      false,
    );
    assert.equal(discovery.book.get('x.test:1'), undefined);
  });

  test('a dial that reached this node marks the address as self', (t) => {
    const { discovery } = setup(t);
    discovery.addCandidate('me.test:5000', { source: 'exchange', via: 'p' });
    discovery.onDialFailed('me.test:5000', true);
    assert.equal(discovery.book.isSelf('me.test:5000'), true);
    assert.equal(discovery.addCandidate('me.test:5000', { source: 'exchange', via: 'p' }), false);
  });
});
