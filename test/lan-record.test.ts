/**
 * The LAN announcement format without sockets: signing, sealing for private networks, every
 * rejection reason, the DNS-SD packets, the candidate rate limit and option validation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { CandidateGate } from '../src/discovery/lan/candidate-gate.js';
import { LanDiscovery } from '../src/discovery/lan/lan-discovery.js';
import { deriveLanKeys, TAG_WINDOW_MS } from '../src/discovery/lan/private-keys.js';
import {
  buildQueries,
  buildResponse,
  extractInstances,
  FLAG_TRUNCATED,
  KNOWN_ANSWERS_PER_PACKET,
  knownAnswerTtl,
  MAX_INSTANCES_PER_PACKET,
} from '../src/discovery/lan/packets.js';
import {
  encodeTxt,
  instanceLabel,
  openAnnouncement,
  signAnnouncement,
  type Announcement,
  type OpenContext,
} from '../src/discovery/lan/record.js';
import { identitySigner } from '../src/discovery/lan/signer.js';
import { createIdentity } from '../src/secure/identity.js';

const NOW = 1_800_000_000_000;
const alice = identitySigner(await createIdentity());
const mallory = identitySigner(await createIdentity());
const keys = deriveLanKeys(Buffer.alloc(32, 7));
const otherKeys = deriveLanKeys(Buffer.alloc(32, 8));

function fields(over: Partial<Announcement> = {}): Omit<Announcement, 'publicKey' | 'signature'> {
  return {
    mode: 'secure',
    id: alice.id,
    port: 7000,
    addresses: ['10.77.0.1'],
    issuedAt: NOW,
    expiresAt: NOW + 240_000,
    goodbye: false,
    ...over,
  };
}

const ctx = (over: Partial<OpenContext> = {}): OpenContext => ({
  mode: 'secure',
  signer: alice,
  now: NOW + 1_000,
  clockSkewMs: 30_000,
  ...over,
});

/** Replaces one TXT field, keeping the rest (and the now-wrong signature). */
function withField(txt: string[], key: string, value: string): string[] {
  return txt.map((s) => (s.startsWith(`${key}=`) ? `${key}=${value}` : s));
}

test('a signed announcement opens, every TXT string fits in 255 bytes', () => {
  const a = signAnnouncement(fields(), alice);
  const txt = encodeTxt(a);
  assert.ok(txt.every((s) => Buffer.byteLength(s) <= 255));
  const opened = openAnnouncement(txt, ctx({ signer: mallory }));
  assert.ok(opened.ok);
  assert.equal(opened.announcement.id, alice.id);
  assert.deepEqual(opened.announcement.addresses, ['10.77.0.1']);
  assert.equal(opened.announcement.port, 7000);
});

test('forgeries are rejected with their reason', () => {
  const txt = encodeTxt(signAnnouncement(fields(), alice));
  const reason = (strings: string[], c = ctx()) => {
    const r = openAnnouncement(strings, c);
    return r.ok ? 'accepted' : r.reason;
  };
  // Any signed field changed: another port, another address, a goodbye, a later expiry.
  assert.equal(reason(withField(txt, 'p', '7001')), 'signature');
  assert.equal(reason(withField(txt, 'a', '10.77.0.66')), 'signature');
  assert.equal(reason([...txt, 'g=1']), 'signature');
  assert.equal(reason(withField(txt, 'ex', String(NOW + 10_000_000))), 'signature');
  // Mallory's key and signature on Alice's ID: the ID does not derive from the key.
  const stolen = signAnnouncement(fields(), mallory);
  assert.equal(reason(encodeTxt(stolen)), 'wrong-id');
  // Expired (beyond the skew), or issued in the future.
  assert.equal(reason(txt, ctx({ now: NOW + 240_000 + 30_001 })), 'expired');
  assert.equal(reason(txt, ctx({ now: NOW + 240_000 + 29_000 })), 'accepted');
  assert.equal(reason(txt, ctx({ now: NOW - 31_000 })), 'expired');
  // Format: version, duplicates, missing signature, bad numbers, too many strings, other mode.
  assert.equal(reason(withField(txt, 'v', '2')), 'version');
  assert.equal(reason([...txt, 'p=7000']), 'malformed');
  assert.equal(reason(txt.filter((s) => !s.startsWith('sg='))), 'malformed');
  assert.equal(reason(withField(txt, 'p', '70000')), 'malformed');
  assert.equal(reason(withField(txt, 'a', 'not-an-ip')), 'malformed');
  assert.equal(reason([...txt, ...Array.from({ length: 10 }, (_, i) => `z${i}=1`)]), 'malformed');
  assert.equal(reason(['no-equals-sign']), 'malformed');
  assert.equal(reason(txt, ctx({ mode: 'compat' })), 'other-mode');
});

