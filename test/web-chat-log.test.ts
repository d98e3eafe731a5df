/**
 * The dashboard's chat ring: bounded, cheap per message, and explicit about what a burst skips.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ChatMessage } from '../src/messages.js';
import { ChatLog, MAX_CHAT_DISPLAY_CHARS, MAX_CHAT_LINES, MAX_NAME_CHARS } from '../src/web/chat-log.js';

const from = { id: 'a'.repeat(32), name: 'alice', address: '127.0.0.1:1' };
const chat = (text: string, name = 'alice'): ChatMessage => ({
  type: 'chat',
  time: 1,
  from: { ...from, name },
  text,
});

describe('chat log', () => {
  it('hands out new lines once, keeps the last MAX_CHAT_LINES, and counts what a burst skipped', () => {
    const log = new ChatLog();
    assert.equal(log.takeNew(), undefined);
    assert.equal(log.addIncoming(chat('m1')), true, 'first line since the last batch');
    assert.equal(log.addIncoming(chat('m2')), false);
    assert.deepEqual(
      log.takeNew()?.lines.map((l) => [l.seq, l.text]),
      [
        [1, 'm1'],
        [2, 'm2'],
      ],
    );
    assert.equal(log.takeNew(), undefined);
    const burst = MAX_CHAT_LINES + 700;
    for (let i = 0; i < burst; i++) log.addIncoming(chat(`b${i}`));
    const taken = log.takeNew()!;
    assert.equal(taken.skipped, 700);
    assert.equal(taken.lines.length, MAX_CHAT_LINES);
    assert.equal(taken.lines[0]!.seq, 2 + 700 + 1);
    assert.equal(taken.lines.at(-1)!.text, `b${burst - 1}`);
    assert.equal(log.all().length, MAX_CHAT_LINES);
    assert.equal(log.addOutgoing('me', 'hub', 'to bob', 'bob'), true);
    const out = log.takeNew()!.lines;
    assert.deepEqual(
      { ...out[0], time: 0 },
      {
        seq: burst + 3,
        time: 0,
        fromId: 'me',
        fromName: 'hub',
        text: 'to bob',
        truncated: false,
        outgoing: true,
        toName: 'bob',
      },
    );
  });

  it('cuts long texts and names for display, and says so', () => {
    const log = new ChatLog();
    log.addIncoming(chat('x'.repeat(MAX_CHAT_DISPLAY_CHARS + 5), 'n'.repeat(MAX_NAME_CHARS * 2)));
    const [line] = log.all();
    assert.equal(line!.text.length, MAX_CHAT_DISPLAY_CHARS);
    assert.equal(line!.truncated, true);
    assert.equal(line!.fromName.length, MAX_NAME_CHARS);
  });
});
