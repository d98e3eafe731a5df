/**
 * `Connection`'s solo writes (secure mode, issue 16 part 3): a large BYTES payload reaches the TLS
 * socket alone, so node:tls encrypts it from the caller's memory instead of first copying it with
 * its neighbours into one new buffer. Real node:tls over loopback TCP on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import test, { type TestContext } from 'node:test';
import tls from 'node:tls';
import { DEFAULT_CODEC_LIMITS } from '../src/codec/codec.js';
import type { Frame } from '../src/codec/frame.js';
import { NativeDecoder, NativeEncoder } from '../src/codec/native.js';
import { Connection, type ConnectionLimits } from '../src/internal.js';
import { createIdentity } from '../src/secure/identity.js';
import { tlsClientOptions, tlsServerOptions } from '../src/secure/tls-options.js';
import { SOLO_WRITE_BYTES } from '../src/session/secure-mode.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** Most plaintext in one TLS record. */
const RECORD = 16 * KiB;
const LIMITS: ConnectionLimits = { highWaterMark: 64 * KiB, maxQueueBytes: 64 * MiB, writeTimeoutMs: 10_000 };
const CODEC = { ...DEFAULT_CODEC_LIMITS, maxBytesPerMessage: 8 * MiB };

/** What the sender's TLS socket was asked to write: one entry per `_write` / `_writev` call. */
type WriteCall = { chunks: number[] };

async function tlsPair(t: TestContext): Promise<[tls.TLSSocket, tls.TLSSocket]> {
  const identity = await createIdentity();
  let accepted!: (s: tls.TLSSocket) => void;
  const inbound = new Promise<tls.TLSSocket>((resolve) => (accepted = resolve));
  const server = tls.createServer(tlsServerOptions(identity), accepted);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const client = tls.connect({ ...tlsClientOptions(identity), host: '127.0.0.1', port });
  await once(client, 'secureConnect');
  const serverSide = await inbound;
  t.after(() => {
    client.destroy();
    serverSide.destroy();
    server.close();
  });
  return [client, serverSide];
}

/** Records every write the stream machinery hands to the socket (`_write` one chunk, `_writev` several). */
function recordWrites(socket: tls.TLSSocket): WriteCall[] {
  const calls: WriteCall[] = [];
  const s = socket as unknown as {
    _write: (chunk: Buffer, encoding: string, cb: () => void) => void;
    _writev: (chunks: { chunk: Buffer }[], cb: () => void) => void;
  };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (chunk, encoding, cb) => {
    calls.push({ chunks: [chunk.length] });
    write(chunk, encoding, cb);
  };
  s._writev = (chunks, cb) => {
    calls.push({ chunks: chunks.map((c) => c.chunk.length) });
    writev(chunks, cb);
  };
  return calls;
}

function connection(socket: tls.TLSSocket, soloBytes: number): Connection {
  return new Connection(
    socket,
    new NativeDecoder(CODEC),
    new NativeEncoder(CODEC),
    LIMITS,
    '127.0.0.1',
    soloBytes,
  );
}

/** What follows the cut of a split payload (the cut leaves a whole number of records after it). */
function splitRest(size: number): number {
  let cut = ((size + 5) % RECORD) - 5;
  if (cut <= 0) cut += RECORD;
  return size - cut;
}

