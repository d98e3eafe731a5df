/**
 * The simulator's event queue: events come out in (time, insertion) order, including events
 * scheduled into the millisecond being run and fractional times, and past the end nothing is kept.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EventQueue } from '../scripts/sim/queue.js';
import { seededRandom } from '../scripts/sim/rng.js';

test('events run in (time, insertion) order, also when scheduled while their millisecond runs', () => {
  const rnd = seededRandom(42);
  const end = 500;
  const q = new EventQueue<null>(end);
  // Reference: every event pushed, with its insertion number, sorted by (time, insertion).
  const pushed: { t: number; id: number }[] = [];
  let id = 0;
  const push = (t: number): void => {
    if (q.push(t, 0, id, 0, null)) pushed.push({ t, id });
    id++;
  };
  for (let i = 0; i < 2000; i++) push(rnd() < 0.5 ? Math.floor(rnd() * 400) : rnd() * 400);
  push(end + 1); // past the end: dropped
  const ran: { t: number; id: number }[] = [];
  let now = 0;
  let slot: number;
  while ((slot = q.pop()) >= 0) {
    const t = q.t[slot]!;
    assert.ok(t >= now, `time went back from ${now} to ${t}`);
    now = t;
    ran.push({ t, id: q.n[slot]! });
    q.release(slot);
    // Some events schedule others: same time, later in the same ms, or later ms.
    const r = rnd();
    if (ran.length < 6000) {
      if (r < 0.2) push(now);
      else if (r < 0.3) push(Math.max(now, Math.min(Math.floor(now) + 0.999, now + rnd())));
      else if (r < 0.5) push(now + 1 + Math.floor(rnd() * 30));
    }
  }
  pushed.sort((a, b) => a.t - b.t || a.id - b.id);
  assert.equal(ran.length, pushed.length);
  assert.deepEqual(ran, pushed);
  assert.equal(q.size, 0);
});

test('byNode: pop returns the waiting event least by (time, node, insertion)', () => {
  const rnd = seededRandom(7);
  const end = 300;
  const q = new EventQueue<null>(end, { byNode: true });
  // Reference: the waiting events, searched for the least (time, node, insertion) at each pop.
  const waiting: { t: number; node: number; id: number }[] = [];
  let id = 0;
  const push = (t: number, node: number): void => {
    if (q.push(t, 0, node, id, null)) waiting.push({ t, node, id });
    id++;
  };
  // Mostly whole milliseconds (the native-sort path), some fractional (the comparator path);
  // node -1 is the simulator's global events.
  for (let i = 0; i < 3000; i++) {
    push(rnd() < 0.9 ? Math.floor(rnd() * 250) : rnd() * 250, Math.floor(rnd() * 50) - 1);
  }
  let ran = 0;
  let slot: number;
  while ((slot = q.pop()) >= 0) {
    let best = 0;
    for (let i = 1; i < waiting.length; i++) {
      const a = waiting[i]!;
      const b = waiting[best]!;
      if (a.t < b.t || (a.t === b.t && (a.node < b.node || (a.node === b.node && a.id < b.id)))) best = i;
    }
    const want = waiting.splice(best, 1)[0]!;
    assert.deepEqual({ t: q.t[slot], node: q.n[slot], id: q.f[slot] }, want);
    const now = q.t[slot]!;
    q.release(slot);
    ran++;
    // Some events schedule others: the same time (any node), or later.
    if (ran < 5000) {
      const r = rnd();
      if (r < 0.2) push(now, Math.floor(rnd() * 50) - 1);
      else if (r < 0.4) push(now + 1 + Math.floor(rnd() * 20), Math.floor(rnd() * 50) - 1);
    }
  }
  assert.equal(waiting.length, 0);
  assert.equal(q.size, 0);
});
