/**
 * Connection on its own, over a pair of MemoryNetwork streams (frames, held frames, end,
 * destroy, retire, the hard queue limit) and over real loopback TCP where a reader that stops
 * must push back (high-water mark and drain, write timeout). No node, no handshake, no TLS.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Frame } from '../src/codec/frame.js';
import { NativeEncoder } from '../src/codec/native.js';
import { DEFAULT_CODEC_LIMITS } from '../src/codec/codec.js';
import { MeshwireError } from '../src/errors.js';
import { CONTROL_SLACK_BYTES, type Connection } from '../src/internal.js';
import { memoryConnections, memoryStreams, nativeConnection, tcpSockets } from './helpers/connection-pair.js';
import { EventLog } from './helpers/wait.js';

const WAIT = { timeout: 10_000 };

/** Every frame `connection` hands its handler, with bounded waits for a count of them. */
function collect(connection: Connection): { frames: Frame[]; count: (n: number) => Promise<void> } {
  const log = new EventLog<Frame>();
  connection.setFrameHandler((f) => log.push(f));
  return {
    frames: log.all,
    count: async (n) => {
      if (log.all.length >= n) return;
      await log.waitFor(() => log.all.length >= n, {
        timeoutMs: 5_000,
        timeoutError: () => new Error(`timed out with ${log.all.length} of ${n} frames`),
      });
    },
  };
}

/** Resolves with the close handler's argument; fails the test if it is called twice. */
function closeOf(connection: Connection): Promise<MeshwireError | undefined> {
  let calls = 0;
  return new Promise((resolve) =>
    connection.setCloseHandler((error) => {
      calls++;
      assert.equal(calls, 1, 'the close handler runs once');
      resolve(error);
    }),
  );
}

const chat = (text: string): Frame => ({ type: 'chat', text });
const texts = (frames: Frame[]): string[] => frames.map((f) => (f.type === 'chat' ? f.text : f.type));

describe('Connection over in-memory streams: frames', () => {
  test('frames arrive in the order sent, whatever their kind', WAIT, async (t) => {
    const [a, b] = await memoryConnections(t);
    const got = collect(b);
    const sent: Frame[] = [];
    for (let i = 0; i < 500; i++) {
      const frame: Frame =
        i % 7 === 0
          ? { type: 'bytes', data: Buffer.alloc(i * 10, i) }
          : i % 11 === 0
            ? { type: 'ping', nonce: BigInt(i) }
            : chat(`m${i}`);
      sent.push(frame);
      if (i % 2 === 0) a.write(frame);
      else void a.send(frame);
    }
    await got.count(500);
    assert.deepEqual(
      got.frames.map((f) => (f.type === 'bytes' ? { type: 'bytes', data: Buffer.from(f.data) } : f)),
      sent.map((f) => (f.type === 'bytes' ? { type: 'bytes', data: Buffer.from(f.data) } : f)),
    );
  });

  test('frames that arrive before a handler are held, pulled in order, then handed over', WAIT, async (t) => {
    const [a, b] = await memoryConnections(t);
    for (const text of ['one', 'two', 'three', 'four']) a.write(chat(text));
    assert.deepEqual(await b.nextFrame(), chat('one'));
    assert.equal(
      b.takeHeldIf((f) => f.type === 'ping'),
      undefined,
      'not a ping: left held',
    );
    assert.deepEqual(
      b.takeHeldIf((f) => f.type === 'chat'),
      chat('two'),
    );
    const got = collect(b);
    a.write(chat('five'));
    await got.count(3);
    assert.deepEqual(texts(got.frames), ['three', 'four', 'five']);
  });

  test('a frame the codec cannot encode is refused at send, and the connection stays up', WAIT, async (t) => {
    const [x, y] = await memoryStreams(t);
    const a = nativeConnection(x, {}, { ...DEFAULT_CODEC_LIMITS, maxBytesPerMessage: 100 });
    const got = collect(nativeConnection(y));
    await assert.rejects(a.send({ type: 'bytes', data: Buffer.alloc(101) }), { code: 'ERR_FRAME_TOO_LARGE' });
    a.write(chat('still here'));
    await got.count(1);
    assert.equal(a.closed, false);
  });

  test('malformed input ends the connection with the codec’s error code, reported once', WAIT, async (t) => {
    const [x, y] = await memoryStreams(t);
    const b = nativeConnection(y, {}, { ...DEFAULT_CODEC_LIMITS, maxBytesPerMessage: 1000 });
    const closed = closeOf(b);
    // A BYTES header claiming 1 MB against a limit of 1000: refused from the header alone.
    const [header] = new NativeEncoder(DEFAULT_CODEC_LIMITS).encode({
      type: 'bytes',
      data: Buffer.alloc(1_000_000),
    });
    x.write(header);
    const error = await closed;
    assert.equal(error?.code, 'ERR_FRAME_TOO_LARGE');
    assert.equal(b.closed, true);
  });
});