const digest = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Collects frames until `count` arrived (bounded in time). */
function collect(rx: Connection, count: number, timeoutMs = 20_000): Promise<Frame[]> {
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${frames.length} of ${count} frames arrived`)),
      timeoutMs,
    );
    rx.setFrameHandler((f) => {
      frames.push(f);
      if (frames.length === count) {
        clearTimeout(timer);
        resolve(frames);
      }
    });
  });
}

/** A mix of chats and BYTES of every size class, in a fixed order. */
function mixedFrames(): Frame[] {
  const sizes = [
    1,
    300 * KiB,
    16 * KiB,
    16 * KiB + 1,
    2 * MiB,
    64 * KiB,
    SOLO_WRITE_BYTES,
    SOLO_WRITE_BYTES - 1,
    1 * MiB,
  ];
  const frames: Frame[] = [];
  for (const [i, size] of sizes.entries()) {
    frames.push({ type: 'chat', text: `before ${i}` });
    frames.push({ type: 'bytes', data: randomBytes(size) });
  }
  frames.push({ type: 'chat', text: 'last' });
  return frames;
}

function assertSameFrames(got: Frame[], sent: Frame[]): void {
  assert.equal(got.length, sent.length);
  for (const [i, frame] of sent.entries()) {
    const g = got[i]!;
    assert.equal(g.type, frame.type, `frame ${i}`);
    if (frame.type === 'bytes' && g.type === 'bytes') {
      assert.equal(g.data.length, frame.data.length, `frame ${i} length`);
      assert.equal(digest(g.data), digest(frame.data), `frame ${i} content`);
    } else assert.deepEqual(g, frame, `frame ${i}`);
  }
}

test('large payloads reach node:tls alone, everything arrives intact and in order', async (t) => {
  const [a, b] = await tlsPair(t);
  const calls = recordWrites(a);
  const tx = connection(a, SOLO_WRITE_BYTES);
  const rx = connection(b, 0);
  const sent = mixedFrames();
  const got = collect(rx, sent.length);
  await Promise.all(sent.map((f) => tx.send(f)));
  assertSameFrames(await got, sent);
  // The property: no write of several chunks carried more than a record and a header of a split
  // payload, and the rest of each split payload, a whole number of records, went alone.
  for (const call of calls) {
    if (call.chunks.length > 1) {
      for (const n of call.chunks)
        assert.ok(n <= RECORD + 5, `a ${n}-byte chunk went in a write of ${call.chunks.length}`);
    }
  }
  for (const size of [300 * KiB, 2 * MiB, SOLO_WRITE_BYTES, MiB]) {
    const rest = splitRest(size);
    assert.equal(rest % RECORD, 0, `the rest of a ${size}-byte payload is whole records`);
    assert.ok(
      calls.some((c) => c.chunks.length === 1 && c.chunks[0] === rest),
      `the last ${rest} bytes of a ${size}-byte payload were not written alone`,
    );
  }
});

test('without soloBytes (compat, and the old behaviour) payloads go together with their header', async (t) => {
  const [a, b] = await tlsPair(t);
  const calls = recordWrites(a);
  const tx = connection(a, 0);
  const rx = connection(b, 0);
  const sent = mixedFrames();
  const got = collect(rx, sent.length);
  await Promise.all(sent.map((f) => tx.send(f)));
  assertSameFrames(await got, sent);
  // Shows that the check above can fail: here a large payload shares a write with its header.
  assert.ok(calls.some((c) => c.chunks.length > 1 && c.chunks.some((n) => n >= SOLO_WRITE_BYTES)));
});

test('backpressure with solo writes: sends wait above the mark, a paused reader resumes, every send resolves', async (t) => {
  const [a, b] = await tlsPair(t);
  const tx = connection(a, SOLO_WRITE_BYTES);
  const rx = connection(b, 0);
  const payload = randomBytes(MiB);
  const count = 48;
  const got = collect(rx, count, 30_000);
  rx.setPaused(true);
  let sent = 0;
  let peak = 0;
  let stalled!: () => void;
  const stall = new Promise<void>((resolve) => (stalled = resolve));
  const sending = (async () => {
    for (let i = 0; i < count; i++) {
      const done = tx.send({ type: 'bytes', data: payload });
      peak = Math.max(peak, tx.queuedBytes);
      // send() waits exactly when more than the high-water mark is buffered: the sender stalls.
      if (tx.queuedBytes > LIMITS.highWaterMark) stalled();
      await done;
      sent++;
    }
  })();
  // The sender must stall well before 48 MiB while nothing is read (kernel buffers plus our mark):
  // the reader stays paused until the first send that has to wait.
  await stall;
  assert.ok(sent < count, `all ${sent} sends completed while the reader was paused`);
  rx.setPaused(false);
  await sending;
  const frames = await got;
  assert.equal(frames.length, count);
  for (const f of frames) {
    assert.equal(f.type, 'bytes');
    if (f.type === 'bytes') assert.equal(digest(f.data), digest(payload));
  }
  assert.ok(peak <= LIMITS.highWaterMark + 2 * MiB, `queued up to ${peak} bytes`);
});

test('end() flushes split payloads that are still queued, then closes', async (t) => {
  const [a, b] = await tlsPair(t);
  const tx = connection(a, SOLO_WRITE_BYTES);
  const rx = connection(b, 0);
  const payloads = [randomBytes(MiB), randomBytes(3 * MiB), randomBytes(SOLO_WRITE_BYTES)];
  const got = collect(rx, payloads.length + 1);
  for (const data of payloads) void tx.send({ type: 'bytes', data }).catch(() => undefined);
  tx.write({ type: 'chat', text: 'bye' });
  tx.end();
  const frames = await got;
  for (const [i, data] of payloads.entries()) {
    const f = frames[i]!;
    assert.equal(f.type, 'bytes');
    if (f.type === 'bytes') assert.equal(digest(f.data), digest(data));
  }
  assert.deepEqual(frames[payloads.length], { type: 'chat', text: 'bye' });
  const closed = new Promise<void>((resolve) => rx.setCloseHandler(() => resolve()));
  await closed;
});