test('private announcements: members open them, strangers learn no ID', () => {
  const a = signAnnouncement(fields(), alice);
  const txt = encodeTxt(a, keys);
  const wire = txt.join('\n') + instanceLabel(a, keys);
  assert.ok(txt.every((s) => Buffer.byteLength(s) <= 255));
  assert.ok(!wire.includes(alice.id), 'the ID is not visible');
  assert.ok(!wire.includes(Buffer.from(alice.publicKey).toString('base64url')), 'the key is not visible');
  assert.ok(!wire.includes(Buffer.from(alice.publicKey).toString('hex')));
  const member = openAnnouncement(txt, ctx({ keys }));
  assert.ok(member.ok && member.announcement.id === alice.id);
  const r = (c: OpenContext, strings = txt) => {
    const o = openAnnouncement(strings, c);
    return o.ok ? 'accepted' : o.reason;
  };
  assert.equal(r(ctx()), 'private', 'a node without a network key ignores it');
  assert.equal(r(ctx({ keys: otherKeys })), 'not-member', 'another network cannot open it');
  assert.equal(r(ctx({ keys }), encodeTxt(a)), 'not-member', 'a member ignores public announcements');
  // A member's sealed record under another member's tag: the tag is bound to the ID.
  const bob = signAnnouncement(fields({ id: mallory.id }), mallory);
  const bobTag = encodeTxt(bob, keys).find((s) => s.startsWith('t='))!;
  assert.equal(
    r(
      ctx({ keys }),
      txt.map((s) => (s.startsWith('t=') ? bobTag : s)),
    ),
    'not-member',
  );
  // Tags change with the window (a stranger cannot link them over time) and differ per ID.
  const later = signAnnouncement(
    fields({ issuedAt: NOW + TAG_WINDOW_MS, expiresAt: NOW + TAG_WINDOW_MS + 1 }),
    alice,
  );
  assert.notEqual(instanceLabel(later, keys), instanceLabel(a, keys));
  assert.notEqual(instanceLabel(bob, keys), instanceLabel(a, keys));
});

test('compat announcements carry no key or signature and open only in compat mode', () => {
  const a: Announcement = { ...fields(), mode: 'compat', id: 'go-node_1' };
  const txt = encodeTxt(a);
  assert.ok(!txt.some((s) => s.startsWith('sg=') || s.startsWith('pk=')));
  const opened = openAnnouncement(txt, ctx({ mode: 'compat', signer: undefined }));
  assert.ok(opened.ok && opened.announcement.id === 'go-node_1');
  const secure = openAnnouncement(txt, ctx());
  assert.ok(!secure.ok && secure.reason === 'other-mode');
});