describe('Connection over in-memory streams: ending', () => {
  test(
    'end() flushes what is queued, then FIN: the peer reads it all, then sees the close',
    WAIT,
    async (t) => {
      const [a, b] = await memoryConnections(t);
      const aClosed = closeOf(a);
      const bClosed = closeOf(b);
      const got = collect(b);
      for (let i = 0; i < 100; i++) a.write(chat(`m${i}`));
      a.end();
      assert.equal(a.closed, true);
      assert.equal(await aClosed, undefined, 'a local end reports no error');
      assert.throws(() => a.write(chat('late')), { code: 'ERR_CLOSED' });
      assert.equal((await bClosed)?.code, 'ERR_CONNECTION_CLOSED');
      assert.equal(got.frames.length, 100, 'everything queued before end() arrived');
      a.end();
      a.destroy(new MeshwireError('ERR_WRITE_TIMEOUT', 'too late'));
    },
  );

  test(
    'destroy(error) closes at once with that error; the peer sees the connection closed',
    WAIT,
    async (t) => {
      const [a, b] = await memoryConnections(t);
      const aClosed = closeOf(a);
      const bClosed = closeOf(b);
      a.destroy(new MeshwireError('ERR_PEER_TIMEOUT', 'silent'));
      assert.equal((await aClosed)?.code, 'ERR_PEER_TIMEOUT');
      assert.equal((await bClosed)?.code, 'ERR_CONNECTION_CLOSED');
      await assert.rejects(a.send(chat('x')), { code: 'ERR_PEER_TIMEOUT' });
      await assert.rejects(a.nextFrame(), { code: 'ERR_PEER_TIMEOUT' });
      // A close handler set after the end is called at once.
      assert.equal((await closeOf(a))?.code, 'ERR_PEER_TIMEOUT');
    },
  );

  test('a handshake waiting in nextFrame() learns of the close', WAIT, async (t) => {
    const [x, y] = await memoryStreams(t);
    nativeConnection(x);
    const b = nativeConnection(y);
    const waiting = b.nextFrame();
    x.destroy();
    await assert.rejects(waiting, { code: 'ERR_CONNECTION_CLOSED' });
  });

  test(
    'retire(): queued frames are flushed, nothing more is sent, and late frames still arrive',
    WAIT,
    async (t) => {
      const [a, b] = await memoryConnections(t);
      let aCloseCalls = 0;
      a.setCloseHandler(() => aCloseCalls++);
      const bClosed = closeOf(b);
      const fromA = collect(b);
      a.write(chat('before'));
      const late: Frame[] = [];
      a.retire((f) => late.push(f));
      assert.equal(a.closed, true);
      assert.throws(() => a.write(chat('after')), { code: 'ERR_CLOSED' });
      // What the peer sent before it learnt of the switch is still handed over.
      b.write(chat('late'));
      assert.equal((await bClosed)?.code, 'ERR_CONNECTION_CLOSED');
      assert.deepEqual(texts(fromA.frames), ['before']);
      assert.deepEqual(texts(late), ['late']);
      assert.equal(aCloseCalls, 0, 'a retired connection does not report a close');
    },
  );
});

describe('Connection: send queue limits', () => {
  test(
    'the queue is bounded by maxQueueBytes; control frames get the slack; all of it arrives',
    WAIT,
    async (t) => {
      const [x, y] = await memoryStreams(t);
      const maxQueueBytes = 256 * 1024;
      const highWaterMark = 32 * 1024;
      const a = nativeConnection(x, { maxQueueBytes, highWaterMark });
      const got = collect(nativeConnection(y));
      const payload = Buffer.alloc(4096, 1);
      let accepted = 0;
      let refusal: unknown;
      // All in one turn: the stream is corked until the next tick, so nothing leaves meanwhile.
      for (let i = 0; i < 1000 && refusal === undefined; i++) {
        try {
          a.write({ type: 'bytes', data: payload });
          accepted++;
        } catch (err) {
          refusal = err;
        }
      }
      assert.equal((refusal as MeshwireError | undefined)?.code, 'ERR_SEND_QUEUE_FULL');
      assert.ok(a.queuedBytes <= maxQueueBytes, `${a.queuedBytes} queued`);
      assert.ok(accepted * 4096 > maxQueueBytes - 2 * 4200, `only ${accepted} frames accepted`);
      assert.ok(
        a.socket.writableLength <= highWaterMark + 4200,
        `the stream was handed ${a.socket.writableLength} bytes, not about one high-water mark`,
      );
      // A heartbeat or peer list still goes out: it may use the control slack.
      a.write({ type: 'ping', nonce: 1n }, true);
      assert.throws(() => a.write({ type: 'bytes', data: Buffer.alloc(CONTROL_SLACK_BYTES + 8192) }, true), {
        code: 'ERR_SEND_QUEUE_FULL',
      });
      await assert.rejects(a.send({ type: 'bytes', data: payload }), { code: 'ERR_SEND_QUEUE_FULL' });
      await got.count(accepted + 1);
      assert.equal(got.frames.filter((f) => f.type === 'bytes').length, accepted);
      assert.equal(got.frames.at(-1)?.type, 'ping');
      assert.equal(a.queuedBytes, 0);
    },
  );
});

