/**
 * TypedEmitter: once-then-off, node:events' once/on helpers (with abort), and waitFor; the
 * last part on real nodes over loopback.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import events from 'node:events';
import { TypedEmitter } from '../src/typed-emitter.js';
import { MeshwireError } from '../src/errors.js';
import { addressOf, rejectsWith, startNode } from './helpers/nodes.js';

const TIMEOUT = { timeout: 10_000 };

interface TestEvents {
  tick: number;
  error: { message: string };
}

class Emitter extends TypedEmitter<TestEvents> {
  fire<K extends keyof TestEvents>(type: K, payload: TestEvents[K]): void {
    this.emit(type, payload);
  }
}

describe('TypedEmitter', () => {
  test('once(type, fn) then off(type, fn) removes the listener', () => {
    const e = new Emitter();
    const seen: number[] = [];
    const fn = (n: number): void => void seen.push(n);
    e.once('tick', fn);
    assert.equal(e.listenerCount('tick'), 1);
    e.off('tick', fn);
    assert.equal(e.listenerCount('tick'), 0);
    e.fire('tick', 1);
    assert.deepEqual(seen, []);
    // once still fires exactly once when not removed; on + off still work; removeListener aliases off.
    e.once('tick', fn);
    e.fire('tick', 2);
    e.fire('tick', 3);
    e.on('tick', fn).removeListener('tick', fn);
    e.fire('tick', 4);
    assert.deepEqual(seen, [2]);
  });

  test('an emit runs the listeners registered when it began, in order, each once', () => {
    const e = new Emitter();
    const seen: string[] = [];
    const late = (n: number): void => void seen.push(`late ${n}`);
    const second = (n: number): void => void seen.push(`second ${n}`);
    const first = (n: number): void => {
      seen.push(`first ${n}`);
      // Changes during an emit take effect from the next one.
      if (n === 1) e.on('tick', late).off('tick', second);
    };
    e.on('tick', first).on('tick', second).on('tick', first); // the same function twice: once
    assert.equal(e.listenerCount('tick'), 2);
    e.fire('tick', 1);
    e.fire('tick', 2);
    assert.deepEqual(seen, ['first 1', 'second 1', 'first 2', 'late 2']);
    // A throwing listener does not stop the others (its error goes to the handler).
    const errors: unknown[] = [];
    class Guarded extends Emitter {
      constructor() {
        super();
        this.setListenerErrorHandler((err) => errors.push(err));
      }
    }
    const g = new Guarded();
    const got: number[] = [];
    g.on('tick', () => {
      throw new Error('boom');
    }).on('tick', (n) => void got.push(n));
    g.fire('tick', 5);
    assert.deepEqual(got, [5]);
    assert.equal(errors.length, 1);
    // Removing every listener leaves none.
    e.off('tick', first).off('tick', late);
    assert.equal(e.listenerCount('tick'), 0);
    e.fire('tick', 3);
    assert.equal(seen.length, 4);
  });

  test(
    'events.once(emitter, type, { signal }) resolves, and an abort rejects without crashing',
    TIMEOUT,
    async () => {
      const e = new Emitter();
      const waiting = events.once(e as never, 'tick');
      e.fire('tick', 7);
      assert.deepEqual(await waiting, [7]);
      assert.equal(e.listenerCount('tick'), 0);
      assert.equal(e.listenerCount('error'), 0);

      const controller = new AbortController();
      const aborted = events.once(e as never, 'tick', { signal: controller.signal });
      controller.abort();
      await assert.rejects(aborted, { name: 'AbortError' });
      assert.equal(e.listenerCount('tick'), 0);
      assert.equal(e.listenerCount('error'), 0);
    },
  );

  test(
    "events.once rejects on an 'error' event (node:events semantics), waitFor does not",
    TIMEOUT,
    async () => {
      const e = new Emitter();
      const viaEvents = events.once(e as never, 'tick');
      const viaWaitFor = e.waitFor('tick');
      e.fire('error', { message: 'a peer misbehaved' });
      await assert.rejects(viaEvents, { message: 'a peer misbehaved' });
      e.fire('tick', 1);
      assert.equal(await viaWaitFor, 1);
    },
  );

  test('events.on(emitter, type, { signal }) iterates events and ends on abort', TIMEOUT, async () => {
    const e = new Emitter();
    const controller = new AbortController();
    const got: number[] = [];
    const loop = (async () => {
      for await (const [n] of events.on(e as never, 'tick', { signal: controller.signal })) {
        got.push(n as number);
        if (got.length === 2) controller.abort();
      }
    })();
    e.fire('tick', 1);
    e.fire('tick', 2);
    await assert.rejects(loop, { name: 'AbortError' });
    assert.deepEqual(got, [1, 2]);
    assert.equal(e.listenerCount('tick'), 0);
  });

  test(
    'waitFor: filter, timeout, abort, a throwing filter; the listener is always removed',
    TIMEOUT,
    async () => {
      const e = new Emitter();
      const even = e.waitFor('tick', { filter: (n) => n % 2 === 0 });
      e.fire('tick', 1);
      e.fire('tick', 4);
      assert.equal(await even, 4);
      assert.equal(e.listenerCount('tick'), 0);

      const timedOut = await rejectsWith(e.waitFor('tick', { timeoutMs: 20 }), 'ERR_TIMEOUT');
      assert.match(timedOut.message, /'tick' timed out after 20 ms/);
      assert.equal(e.listenerCount('tick'), 0);

      const controller = new AbortController();
      const aborted = e.waitFor('tick', { signal: controller.signal });
      controller.abort(new Error('bored'));
      const err = await rejectsWith(aborted, 'ERR_ABORTED');
      assert.equal((err.cause as Error).message, 'bored');
      assert.equal(e.listenerCount('tick'), 0);
      await rejectsWith(e.waitFor('tick', { signal: AbortSignal.abort() }), 'ERR_ABORTED');

      const boom = e.waitFor('tick', {
        filter: () => {
          throw new Error('filter bug');
        },
      });
      e.fire('tick', 1);
      await assert.rejects(boom, /filter bug/);
      assert.equal(e.listenerCount('tick'), 0);

      await assert.rejects(e.waitFor('tick', { timeoutMs: -1 }), (x: unknown) => {
        return x instanceof MeshwireError && x.code === 'ERR_INVALID_OPTION' && /timeoutMs/.test(x.message);
      });
    },
  );

  test('P2PNode.waitFor: wait until a given peer connects and a given chat arrives', TIMEOUT, async (t) => {
    const alice = await startNode(t, { name: 'alice' });
    const bob = await startNode(t, { name: 'bob' });
    const connected = alice.waitFor('peer-connected', {
      filter: (m) => m.peer.name === 'bob',
      timeoutMs: 5000,
    });
    const hello = alice.waitFor('chat', { filter: (m) => m.text === 'hello', timeoutMs: 5000 });
    await bob.connectToPeer(addressOf(alice));
    const { peer } = await connected;
    assert.equal(peer.id, bob.id);
    await bob.broadcastMessage('not this one');
    await bob.broadcastMessage('hello');
    assert.equal((await hello).from.id, bob.id);
    // events.once with a signal works on a node too.
    const controller = new AbortController();
    const never = events.once(alice as never, 'peer-disconnected', { signal: controller.signal });
    controller.abort();
    await assert.rejects(never, { name: 'AbortError' });
  });
});
