/**
 * MessageStream on its own: order and filtering, the per-peer high-water mark with its pause and
 * resume callbacks (only the peer that is behind), and the two ways to end (the consumer quits:
 * discard and release; the node closes: drain first), also through an AbortSignal.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageStream, type MessageStreamOptions } from '../src/internal.js';
import type { MeshMessage, PeerRef } from '../src/messages.js';

const ref = (id: string): PeerRef => ({ id, name: id, address: `${id}.test:1` });
const chat = (from: string, text = 'hi'): MeshMessage => ({ type: 'chat', from: ref(from), text, time: 0 });
const bytes = (from: string, length: number): MeshMessage => ({
  type: 'bytes',
  from: ref(from),
  data: new Uint8Array(length),
  time: 0,
});
const start: MeshMessage = {
  type: 'system-start',
  id: 'me',
  name: 'me',
  host: 'h',
  port: 1,
  mode: 'secure',
  time: 0,
};

/** A stream that records its callbacks. */
function stream(options: MessageStreamOptions = {}): {
  s: MessageStream;
  pressure: (string | undefined)[];
  ended: MessageStream[];
} {
  const pressure: (string | undefined)[] = [];
  const ended: MessageStream[] = [];
  const s = new MessageStream(
    options,
    (id) => pressure.push(id),
    (x) => ended.push(x),
  );
  return { s, pressure, ended };
}

async function drain(s: MessageStream, count: number): Promise<MeshMessage[]> {
  const out: MeshMessage[] = [];
  for (let i = 0; i < count; i++) {
    const r = await s.next();
    assert.equal(r.done, false, `expected message ${i + 1} of ${count}`);
    out.push(r.value as MeshMessage);
  }
  return out;
}

describe('MessageStream: delivery', () => {
  test('delivers in order, to a waiting reader at once, and filters by type', async () => {
    const { s } = stream({ types: ['chat'] });
    const waiting = s.next();
    s.push(chat('a', 'first'));
    assert.deepEqual((await waiting).value, chat('a', 'first'));
    s.push(start);
    s.push(chat('a', 'second'));
    s.push(chat('b', 'third'));
    const texts = (await drain(s, 2)).map((m) => (m.type === 'chat' ? m.text : m.type));
    assert.deepEqual(texts, ['second', 'third']);
    assert.equal(s.queuedWeight, 0);
  });

  test('weighs BYTES by payload (+64) and other messages at 64', async () => {
    const { s } = stream();
    s.push(chat('a'));
    s.push(bytes('a', 1000));
    s.push(start);
    assert.equal(s.queuedWeight, 64 + 1064 + 64);
    await drain(s, 3);
    assert.equal(s.queuedWeight, 0);
  });
});

describe('MessageStream: per-peer high-water mark', () => {
  test('only the peer that passes the mark is reported, once on the way up and once on the way down', async () => {
    const { s, pressure } = stream({ highWaterMark: 200 });
    for (let i = 0; i < 3; i++) s.push(chat('a'));
    assert.deepEqual(pressure, [], '192 is not above 200');
    s.push(chat('b'));
    s.push(chat('a'));
    assert.deepEqual(pressure, ['a']);
    s.push(bytes('a', 5000));
    assert.deepEqual(pressure, ['a'], 'no repeat while above');
    assert.equal(s.isOverHighWater('a'), true);
    assert.equal(s.isOverHighWater('b'), false);

    // Reading a's messages brings it back under the mark: one resume callback, when it crosses.
    await drain(s, 5);
    assert.deepEqual(pressure, ['a']);
    assert.equal(s.isOverHighWater('a'), true, 'the 5 KB message is still queued');
    await drain(s, 1);
    assert.deepEqual(pressure, ['a', 'a']);
    assert.equal(s.isOverHighWater('a'), false);
  });

  test('messages with no peer count in the total but hold no peer back', () => {
    const { s, pressure } = stream({ highWaterMark: 100 });
    for (let i = 0; i < 10; i++) s.push(start);
    assert.equal(s.queuedWeight, 640);
    assert.deepEqual(pressure, []);
  });
});

describe('MessageStream: ending', () => {
  test('the consumer quits: queued messages are discarded, paused peers released, onEnd called', async () => {
    const { s, pressure, ended } = stream({ highWaterMark: 100 });
    s.push(bytes('a', 500));
    s.push(chat('b'));
    assert.deepEqual(pressure, ['a']);
    const r = await s.return();
    assert.equal(r.done, true);
    assert.deepEqual(ended, [s]);
    assert.deepEqual(pressure, ['a', 'a'], 'the node re-evaluates the paused peer');
    assert.equal(s.isOverHighWater('a'), false);
    assert.equal(s.queuedWeight, 0);
    assert.equal((await s.next()).done, true);
    s.push(chat('a'));
    assert.equal((await s.next()).done, true, 'nothing is queued after the end');
  });

  test('the node closes: queued messages are still delivered, then the iterator finishes', async () => {
    const { s, ended } = stream();
    s.push(chat('a', 'one'));
    s.push(chat('a', 'two'));
    s.end(true);
    assert.deepEqual(ended, [s]);
    const texts: string[] = [];
    for await (const m of s) texts.push(m.type === 'chat' ? m.text : m.type);
    assert.deepEqual(texts, ['one', 'two']);
  });

  test('a reader waiting when the stream ends gets done; end is idempotent', async () => {
    const { s, ended } = stream();
    const waiting = s.next();
    s.end();
    s.end(true);
    assert.deepEqual(await waiting, { value: undefined, done: true });
    assert.equal(ended.length, 1);
  });

  test('an AbortSignal ends it, also one aborted before the stream was made', async () => {
    const controller = new AbortController();
    const { s, ended } = stream({ signal: controller.signal });
    s.push(chat('a'));
    controller.abort();
    assert.deepEqual(ended, [s]);
    assert.equal((await s.next()).done, true, 'the consumer quit: discarded');

    const early = stream({ signal: AbortSignal.abort() });
    assert.deepEqual(early.ended, [early.s]);
    assert.equal((await early.s.next()).done, true);
  });
});
