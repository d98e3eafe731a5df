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
  while (q.pop()) {
    const t = q.time;
    assert.ok(t >= now, `time went back from ${now} to ${t}`);
    now = t;
    ran.push({ t, id: q.node });
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
  while (q.pop()) {
    let best = 0;
    for (let i = 1; i < waiting.length; i++) {
      const a = waiting[i]!;
      const b = waiting[best]!;
      if (a.t < b.t || (a.t === b.t && (a.node < b.node || (a.node === b.node && a.id < b.id)))) best = i;
    }
    const want = waiting.splice(best, 1)[0]!;
    assert.deepEqual({ t: q.time, node: q.node, id: q.from }, want);
    const now = q.time;
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

test('nextTime peeks without taking; references come back; a crowded millisecond keeps its order', () => {
  const q = new EventQueue<{ id: number }>(100, { byNode: true });
  assert.equal(q.nextTime(), Infinity);
  assert.equal(q.pop(), false);
  // 1,000 events in one millisecond (past a bucket's first 256), nodes descending, plus some
  // in a later millisecond: buckets grow, and finished ones are reused for later ones.
  for (let i = 0; i < 1000; i++) q.push(7, 0, 999 - i, i, { id: i });
  for (let i = 0; i < 300; i++) q.push(9, 1, i % 3, i, { id: 1000 + i });
  assert.equal(q.size, 1300);
  assert.equal(q.nextTime(), 7);
  assert.equal(q.size, 1300);
  const froms: number[] = [];
  while (q.nextTime() < 8 && q.pop()) {
    assert.equal(q.time, 7);
    assert.equal(q.ref!.id, q.from);
    froms.push(q.from);
    // Scheduled into the millisecond being run: after the waiting events of lower nodes.
    // (node 99 schedules for node 100; node 499 for node 5, lower than any still waiting)
    if (q.from === 900) q.push(7, 0, 100, 5000, { id: 5000 });
    if (q.from === 500) q.push(7, 0, 5, 5001, { id: 5001 });
  }
  assert.equal(froms.length, 1002);
  assert.deepEqual(froms.slice(0, 3), [999, 998, 997]); // nodes 0, 1, 2 first
  assert.equal(froms.indexOf(5000), froms.indexOf(899) + 1); // after node 100's waiting event
  assert.equal(froms.indexOf(5001), froms.indexOf(500) + 1); // next
  assert.equal(q.nextTime(), 9);
  let last = -1;
  let count = 0;
  while (q.pop()) {
    const key = q.node * 1000 + q.from;
    assert.ok(key > last, 'by node, then insertion');
    last = key;
    assert.equal(q.ref!.id, 1000 + q.from);
    count++;
  }
  assert.equal(count, 300);
  assert.equal(q.size, 0);
  // Reused buckets start empty.
  q.push(20, 2, 4, 44, null);
  assert.equal(q.pop(), true);
  assert.deepEqual([q.time, q.kind, q.node, q.from, q.ref], [20, 2, 4, 44, null]);
  assert.equal(q.pop(), false);
});
