/**
 * The bootstrap source on its own, against a fake BootstrapHost whose dials answer from a script,
 * on node:test's mock clock: the retry schedule, the errors that stop it at once, a duplicate
 * that counts as success, and abort. Also the disconnect-reason mapping the node reports.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { MeshwireError, type ErrorCode } from '../src/errors.js';
import { bootstrap, closeReason, NO_REDIAL_REASONS, type BootstrapHost } from '../src/internal.js';
import type {
  BootstrapFailedMessage,
  BootstrapSuccessMessage,
  PeerRef,
  WithoutTime,
} from '../src/messages.js';

const PEER: PeerRef = { id: 'z', name: 'z', address: 'boot.test:1' };

/** A host whose n-th dial fails with `script[n]` (or succeeds when the script runs out). */
class FakeHost implements BootstrapHost {
  closed = false;
  connected: PeerRef | undefined;
  readonly attempts: number[] = [];
  readonly reports: WithoutTime<BootstrapSuccessMessage | BootstrapFailedMessage>[] = [];
  constructor(readonly script: ErrorCode[]) {}

  isClosed(): boolean {
    return this.closed;
  }
  async dial(): Promise<PeerRef> {
    this.attempts.push(Date.now());
    const code = this.script[this.attempts.length - 1];
    if (code) throw new MeshwireError(code, `scripted ${code}`);
    return PEER;
  }
  connectedAt(): PeerRef | undefined {
    return this.connected;
  }
  report(message: WithoutTime<BootstrapSuccessMessage | BootstrapFailedMessage>): void {
    this.reports.push(message);
  }
}

/** Runs `promise` to its end, advancing the mock clock in `step` ms turns. */
async function runOnClock<T>(t: TestContext, promise: Promise<T>, step = 10, maxTurns = 10_000): Promise<T> {
  let done = false;
  // Handled here, so a rejection is not reported as unhandled while the clock still turns.
  const outcome = promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  void outcome.then(() => (done = true));
  for (let i = 0; i < maxTurns && !done; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    t.mock.timers.tick(step);
  }
  const result = await outcome;
  if (result.ok) return result.value;
  throw result.error;
}

describe('bootstrap', () => {
  test('retries on the schedule and reports success with the attempt count', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const host = new FakeHost(['ERR_CONNECTION_REFUSED', 'ERR_HANDSHAKE_TIMEOUT']);
    const peer = await runOnClock(t, bootstrap(host, 'boot.test:1', [100, 200, 400]));
    assert.deepEqual(peer, PEER);
    assert.deepEqual(host.attempts, [0, 100, 300]);
    assert.deepEqual(host.reports, [
      { type: 'bootstrap-success', address: 'boot.test:1', peer: PEER, attempts: 3 },
    ]);
  });

  test('gives up after the last delay with ERR_BOOTSTRAP_FAILED carrying the last error', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const host = new FakeHost(Array(5).fill('ERR_CONNECTION_REFUSED'));
    const error = await runOnClock(t, bootstrap(host, 'boot.test:1', [100, 200])).then(
      () => assert.fail('expected a failure'),
      (err: MeshwireError) => err,
    );
    assert.equal(error.code, 'ERR_BOOTSTRAP_FAILED');
    assert.equal((error.cause as MeshwireError).code, 'ERR_CONNECTION_REFUSED');
    assert.deepEqual(host.attempts, [0, 100, 300]);
    assert.deepEqual(
      host.reports.map((r) => [r.type, r.attempts]),
      [['bootstrap-failed', 3]],
    );
  });

  for (const code of ['ERR_UNAUTHORIZED', 'ERR_HOST_NOT_FOUND', 'ERR_SELF_CONNECTION'] as const) {
    test(`stops at once on ${code}: no retry can heal it`, async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
      const host = new FakeHost([code]);
      await assert.rejects(runOnClock(t, bootstrap(host, 'boot.test:1', [100, 200])), {
        code: 'ERR_BOOTSTRAP_FAILED',
      });
      assert.equal(host.attempts.length, 1);
    });
  }

  test('a duplicate counts as success when the peer is connected at that address', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const host = new FakeHost(['ERR_DUPLICATE_PEER']);
    host.connected = PEER;
    assert.deepEqual(await runOnClock(t, bootstrap(host, 'boot.test:1', [100])), PEER);
    assert.equal(host.reports[0]?.type, 'bootstrap-success');
  });

  test('an abort during the wait ends it with the abort as the cause', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const host = new FakeHost(Array(5).fill('ERR_CONNECTION_REFUSED'));
    const controller = new AbortController();
    const run = bootstrap(host, 'boot.test:1', [1000, 1000], controller.signal);
    await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    const error = await run.then(
      () => assert.fail('expected a failure'),
      (err: MeshwireError) => err,
    );
    assert.equal((error.cause as MeshwireError).code, 'ERR_ABORTED');
    assert.equal(host.attempts.length, 1);
  });

  test('a closed host makes no attempt', async () => {
    const host = new FakeHost([]);
    host.closed = true;
    await assert.rejects(bootstrap(host, 'boot.test:1', [100]), { code: 'ERR_BOOTSTRAP_FAILED' });
    assert.equal(host.attempts.length, 0);
  });
});

describe('disconnect reasons', () => {
  test('closeReason maps a connection’s end to the reason peer-disconnected reports', () => {
    const e = (code: ErrorCode): MeshwireError => new MeshwireError(code, code);
    assert.equal(closeReason(undefined), 'local-close');
    assert.equal(closeReason(e('ERR_WRITE_TIMEOUT')), 'write-timeout');
    for (const code of ['ERR_FRAME_TOO_LARGE', 'ERR_MALFORMED_FRAME', 'ERR_LINE_TOO_LONG'] as const)
      assert.equal(closeReason(e(code)), 'protocol-error', code);
    assert.equal(closeReason(e('ERR_CONNECTION_CLOSED')), 'closed');
  });

  test('peers that left on purpose, went silent or misbehaved are not redialled; lost ones are', () => {
    assert.deepEqual([...NO_REDIAL_REASONS].sort(), ['goodbye', 'local-close', 'protocol-error', 'timeout']);
    for (const reason of ['closed', 'write-timeout', 'send-failed'] as const)
      assert.equal(NO_REDIAL_REASONS.has(reason), false);
  });
});
