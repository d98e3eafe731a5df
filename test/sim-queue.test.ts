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
