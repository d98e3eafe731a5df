/** LanPeers with a fake host: newest record wins, goodbye, expiry, bounds, address changes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyCounters } from '../src/discovery/lan/counters.js';
import { LanPeers, type LanPeersHost } from '../src/discovery/lan/lan-peers.js';
import type { LanCandidate } from '../src/discovery/lan/options.js';
import { encodeTxt, signAnnouncement, SERVICE_TYPE, type Announcement } from '../src/discovery/lan/record.js';
import { identitySigner, type LanSigner } from '../src/discovery/lan/signer.js';
import { createIdentity } from '../src/secure/identity.js';

const me = identitySigner(await createIdentity());
const alice = identitySigner(await createIdentity());
const bob = identitySigner(await createIdentity());
const NOW = Date.now();

function setup(over: Partial<LanPeersHost> = {}) {
  const offered: LanCandidate[] = [];
  const gone: [string, string][] = [];
  const counters = emptyCounters();
  const peers = new LanPeers({
    mode: 'secure',
    ownId: me.id,
    signer: me,
    keys: undefined,
    ttlMs: 120_000,
    maxPeers: 10,
    clockSkewMs: 30_000,
    counters,
    offer: (c) => offered.push(c),
    gone: (id, reason) => gone.push([id, reason]),
    ...over,
  });
  return { peers, offered, gone, counters };
}

function record(signer: LanSigner, over: Partial<Announcement> = {}): string[] {
  const a = signAnnouncement(
    {
      mode: 'secure',
      id: signer.id,
      port: 7000,
      addresses: ['10.0.0.1'],
      issuedAt: NOW,
      expiresAt: NOW + 240_000,
      goodbye: false,
      ...over,
    },
    signer,
  );
  return encodeTxt(a);
}

const name = (signer: LanSigner) => `mw-${signer.id}.${SERVICE_TYPE}`;

test('a new peer yields one candidate per address; repeats yield nothing', () => {
  const { peers, offered, counters } = setup();
  const txt = record(alice, { addresses: ['10.0.0.1', 'fd00::1'] });
  peers.receive(txt, name(alice), 120_000, false, NOW);
  peers.receive(txt, name(alice), 120_000, false, NOW + 10);
  assert.deepEqual(
    offered.map((c) => c.address),
    ['10.0.0.1:7000', '[fd00::1]:7000'],
  );
  assert.ok(offered.every((c) => c.id === alice.id && c.source === 'lan' && c.verified));
  assert.equal(counters.received, 2);
  assert.deepEqual(peers.knownAnswers(NOW + 10), [{ instance: `mw-${alice.id}`, ttl: 120 }]);
});

test('own records, loopback addresses from afar and multicast addresses are ignored', () => {
  const { peers, offered } = setup();
  peers.receive(record(me), name(me), 120_000, false, NOW);
  peers.receive(
    record(alice, { addresses: ['127.0.0.1', '224.0.0.251', '10.0.0.9'] }),
    name(alice),
    120_000,
    false,
    NOW,
  );
  assert.deepEqual(
    offered.map((c) => c.address),
    ['10.0.0.9:7000'],
  );
});

test('an older record is a replay; a newer one on another port replaces the address', () => {
  const { peers, offered, counters } = setup();
  peers.receive(record(alice, { issuedAt: NOW }), name(alice), 120_000, false, NOW);
  peers.receive(record(alice, { issuedAt: NOW - 1000, port: 9000 }), name(alice), 120_000, false, NOW);
  assert.equal(counters.rejected.replay, 1);
  peers.receive(record(alice, { issuedAt: NOW + 1000, port: 9001 }), name(alice), 120_000, false, NOW);
  assert.deepEqual(
    offered.map((c) => c.address),
    ['10.0.0.1:7000', '10.0.0.1:9001'],
  );
  assert.deepEqual(peers.list()[0]!.addresses, ['10.0.0.1:9001']);
});

test('a signed goodbye removes at once, an old goodbye is a replay; silence expires', () => {
  const { peers, gone, counters } = setup();
  peers.receive(record(alice, { issuedAt: NOW }), name(alice), 120_000, false, NOW);
  peers.receive(record(bob), name(bob), 5_000, false, NOW);
  peers.receive(record(alice, { issuedAt: NOW - 5, goodbye: true }), name(alice), 0, false, NOW);
  assert.equal(counters.rejected.replay, 1);
  assert.deepEqual(gone, []);
  peers.receive(record(alice, { issuedAt: NOW + 5, goodbye: true }), name(alice), 0, false, NOW);
  assert.deepEqual(gone, [[alice.id, 'goodbye']]);
  peers.sweep(NOW + 4_999);
  assert.equal(gone.length, 1);
  peers.sweep(NOW + 5_000);
  assert.deepEqual(gone[1], [bob.id, 'expired']);
  assert.equal(peers.list().length, 0);
});

test('the peer bound holds: more peers are counted as full', () => {
  const { peers, counters } = setup({ maxPeers: 1 });
  peers.receive(record(alice), name(alice), 120_000, false, NOW);
  peers.receive(record(bob), name(bob), 120_000, false, NOW);
  assert.equal(peers.list().length, 1);
  assert.equal(counters.rejected.full, 1);
});

test('a remembered record is checked for expiry again', () => {
  const { peers, counters } = setup();
  const txt = record(alice, { expiresAt: NOW + 1_000 });
  peers.receive(txt, name(alice), 120_000, false, NOW);
  peers.receive(txt, name(alice), 120_000, false, NOW + 1_000 + 30_001);
  assert.equal(counters.rejected.expired, 1);
});

test('knownAt: true when some peer at that IP is known, fresh or not, until its record expires', () => {
  const { peers } = setup();
  assert.equal(peers.knownAt('10.0.0.1'), false, 'nobody there');
  peers.receive(record(alice), name(alice), 120_000, false, NOW);
  assert.equal(peers.knownAt('10.0.0.1'), true);
  assert.equal(peers.knownAt('10.0.0.2'), false, 'another address');
  assert.equal(peers.knownAt('10.0.0'), false, 'a prefix of the address is not the address');
  peers.sweep(NOW + 119_000);
  assert.equal(peers.knownAt('10.0.0.1'), true, 'old but not expired');
  peers.sweep(NOW + 120_000);
  assert.equal(peers.knownAt('10.0.0.1'), false, 'expired');
});