describe('Connection over loopback TCP: a reader that stops', () => {
  const MiB = 1024 * 1024;
  const encoder = new NativeEncoder(DEFAULT_CODEC_LIMITS);
  /** One encoded 1 MiB BYTES frame, queued many times over (the buffers are shared). */
  const big = encoder.encode({ type: 'bytes', data: Buffer.alloc(MiB, 7) });

  test('send() waits above the high-water mark and resolves once the reader catches up', WAIT, async (t) => {
    const [x, y] = await tcpSockets(t);
    const highWaterMark = 64 * 1024;
    const a = nativeConnection(x, { highWaterMark });
    const b = nativeConnection(y);
    b.setPaused(true);
    // More than loopback's kernel buffers take while nobody reads.
    for (let i = 0; i < 32; i++) a.writeEncoded(big);
    assert.equal(a.sendEncoded(big) instanceof Promise, true, 'above the mark: the caller must wait');
    const drained = a.send(chat('after')).then(() => a.queuedBytes);
    const got = collect(b);
    b.setPaused(false);
    const queuedAtResolve = await drained;
    assert.ok(
      queuedAtResolve <= Math.max(highWaterMark, x.writableHighWaterMark),
      `${queuedAtResolve} still queued`,
    );
    await got.count(34);
    assert.equal(got.frames.filter((f) => f.type === 'bytes').length, 33);
    assert.deepEqual(got.frames.at(-1), chat('after'));
  });

  test(
    'pending bytes that make no progress for writeTimeoutMs end it with ERR_WRITE_TIMEOUT',
    WAIT,
    async (t) => {
      const [x, y] = await tcpSockets(t);
      const a = nativeConnection(x, { writeTimeoutMs: 300 });
      const b = nativeConnection(y);
      b.setPaused(true);
      const closed = closeOf(a);
      for (let i = 0; i < 32; i++) a.writeEncoded(big);
      const waiting = a.send(chat('never'));
      const error = await closed;
      assert.equal(error?.code, 'ERR_WRITE_TIMEOUT');
      await assert.rejects(waiting, { code: 'ERR_WRITE_TIMEOUT' });
      assert.throws(() => a.write(chat('late')), { code: 'ERR_WRITE_TIMEOUT' });
    },
  );

  test('a slow reader that keeps making progress is not timed out', WAIT, async (t) => {
    const [x, y] = await tcpSockets(t);
    const writeTimeoutMs = 400;
    const a = nativeConnection(x, { writeTimeoutMs });
    const b = nativeConnection(y);
    // The reader takes one frame, then pauses for a fifth of the timeout, frame after frame: the
    // whole transfer takes several write timeouts, with bytes pending all along.
    const frames = 16;
    let received = 0;
    let pendingMidway = 0;
    const started = Date.now();
    let elapsedMidway = 0;
    const done = new Promise<void>((resolve, reject) => {
      a.setCloseHandler((e) => reject(e ?? new Error('closed')));
      b.setFrameHandler(() => {
        received++;
        if (received === frames / 2) {
          pendingMidway = a.queuedBytes;
          elapsedMidway = Date.now() - started;
        }
        if (received === frames) return resolve();
        b.setPaused(true);
        setTimeout(() => b.setPaused(false), writeTimeoutMs / 5);
      });
    });
    for (let i = 0; i < frames; i++) a.writeEncoded(big);
    await done;
    assert.ok(elapsedMidway > writeTimeoutMs, `midway after ${elapsedMidway} ms: not slow enough to test`);
    assert.ok(pendingMidway > 0, 'bytes were pending for longer than the write timeout');
    assert.equal(a.closed, false, 'still open');
  });
});