test('DNS-SD packets: the response round-trips, queries split known answers, extraction is bounded', () => {
  const a = signAnnouncement(fields(), alice);
  const response = buildResponse({
    instance: instanceLabel(a),
    port: 7000,
    txt: encodeTxt(a),
    addresses: ['10.77.0.1', 'fd00::1'],
    ttl: 120,
  });
  const decoded = dnsPacket.decode(dnsPacket.encode(response));
  assert.deepEqual(
    decoded.answers!.map((r) => r.type),
    ['PTR', 'SRV', 'TXT', 'A', 'AAAA'],
  );
  const { instances } = extractInstances(decoded);
  assert.equal(instances.length, 1);
  assert.equal(instances[0]!.ttl, 120);
  assert.ok(openAnnouncement(instances[0]!.txt, ctx()).ok);

  const known = Array.from({ length: KNOWN_ANSWERS_PER_PACKET + 3 }, (_, i) => ({
    instance: `mw-${i}`,
    ttl: 100,
  }));
  const queries = buildQueries(known);
  assert.equal(queries.length, 2);
  assert.equal(queries[0]!.flags! & FLAG_TRUNCATED, FLAG_TRUNCATED);
  assert.equal(queries[1]!.flags! & FLAG_TRUNCATED, 0);
  assert.equal(queries[0]!.questions!.length, 1);
  assert.equal(queries[1]!.questions!.length, 0);
  for (const q of queries) assert.ok(dnsPacket.encode(q).length < 1500);
  assert.equal(
    knownAnswerTtl(dnsPacket.decode(dnsPacket.encode(queries[1]!)), `mw-${KNOWN_ANSWERS_PER_PACKET + 1}`),
    100,
  );
  assert.equal(buildQueries([]).length, 1);

  // A packet stuffed with instances yields at most the bound.
  const many = {
    type: 'response' as const,
    answers: Array.from({ length: 40 }, (_, i) => ({
      name: `mw-${i}._meshwire._tcp.local`,
      type: 'TXT' as const,
      ttl: 120,
      data: [Buffer.from('v=1')],
    })),
  };
  const extracted = extractInstances(dnsPacket.decode(dnsPacket.encode(many)));
  assert.equal(extracted.instances.length, MAX_INSTANCES_PER_PACKET);
  assert.ok(extracted.truncated);
});

test('candidate gate: a burst passes, then the rate holds, the queue is bounded and counted', async () => {
  const released: string[] = [];
  const gate = new CandidateGate<string>({ ratePerSecond: 50, burst: 3, maxQueued: 2 }, (x) =>
    released.push(x),
  );
  const t0 = performance.now();
  for (const x of ['a', 'b', 'c', 'd', 'e', 'f']) gate.offer(x, x);
  assert.deepEqual(released, ['a', 'b', 'c']);
  assert.equal(gate.queued, 2);
  assert.equal(gate.dropped, 1);
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (released.length === 5) {
        clearInterval(check);
        resolve();
      }
    }, 5);
  });
  // Two more at 50/s take at least ~40 ms.
  assert.ok(performance.now() - t0 >= 30, 'the queue drains at the rate, not at once');
  assert.deepEqual(released, ['a', 'b', 'c', 'd', 'e']);
  gate.close();
});

test('invalid options throw ERR_INVALID_OPTION naming the option', () => {
  const base = { mode: 'secure' as const, port: 7000, signer: alice, onCandidate: () => {} };
  const bad: [string, object][] = [
    ['mode', { mode: 'plain' }],
    ['port', { port: 0 }],
    ['signer', { signer: undefined }],
    ['onCandidate', { onCandidate: 1 }],
    ['interfaces', { interfaces: [] }],
    ['ttlMs', { ttlMs: 10 }],
    ['maxCandidatesPerSecond', { maxCandidatesPerSecond: 0 }],
    ['networkKey', { networkKey: 'secret' }],
    ['maxQueryIntervalMs', { queryIntervalMs: 5_000, maxQueryIntervalMs: 1_000 }],
    ['id', { mode: 'compat', signer: undefined }],
  ];
  for (const [name, over] of bad) {
    assert.throws(
      () => new LanDiscovery({ ...base, ...over } as never),
      (err: Error & { code?: string }) => err.code === 'ERR_INVALID_OPTION' && err.message.includes(name),
      name,
    );
  }
  assert.throws(
    () =>
      new LanDiscovery({
        mode: 'compat',
        port: 1,
        id: 'x',
        networkKey: Buffer.alloc(32),
        onCandidate: () => {},
      }),
    /networkKey/,
  );
});

test('an unknown interface is refused at start, naming it', async () => {
  const lan = new LanDiscovery({
    mode: 'secure',
    port: 7000,
    signer: alice,
    interfaces: ['no-such-if0'],
    onCandidate: () => {},
  });
  await assert.rejects(
    lan.start(),
    (err: Error & { code?: string }) => err.code === 'ERR_INVALID_OPTION' && /no-such-if0/.test(err.message),
  );
  await lan.close();
});
