import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { MeshMessage } from '../src/messages.js';
import type { P2PNode } from '../src/node.js';
import {
  addressOf,
  MODES,
  RawCompatPeer,
  record,
  startNode,
  waitFor,
  waitForPeerCount,
  waitUntil,
} from './helpers/nodes.js';
import { waitForQuiet } from './helpers/wait.js';

/**
 * Resolves once `progress()` has not changed for `quietMs`, or rejects after `timeoutMs` if it
 * keeps moving. For asserting that something has stopped (see waitForQuiet).
 */
async function waitForStall(
  progress: () => number,
  quietMs: number,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const { value, quiet } = await waitForQuiet(progress, quietMs, timeoutMs);
  if (!quiet) throw new Error(`${what} never stalled (at ${value})`);
  return value;
}

function chunk(index: number, size: number): Buffer {
  const buf = Buffer.alloc(size, index & 0xff);
  buf.writeUInt32BE(index, 0);
  return buf;
}

describe('a peer that stops reading (compat)', () => {
  test(
    'never blocks delivery to the others; it is dropped after the write timeout',
    { timeout: 15_000 },
    async (t) => {
      const WRITE_TIMEOUT = 1_500;
      const x = await startNode(t, {
        mode: 'compat',
        maintenanceIntervalMs: 50, // PINGs keep going to the stalled peer: they must not get it dropped early
        peerTimeoutMs: 60_000,
        writeTimeoutMs: WRITE_TIMEOUT,
        sendHighWaterMark: 64 * 1024,
        maxSendQueueBytes: 2 * 1024 * 1024,
        maxBytesPerMessage: 1024 * 1024,
      });
      const y = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 50 });
      await y.connectToPeer(addressOf(x));
      const stalled = await RawCompatPeer.join(t, x, 'stalled', '127.0.0.1:1');
      stalled.socket.pause(); // never reads again: the kernel buffers fill, then the node's queue
      await waitForPeerCount([x], 2);
      const xMessages = record(x);
      const yBytes: number[] = [];
      y.on('bytes', (m) => yBytes.push(Buffer.from(m.data).readUInt32BE(0)));
      const dropped = waitFor(x, 'peer-disconnected', (m) => m.peer.id === stalled.id, 10_000);
      dropped.catch(() => undefined); // awaited below; a timeout must not surface as unhandled first

      // 1 MiB messages to both peers, paced by Y, until the stalled peer's queue is full: far more
      // than the socket buffers hold, so the node itself must queue and then refuse.
      const stalledSends: Promise<void>[] = [];
      const codes: string[] = [];
      let sent = 0;
      while (!codes.includes('ERR_SEND_QUEUE_FULL')) {
        assert.ok(sent < 100, "the stalled peer's queue fills within 100 MiB");
        const i = sent++;
        const atY = waitFor(y, 'bytes', (m) => Buffer.from(m.data).readUInt32BE(0) === i, 5_000);
        const toStalled = x.sendBytesToPeer(stalled.id, chunk(i, 1024 * 1024));
        toStalled.catch((err: { code: string }) => codes.push(err.code));
        stalledSends.push(toStalled);
        await x.sendBytesToPeer(y.id, chunk(i, 1024 * 1024));
        await atY;
      }
      assert.deepEqual(
        yBytes,
        Array.from({ length: sent }, (_, i) => i),
        'Y got everything, in order',
      );
      // The stalled peer is still connected (its write timeout has not passed), and chat still flows.
      assert.ok(
        x.getPeerInfo().peers.some((p) => p.id === stalled.id),
        'not dropped before the write timeout',
      );
      const chat = waitFor(y, 'chat', (m) => m.text === 'still flowing', 2_000);
      await Promise.race([x.broadcastMessage('still flowing'), chat]);
      await chat;
      assert.ok(
        x.getPeerInfo().peers.some((p) => p.id === stalled.id),
        'Y served while the stalled peer hangs',
      );

      const d = await dropped;
      assert.equal(d.reason, 'write-timeout');
      assert.equal(d.error?.code, 'ERR_WRITE_TIMEOUT');
      assert.ok(
        xMessages.some(
          (m) => m.type === 'error' && m.error.code === 'ERR_WRITE_TIMEOUT' && m.peer?.id === stalled.id,
        ),
        'reported as an error about that peer too',
      );
      assert.deepEqual(
        x.getPeerInfo().peers.map((p) => p.id),
        [y.id],
      );
      // Every send to the stalled peer settles: accepted, refused as queue-full, or failed with the drop.
      const settled = await Promise.allSettled(stalledSends);
      for (const r of settled) {
        if (r.status === 'rejected') {
          assert.ok(
            ['ERR_SEND_QUEUE_FULL', 'ERR_WRITE_TIMEOUT'].includes((r.reason as { code: string }).code),
          );
        }
      }
      // Y is still connected and served.
      const after = waitFor(y, 'chat', (m) => m.text === 'after the drop');
      await x.broadcastMessage('after the drop');
      await after;
    },
  );

  test('sends beyond maxSendQueueBytes reject with ERR_SEND_QUEUE_FULL', { timeout: 10_000 }, async (t) => {
    const x = await startNode(t, {
      mode: 'compat',
      maintenanceIntervalMs: 60_000,
      sendHighWaterMark: 16 * 1024,
      maxSendQueueBytes: 1024 * 1024,
      maxBytesPerMessage: 256 * 1024,
      writeTimeoutMs: 2_000,
    });
    const stalled = await RawCompatPeer.join(t, x, 'stalled', '127.0.0.1:1');
    stalled.socket.pause();
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        Promise.race([
          x.sendBytesToPeer(stalled.id, chunk(i, 256 * 1024)),
          // A send waiting for the buffer to drain has been accepted: that is all this test asks.
          new Promise<void>((resolve) => setImmediate(resolve)),
        ]),
      ),
    );
    const refused = results.filter(
      (r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'ERR_SEND_QUEUE_FULL',
    );
    assert.ok(refused.length >= 8, `at most 4 of 256 KiB fit a 1 MiB queue (refused ${refused.length})`);
    assert.equal(results.filter((r) => r.status === 'rejected').length, refused.length);
    // Oversize messages are refused up front.
    await assert.rejects(x.sendBytesToPeer(stalled.id, Buffer.alloc(256 * 1024 + 1)), {
      code: 'ERR_FRAME_TOO_LARGE',
    });
  });
});

