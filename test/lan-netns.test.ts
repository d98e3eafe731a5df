/**
 * LAN discovery across real hosts: Linux network namespaces on a private bridge (see
 * test/helpers/netns.ts); multicast never leaves them. Skipped, with the reason, where
 * namespaces cannot be created.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLan, netnsSkipReason } from './helpers/netns.js';
import { LanProcess, pollUntil, waitUntil } from './support-lan/harness.js';

const skip = netnsSkipReason();

test('5 hosts discover each other, goodbye removes at once', { skip, timeout: 40_000 }, async (t) => {
  const lan = await createLan(t, 5);
  const t0 = performance.now();
  const procs = lan.hosts.map((h) => new LanProcess(h, { options: { maxQueryIntervalMs: 4_000 } }));
  await Promise.all(procs.map((p) => p.waitFor((e) => e.ev === 'ready', 15_000, 'ready')));
  const ids = procs.map((p) => p.ids[0]!);
  const all = () => procs.every((p, i) => ids.every((id, j) => i === j || p.known().has(id)));
  await waitUntil(procs, all, 10_000, 'every host to know the 4 others');
  const readyAt = Math.max(...procs.map((p) => p.events.find((e) => e.ev === 'ready')!.at));
  const doneAt = Math.max(
    ...procs.flatMap((p) => p.events.filter((e) => e.ev === 'candidate').map((e) => e.at)),
  );
  t.diagnostic(
    `discovered in ${(doneAt - readyAt).toFixed(0)} ms after the last start (${(doneAt - t0).toFixed(0)} ms from spawn)`,
  );
  // Each candidate carries the announcing host's address and the verified flag.
  const first = procs[0]!.events.find((e) => e.ev === 'candidate' && e.id === ids[1])!;
  assert.equal(first.address, `${lan.hosts[1]!.ip}:7000`);

  const closedAt = performance.now();
  procs[4]!.send('close');
  await waitUntil(
    procs.slice(0, 4),
    () => procs.slice(0, 4).every((p) => !p.known().has(ids[4]!)),
    2_000,
    'goodbye',
  );
  const removal = performance.now() - closedAt;
  t.diagnostic(`goodbye to removal on all 4: ${removal.toFixed(0)} ms`);
  for (const p of procs.slice(0, 4)) {
    const gone = p.events.find((e) => e.ev === 'gone' && e.id === ids[4]);
    assert.equal(gone?.reason, 'goodbye');
  }
  const counters = await procs[0]!.counters();
  const rejected = counters[0]!.rejected as Record<string, number>;
  assert.equal(
    Object.values(rejected).reduce((a, b) => a + b, 0),
    0,
    `nothing rejected: ${JSON.stringify(rejected)}`,
  );
});

test(
  'a cut host expires after its TTL, and is found again when its link returns',
  { skip, timeout: 40_000 },
  async (t) => {
    const lan = await createLan(t, 3);
    const options = { ttlMs: 3_000, maxQueryIntervalMs: 1_000 };
    const procs = lan.hosts.map((h) => new LanProcess(h, { options }));
    await Promise.all(procs.map((p) => p.waitFor((e) => e.ev === 'ready', 15_000, 'ready')));
    const ids = procs.map((p) => p.ids[0]!);
    const [a, b, c] = procs as [LanProcess, LanProcess, LanProcess];
    const meshed = () => procs.every((p, i) => ids.every((id, j) => i === j || p.known().has(id)));
    await waitUntil(procs, meshed, 10_000, 'all three to know each other');

    const cutAt = performance.now();
    await lan.hosts[2]!.cut();
    await waitUntil(
      procs,
      () =>
        !a.known().has(ids[2]!) &&
        !b.known().has(ids[2]!) &&
        !c.known().has(ids[0]!) &&
        !c.known().has(ids[1]!),
      10_000,
      'both sides of the cut to expire the other',
    );
    const expiredIn = performance.now() - cutAt;
    t.diagnostic(`cut host expired on both sides after ${expiredIn.toFixed(0)} ms (TTL 3000 ms)`);
    assert.equal(a.events.findLast((e) => e.ev === 'gone' && e.id === ids[2])?.reason, 'expired');
    assert.ok(expiredIn < 3_000 + 2_500, 'within the TTL plus a sweep and a query round');

    const restoredAt = performance.now();
    await lan.hosts[2]!.restore();
    await waitUntil(procs, meshed, 10_000, 'the mesh to heal');
    t.diagnostic(`found again ${(performance.now() - restoredAt).toFixed(0)} ms after the link returned`);
  },
);

test(
  'at rest two hosts keep each other across many TTLs (queries refresh, nobody expires)',
  { skip, timeout: 40_000 },
  async (t) => {
    const lan = await createLan(t, 2);
    const options = { ttlMs: 4_000, maxQueryIntervalMs: 2_000 };
    const procs = lan.hosts.map((h) => new LanProcess(h, { options }));
    await Promise.all(procs.map((p) => p.waitFor((e) => e.ev === 'ready', 15_000, 'ready')));
    const [a, b] = procs as [LanProcess, LanProcess];
    await waitUntil(procs, () => a.known().has(b.ids[0]!) && b.known().has(a.ids[0]!), 10_000, 'discovery');
    const received = async (p: LanProcess) => (await p.counters())[0]!.received as number;
    const [ra, rb] = [await received(a), await received(b)];
    // Four refreshes each way take at least four half-TTLs: several TTLs of rest.
    await pollUntil(
      () => received(a),
      (n) => n >= ra + 4,
      20_000,
      'a to hear b refreshed',
    );
    await pollUntil(
      () => received(b),
      (n) => n >= rb + 4,
      20_000,
      'b to hear a refreshed',
    );
    assert.deepEqual(
      procs.flatMap((p) => p.events.filter((e) => e.ev === 'gone')),
      [],
      'no peer expired while both were up',
    );
  },
);
