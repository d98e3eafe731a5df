/**
 * Library bootstrap stops at once on a failure that cannot heal (PERMANENT_DIAL_ERRORS): a
 * refused network key is one attempt, not a retry schedule; a refused connection is retried.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PERMANENT_DIAL_ERRORS } from '../src/index.js';
import { addressOf, closedPort, rejectsWith, startNode, waitFor } from './helpers/nodes.js';

const TIMEOUT = { timeout: 20_000 };

describe('bootstrap retries only what can heal', () => {
  it('a wrong network key (ERR_UNAUTHORIZED) is one attempt, at once', TIMEOUT, async (t) => {
    const alice = await startNode(t, { networkKey: 'one key' });
    const bob = await startNode(t, { networkKey: 'another key', bootstrapRetryMs: [3000, 3000, 3000] });
    const reported = waitFor(bob, 'bootstrap-failed');
    const started = Date.now();
    const err = await rejectsWith(bob.bootstrap(addressOf(alice)), 'ERR_BOOTSTRAP_FAILED');
    assert.equal((err.cause as { code?: string }).code, 'ERR_UNAUTHORIZED');
    assert.ok(
      Date.now() - started < 2500,
      `gave up after ${Date.now() - started} ms, before the first retry`,
    );
    assert.equal((await reported).attempts, 1);
    assert.ok(PERMANENT_DIAL_ERRORS.has('ERR_UNAUTHORIZED'));
  });

  it('a refused connection is retried on the schedule', TIMEOUT, async (t) => {
    const bob = await startNode(t, { bootstrapRetryMs: [10, 10] });
    const port = await closedPort();
    const reported = waitFor(bob, 'bootstrap-failed');
    await rejectsWith(bob.bootstrap(`127.0.0.1:${port}`), 'ERR_BOOTSTRAP_FAILED');
    assert.equal((await reported).attempts, 3);
  });
});