for (const mode of MODES) {
  describe(`messages() iterator (${mode})`, () => {
    test('yields the same messages as the events', { timeout: 10_000 }, async (t) => {
      const a = await startNode(t, { mode, maintenanceIntervalMs: 60_000 });
      const b = await startNode(t, { mode, maintenanceIntervalMs: 60_000 });
      const events = record(a);
      const iterator = a.messages();
      await b.connectToPeer(addressOf(a));
      for (let i = 0; i < 20; i++) {
        if (i % 2) await b.broadcastMessage(`chat ${i}`);
        else await b.broadcastBytes(Buffer.from(`bytes ${i}`));
      }
      await waitUntil(
        [a],
        () => events.filter((m) => m.type === 'chat' || m.type === 'bytes').length === 20,
        'all 20 arrived',
      );
      await b.close();
      await waitFor(a, 'peer-disconnected').catch(() => undefined);
      const fromIterator: MeshMessage[] = [];
      while (fromIterator.length < events.length) {
        const { value, done } = await iterator.next();
        if (done) break;
        fromIterator.push(value);
      }
      assert.deepEqual(fromIterator, events);
      assert.ok(fromIterator.some((m) => m.type === 'peer-connected'));
      await iterator.return?.();
      assert.deepEqual(await iterator.next(), { value: undefined, done: true });
    });

    test(
      'a consumer that stops pulling applies backpressure; on resume every message arrives',
      { timeout: 20_000 },
      async (t) => {
        const SIZE = 64 * 1024;
        const COUNT = 768; // 48 MiB: far beyond what the socket buffers can absorb
        const receiver = await startNode(t, { mode, maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000 });
        const sender = await startNode(t, {
          mode,
          maintenanceIntervalMs: 60_000,
          peerTimeoutMs: 60_000,
          sendHighWaterMark: 64 * 1024,
          writeTimeoutMs: 30_000,
        });
        const iterator = receiver.messages({ types: ['bytes'], highWaterMark: 256 * 1024 });
        let emitted = 0;
        const fromEvents: number[] = [];
        receiver.on('bytes', (m) => {
          emitted++;
          fromEvents.push(Buffer.from(m.data).readUInt32BE(0));
        });
        await sender.connectToPeer(addressOf(receiver));
        await waitForPeerCount([receiver], 1);

        let resolved = 0;
        const sending = (async () => {
          for (let i = 0; i < COUNT; i++) {
            await sender.sendBytesToPeer(receiver.id, chunk(i, SIZE));
            resolved++;
          }
        })();
        // Nobody pulls: the receiver stops reading, the socket buffers fill, the sender's sends wait.
        const stalledAt = await waitForStall(() => resolved, 300, 10_000, 'the sender');
        assert.ok(stalledAt < COUNT, `sends stopped resolving (${stalledAt}/${COUNT})`);
        const emittedAtStall = emitted;
        assert.ok(emittedAtStall < COUNT, `the receiver paused reading (${emittedAtStall}/${COUNT} decoded)`);
        t.diagnostic(`${mode}: stalled after ${stalledAt} sends, ${emittedAtStall} decoded`);

        // Resume: every message arrives, in order, intact.
        const got: number[] = [];
        for await (const m of iterator) {
          assert.equal(m.type, 'bytes');
          if (m.type !== 'bytes') continue;
          const data = Buffer.from(m.data);
          assert.equal(data.length, SIZE);
          const index = data.readUInt32BE(0);
          assert.equal(data[SIZE - 1], index & 0xff);
          got.push(index);
          if (got.length === COUNT) break;
        }
        await sending;
        assert.equal(resolved, COUNT);
        assert.deepEqual(
          got,
          Array.from({ length: COUNT }, (_, i) => i),
        );
        assert.deepEqual(fromEvents, got, 'events saw the same messages');
      },
    );
  });
}

