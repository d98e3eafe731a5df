/**
 * LAN discovery under attack, across namespace hosts: forged, tampered, replayed and expired
 * announcements sent by a raw mDNS peer are ignored and counted; a stranger without the network
 * key learns no member ID; compat and secure nodes do not mix. Skipped without namespaces.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { extractInstances } from '../src/discovery/lan/packets.js';
import { encodeTxt, instanceLabel, openAnnouncement, signAnnouncement } from '../src/discovery/lan/record.js';
import { identitySigner, verifyPeerSignature } from '../src/discovery/lan/signer.js';
import { createIdentity } from '../src/secure/identity.js';
import { createLan, netnsSkipReason } from './helpers/netns.js';
import { LanProcess, pollUntil, waitUntil, type LanEvent } from './support-lan/harness.js';

const skip = netnsSkipReason();

/** Announcements of `id` the raw peer heard, oldest first, as TXT strings with their issue time. */
function captured(raw: LanProcess, id: string): { txt: string[]; issuedAt: number }[] {
  const out: { txt: string[]; issuedAt: number }[] = [];
  for (const e of raw.events) {
    if (e.ev !== 'packet') continue;
    const packet = dnsPacket.decode(Buffer.from(e.hex!, 'hex'));
    for (const found of extractInstances(packet).instances) {
      const txt = found.txt.map((s) => Buffer.from(s).toString('utf8'));
      const opened = openAnnouncement(txt, {
        mode: 'secure',
        signer: {
          id: '',
          publicKey: new Uint8Array(),
          sign: () => new Uint8Array(),
          verify: verifyPeerSignature,
        },
        now: Date.now(),
        clockSkewMs: 0,
      });
      if (opened.ok && opened.announcement.id === id && !opened.announcement.goodbye)
        out.push({ txt, issuedAt: opened.announcement.issuedAt });
    }
  }
  return out;
}

async function rejected(p: LanProcess): Promise<Record<string, number>> {
  return (await p.counters())[0]!.rejected as Record<string, number>;
}

test(
  'forged, tampered, replayed and expired announcements are ignored and counted',
  { skip, timeout: 40_000 },
  async (t) => {
    const lan = await createLan(t, 3);
    const [victimHost, observerHost, forgerHost] = lan.hosts as [
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
    ];
    const raw = new LanProcess(forgerHost, 'raw');
    await raw.waitFor((e) => e.ev === 'ready', 15_000, 'raw peer ready');
    // A short TTL makes the victim re-sign within seconds, so an older record can be replayed.
    const victim = new LanProcess(victimHost, { options: { ttlMs: 6_000, maxQueryIntervalMs: 1_000 } });
    const observer = new LanProcess(observerHost, { options: { ttlMs: 6_000, maxQueryIntervalMs: 1_000 } });
    await Promise.all([victim, observer].map((p) => p.waitFor((e) => e.ev === 'ready', 15_000, 'ready')));
    const victimId = victim.ids[0]!;
    await observer.waitFor((e) => e.ev === 'candidate' && e.id === victimId, 10_000, 'observer finds victim');
    await waitUntil([raw], () => captured(raw, victimId).length > 0, 5_000, 'a captured announcement');
    const first = captured(raw, victimId)[0]!;
    const mallory = identitySigner(await createIdentity());
    const send = (txt: string[], instance: string, port = 7000) =>
      raw.send(`send ${JSON.stringify({ instance, port, txt, addresses: [forgerHost.ip], ttl: 120 })}`);
    const now = Date.now();
    const victimLabel = `mw-${victimId}`;
    const base = { mode: 'secure' as const, port: 6666, addresses: [forgerHost.ip], goodbye: false };

    // Tampered: the victim's real record pointing at the forger's port.
    send(
      first.txt.map((s) => (s.startsWith('p=') ? 'p=6666' : s)),
      victimLabel,
      6666,
    );
    // The victim's ID under Mallory's key and signature, announcing Mallory's address.
    const hijack = signAnnouncement(
      { ...base, id: victimId, issuedAt: now, expiresAt: now + 60_000 },
      mallory,
    );
    send(encodeTxt(hijack), victimLabel, 6666);
    // A goodbye in the victim's name, signed by Mallory.
    const bye = signAnnouncement(
      { ...base, id: victimId, issuedAt: now, expiresAt: now + 60_000, goodbye: true },
      mallory,
    );
    send(encodeTxt(bye), victimLabel, 6666);
    // Mallory's own, validly signed, but expired long ago (a replay of an old announcement).
    const old = signAnnouncement(
      { ...base, id: mallory.id, issuedAt: now - 600_000, expiresAt: now - 300_000 },
      mallory,
    );
    send(encodeTxt(old), instanceLabel(old), 6666);

    const has = (c: Record<string, number>) => c.signature! >= 1 && c['wrong-id']! >= 2 && c.expired! >= 1;
    let counts = await pollUntil(() => rejected(observer), has, 5_000, 'the forgeries to be rejected');
    assert.ok(has(counts), JSON.stringify(counts));

    // Replay: once the observer holds a newer record of the victim, the first one is stale.
    await pollUntil(
      () => observer.peers(),
      (peers) => peers[0]!.some((p) => p.id === victimId && p.issuedAt > first.issuedAt),
      10_000,
      'the observer to hold a re-signed record',
    );
    send(first.txt, victimLabel);
    counts = await pollUntil(
      () => rejected(observer),
      (c) => c.replay! >= 1,
      5_000,
      'the replay to be rejected',
    );

    // Through all of it the observer kept the victim, at its real address only, and found no Mallory.
    const cands = observer.events.filter((e: LanEvent) => e.ev === 'candidate');
    assert.deepEqual(
      cands.map((e) => `${e.id}@${e.address}`),
      [`${victimId}@${victimHost.ip}:7000`],
    );
    assert.ok(!observer.events.some((e) => e.ev === 'gone'), 'no forged goodbye was taken');
    assert.ok(observer.known().has(victimId));
  },
);

