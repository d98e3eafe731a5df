/**
 * DialBudget on its own, with explicit times: per-source credit that regrows per minute and comes
 * back on a successful dial, the global token bucket, and the bounded set of tracked sources.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DialBudget } from '../src/internal.js';

const T0 = 10_000_000;

function budget(overrides: Partial<ConstructorParameters<typeof DialBudget>[0]> = {}): DialBudget {
  return new DialBudget({
    perSource: 2,
    globalPerSecond: 100,
    globalBurst: 100,
    maxSources: 100,
    ...overrides,
  });
}

describe('DialBudget', () => {
  test('a source gets perSource dials, then waits a minute / perSource per credit', () => {
    const b = budget();
    assert.equal(b.allows('p', T0), true);
    b.charge('p', T0);
    assert.equal(b.allows('p', T0), true);
    b.charge('p', T0);
    assert.equal(b.allows('p', T0), false);
    assert.equal(b.allows('other', T0), true, 'other sources are not held up');
    assert.equal(b.nextAllowedAt('p', T0), T0 + 30_000);
    assert.equal(b.allows('p', T0 + 29_999), false);
    assert.equal(b.allows('p', T0 + 30_000), true);
  });

  test('a dial that reached a real peer gives its credit back at once', () => {
    const b = budget();
    b.charge('p', T0);
    b.charge('p', T0);
    assert.equal(b.allows('p', T0), false);
    b.refund('p');
    assert.equal(b.allows('p', T0), true);
    b.refund('unknown'); // nothing to give back: no effect, no throw
    b.refund('p');
    b.refund('p');
    b.charge('p', T0);
    b.charge('p', T0);
    assert.equal(b.allows('p', T0), false, 'refunds never raise credit above perSource');
  });

  test('the global bucket bounds all sources together and refills at its rate', () => {
    const b = budget({ perSource: 10, globalBurst: 3, globalPerSecond: 1 });
    for (const source of ['a', 'b', 'c']) {
      assert.equal(b.allows(source, T0), true);
      b.charge(source, T0);
    }
    assert.equal(b.allows('d', T0), false);
    assert.equal(b.nextAllowedAt('d', T0), T0 + 1000);
    assert.equal(b.allows('d', T0 + 999), false);
    assert.equal(b.allows('d', T0 + 1000), true);
  });

  test('nextAllowedAt is now for a source that may dial', () => {
    assert.equal(budget().nextAllowedAt('fresh', T0), T0);
  });

  test('past maxSources the least recently charged source is forgotten (and starts afresh)', () => {
    const b = budget({ perSource: 1, maxSources: 2 });
    b.charge('a', T0);
    assert.equal(b.allows('a', T0), false);
    b.charge('b', T0);
    b.charge('c', T0);
    assert.equal(b.allows('a', T0), true, 'a was forgotten');
    assert.equal(b.allows('b', T0), false);
    assert.equal(b.allows('c', T0), false);
  });
});