test(
  'two iterators: the slower one holds the node back, the faster one still gets everything',
  { timeout: 10_000 },
  async (t) => {
    const a = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
    const b: P2PNode = await startNode(t, { mode: 'compat', maintenanceIntervalMs: 60_000 });
    const fast = a.messages({ types: ['chat'] });
    const slow = a.messages({ types: ['chat'], highWaterMark: 1024 });
    await b.connectToPeer(addressOf(a));
    const N = 200;
    const sending = (async () => {
      for (let i = 0; i < N; i++) await b.broadcastMessage(`m${i}`);
    })();
    const take = async (it: AsyncIterableIterator<MeshMessage>): Promise<string[]> => {
      const out: string[] = [];
      for await (const m of it) {
        if (m.type === 'chat') out.push(m.text);
        if (out.length === N) break;
      }
      return out;
    };
    const expected = Array.from({ length: N }, (_, i) => `m${i}`);
    assert.deepEqual(await take(fast), expected);
    assert.deepEqual(await take(slow), expected);
    await sending;
  },
);

for (const mode of MODES) {
  test(`close() with a peer whose send queue is full resolves (${mode})`, { timeout: 10_000 }, async (t) => {
    const receiver = await startNode(t, { mode, maintenanceIntervalMs: 60_000 });
    const sender = await startNode(t, {
      mode,
      maintenanceIntervalMs: 60_000,
      sendHighWaterMark: 16 * 1024,
      maxSendQueueBytes: 64 * 1024,
      maxBytesPerMessage: 16 * 1024,
    });
    // A consumer that never pulls: the receiver stops reading at once.
    const iterator = receiver.messages({ types: ['bytes'], highWaterMark: 1024 });
    await sender.connectToPeer(addressOf(receiver));
    await waitForPeerCount([receiver], 1);
    // Fill the sender's queue to the brim, one exact-fit message at a time.
    let full = false;
    for (let i = 0; i < 100_000 && !full; i++) {
      await Promise.race([
        sender.sendBytesToPeer(receiver.id, Buffer.alloc(1024)).catch((err: { code?: string }) => {
          if (err.code !== 'ERR_SEND_QUEUE_FULL') throw err;
          full = true;
        }),
        new Promise<void>((resolve) => setImmediate(resolve)),
      ]);
    }
    assert.ok(full, 'the queue filled up');
    const gone = waitFor(receiver, 'peer-disconnected', () => true, 5_000);
    const started = Date.now();
    await sender.close(); // neither throws (no room for a goodbye) nor hangs
    assert.ok(Date.now() - started < 2_000, `close() took ${Date.now() - started} ms`);
    // The receiver sees the end once its consumer pulls again: every queued message, then the disconnect.
    let received = 0;
    const draining = (async () => {
      for await (const m of iterator) if (m.type === 'bytes') received++;
    })();
    const d = await gone;
    assert.ok(received > 0);
    assert.equal(d.peer.id, sender.id);
    await iterator.return?.();
    await draining;
    // And the receiver, still paused before, closes promptly too.
    const closing = Date.now();
    await receiver.close();
    assert.ok(Date.now() - closing < 2_000);
  });
}

for (const mode of MODES) {
  test(
    `a consumer behind on one peer pauses only that peer; another peer's chat still flows (${mode})`,
    { timeout: 20_000 },
    async (t) => {
      const opts = { mode, maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000, writeTimeoutMs: 30_000 };
      const receiver = await startNode(t, opts);
      const flooder = await startNode(t, { ...opts, sendHighWaterMark: 64 * 1024 });
      const innocent = await startNode(t, opts);
      // Consumes BYTES, never pulls: it falls behind on the flooder at once.
      const iterator = receiver.messages({ types: ['bytes', 'chat'], highWaterMark: 256 * 1024 });
      await flooder.connectToPeer(addressOf(receiver));
      await innocent.connectToPeer(addressOf(receiver));
      await waitForPeerCount([receiver], 2);
      let resolved = 0;
      let stop = false;
      const flooding = (async () => {
        while (!stop) {
          await flooder.sendBytesToPeer(receiver.id, Buffer.alloc(64 * 1024)).catch(() => {
            stop = true;
          });
          resolved++;
        }
      })();
      await waitForStall(() => resolved, 300, 10_000, 'the flooder');
      // The flooder is paused; the innocent peer's chats still arrive (as events) one by one.
      for (let i = 0; i < 20; i++) {
        const got = waitFor(receiver, 'chat', (m) => m.text === `hi ${i}`, 2_000);
        await innocent.sendMessageToPeer(receiver.id, `hi ${i}`);
        await got;
      }
      stop = true;
      await iterator.return?.();
      await flooding;
    },
  );
}