test(
  'private network: members find each other, a stranger learns no ID; compat and secure do not mix',
  { skip, timeout: 40_000 },
  async (t) => {
    const lan = await createLan(t, 5);
    const [m1, m2, strangerHost, c1, c2] = lan.hosts as [
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
      (typeof lan.hosts)[0],
    ];
    const sniffer = new LanProcess(strangerHost, 'raw');
    await sniffer.waitFor((e) => e.ev === 'ready', 15_000, 'sniffer ready');
    const key = 'ab'.repeat(32);
    const procs = [
      new LanProcess(m1, { networkKey: key }),
      new LanProcess(m2, { networkKey: key }),
      new LanProcess(strangerHost, {}),
      new LanProcess(c1, { mode: 'compat' }),
      new LanProcess(c2, { mode: 'compat' }),
    ];
    const [p1, p2, stranger, pc1, pc2] = procs as [
      LanProcess,
      LanProcess,
      LanProcess,
      LanProcess,
      LanProcess,
    ];
    await Promise.all(procs.map((p) => p.waitFor((e) => e.ev === 'ready', 15_000, 'ready')));
    await waitUntil(
      procs,
      () =>
        p1.known().has(p2.ids[0]!) &&
        p2.known().has(p1.ids[0]!) &&
        pc1.known().has(pc2.ids[0]!) &&
        pc2.known().has(pc1.ids[0]!),
      10_000,
      'members and compat nodes to find each other',
    );
    // The stranger's host has heard both announcements and a query of each member.
    const from = (ip: string) => sniffer.events.filter((e) => e.ev === 'packet' && e.from === ip).length;
    await waitUntil(
      [sniffer],
      () => from(m1.ip) >= 4 && from(m2.ip) >= 4,
      10_000,
      'member traffic at the sniffer',
    );

    // Each group found exactly its own kind.
    assert.deepEqual([...p1.known()], [p2.ids[0]]);
    assert.deepEqual([...p2.known()], [p1.ids[0]]);
    assert.deepEqual([...pc1.known()], [pc2.ids[0]]);
    assert.deepEqual([...stranger.known()], [], 'the stranger found no one');
    const strangerRejects = await rejected(stranger);
    assert.ok(
      strangerRejects.private! > 0,
      `stranger saw private announcements: ${JSON.stringify(strangerRejects)}`,
    );
    assert.ok(strangerRejects['other-mode']! > 0, 'and compat ones, ignored');
    assert.ok((await rejected(p1))['not-member']! > 0, 'members ignore the public node');

    // Nothing the stranger's host heard contains a member's ID (as text or bytes).
    const heard = sniffer.events.filter((e) => e.ev === 'packet').map((e) => Buffer.from(e.hex!, 'hex'));
    assert.ok(heard.length > 5, `sniffer heard ${heard.length} packets`);
    for (const id of [p1.ids[0]!, p2.ids[0]!]) {
      for (const needle of [Buffer.from(id), Buffer.from(id, 'hex'), Buffer.from(id.slice(0, 8))]) {
        assert.ok(!heard.some((b) => b.includes(needle)), `member ID ${id} leaked`);
      }
    }
    // ...while the public node's ID is right there, so the check can fail.
    assert.ok(heard.some((b) => b.includes(Buffer.from(stranger.ids[0]!))));
  },
);
