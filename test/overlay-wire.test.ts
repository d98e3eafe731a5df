/**
 * The overlay wire codec: the PROTOCOL.md test vectors both ways, round trips, and every bound
 * and malformation rule (O1 to O9).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CodecError, MeshwireError } from '../src/errors.js';
import { decodeOverlayMessage, encodeOverlayMessage, signedBytes } from '../src/overlay/index.js';
import type { OverlayMessage } from '../src/overlay/index.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The vectors of PROTOCOL.md, "Overlay test vectors". */
const VECTORS: [OverlayMessage, string][] = [
  [{ type: 'join', address: '10.0.0.1:9000' }, '01 00 0d 31 30 2e 30 2e 30 2e 31 3a 39 30 30 30'],
  [
    { type: 'forward-join', ttl: 6, peer: { id: 'ab', address: '[::1]:1' } },
    '02 06 02 61 62 00 07 5b 3a 3a 31 5d 3a 31',
  ],
  [{ type: 'neighbor', high: true, address: '' }, '03 01 00 00'],
  [{ type: 'disconnect', alive: true }, '04 01'],
  [
    {
      type: 'shuffle',
      ttl: 5,
      walk: 0x01020304,
      origin: { id: 'a', address: '' },
      peers: [{ id: 'b', address: 'h:2' }],
    },
    '05 05 01 02 03 04 01 61 00 00 00 01 01 62 00 03 68 3a 32',
  ],
  [{ type: 'shuffle-reply', walk: 7, peers: [] }, '06 00 00 00 07 00 00'],
  [
    {
      type: 'gossip',
      sender: 'a1',
      epoch: 1,
      seq: 2,
      hops: 3,
      kind: 0,
      signature: bytes('aabb'),
      payload: text('hi'),
    },
    '10 02 61 31 00 00 00 00 00 00 00 01 00 00 00 02 03 00 02 aa bb 68 69',
  ],
  [
    { type: 'ihave', entries: [{ sender: 'a1', epoch: 0, seq: 7, hops: 2 }] },
    '11 00 01 02 61 31 00 00 00 00 00 00 00 00 00 00 00 07 02',
  ],
  [
    { type: 'graft', ids: [{ sender: 'a1', epoch: 0, seq: 7 }] },
    '12 00 01 02 61 31 00 00 00 00 00 00 00 00 00 00 00 07',
  ],
  [{ type: 'prune', sender: 'a1' }, '13 02 61 31'],
];

test('test vectors encode to the documented bytes and decode back', () => {
  for (const [message, hex] of VECTORS) {
    assert.deepEqual(Buffer.from(encodeOverlayMessage(message)), Buffer.from(bytes(hex)), message.type);
    assert.deepEqual(decodeOverlayMessage(bytes(hex)), message, message.type);
  }
});

test('the signed bytes: context, zero, message ID, kind, payload (no hop count)', () => {
  const expected =
    '6d 65 73 68 77 69 72 65 2d 6f 76 65 72 6c 61 79 2d 76 31 00 02 61 31 00 00 00 00 00 00 00 01 00 00 00 02 00 68 69';
  const fields = { sender: 'a1', epoch: 1, seq: 2, kind: 0, payload: text('hi') };
  assert.deepEqual(Buffer.from(signedBytes(fields)), Buffer.from(bytes(expected)));
});

test("GRAFT may name seq 0: join that sender's tree without asking for a payload (rule O8)", () => {
  const m: OverlayMessage = { type: 'graft', ids: [{ sender: 'a1', epoch: 0, seq: 0 }] };
  assert.deepEqual(decodeOverlayMessage(encodeOverlayMessage(m)), m);
});

test('large values round-trip: epoch up to 2^53 - 1, seq up to 2^32 - 1, 1024 IHAVE entries', () => {
  const id = { sender: 'x'.repeat(128), epoch: Number.MAX_SAFE_INTEGER, seq: 0xffffffff };
  const ihave: OverlayMessage = {
    type: 'ihave',
    entries: Array.from({ length: 1024 }, () => ({ ...id, hops: 255 })),
  };
  assert.deepEqual(decodeOverlayMessage(encodeOverlayMessage(ihave)), ihave);
  const g: OverlayMessage = {
    type: 'gossip',
    ...id,
    hops: 1,
    kind: 1,
    signature: new Uint8Array(96),
    payload: new Uint8Array(0),
  };
  assert.deepEqual(decodeOverlayMessage(encodeOverlayMessage(g)), g);
});

function rejects(hex: string, code: string, why: string): void {
  assert.throws(
    () => decodeOverlayMessage(bytes(hex)),
    (e: unknown) => e instanceof CodecError && e.code === code,
    why,
  );
}

test('malformed bodies are refused with ERR_MALFORMED_FRAME', () => {
  rejects('', 'ERR_MALFORMED_FRAME', 'empty body');
  rejects('7f', 'ERR_MALFORMED_FRAME', 'unknown type');
  rejects('04 01 00', 'ERR_MALFORMED_FRAME', 'trailing byte');
  rejects('04 02', 'ERR_MALFORMED_FRAME', 'unknown disconnect flag');
  rejects('03 03 00 00', 'ERR_MALFORMED_FRAME', 'unknown neighbor flag');
  rejects('13 00', 'ERR_MALFORMED_FRAME', 'empty ID');
  rejects('13 02 61 2f', 'ERR_MALFORMED_FRAME', 'ID with /');
  rejects('13 03 61 31', 'ERR_MALFORMED_FRAME', 'ID runs past the end');
  rejects('01 00 05 68 6f 73 74 3a', 'ERR_MALFORMED_FRAME', 'address without a port');
  rejects('01 00 02 c3 28', 'ERR_MALFORMED_FRAME', 'invalid UTF-8');
  rejects('01 01 2d' + ' 61'.repeat(301), 'ERR_MALFORMED_FRAME', 'address over 300 bytes');
  rejects(
    '11 00 01 02 61 31 00 00 00 00 00 00 00 00 00 00 00 00 01',
    'ERR_MALFORMED_FRAME',
    'IHAVE of seq 0',
  );
  rejects(
    '10 02 61 31 00 00 00 00 00 00 00 00 00 00 00 00 01 00 00',
    'ERR_MALFORMED_FRAME',
    'gossip of seq 0',
  );
  rejects('12 00 01 02 61 31 00 20 00 00 00 00 00 00 00 00 00 01', 'ERR_MALFORMED_FRAME', 'epoch above 2^53');
  rejects(
    '10 02 61 31 00 00 00 00 00 00 00 01 00 00 00 02 03 00 05 aa',
    'ERR_MALFORMED_FRAME',
    'signature truncated',
  );
});

test('counts are checked before entries are parsed, payloads against maxPayloadBytes', () => {
  rejects('11 04 01', 'ERR_TOO_MANY_ENTRIES', '1025 IHAVE entries, none present');
  rejects('12 01 01', 'ERR_TOO_MANY_ENTRIES', '257 GRAFT ids');
  rejects('06 00 00 00 00 01 01', 'ERR_TOO_MANY_ENTRIES', '257 peers');
  const big = encodeOverlayMessage({
    type: 'gossip',
    sender: 'a',
    epoch: 0,
    seq: 1,
    hops: 1,
    kind: 1,
    signature: new Uint8Array(0),
    payload: new Uint8Array(101),
  });
  assert.throws(
    () => decodeOverlayMessage(big, { maxPayloadBytes: 100 }),
    (e: unknown) => e instanceof CodecError && e.code === 'ERR_FRAME_TOO_LARGE',
  );
  assert.equal(decodeOverlayMessage(big, { maxPayloadBytes: 101 }).type, 'gossip');
});

test('the encoder refuses values the format cannot carry', () => {
  const bad: OverlayMessage[] = [
    { type: 'prune', sender: 'not/an/id' },
    { type: 'join', address: 'nope' },
    { type: 'forward-join', ttl: 256, peer: { id: 'a', address: '' } },
    { type: 'graft', ids: [{ sender: 'a', epoch: -1, seq: 1 }] },
    { type: 'ihave', entries: [{ sender: 'a', epoch: 0, seq: 0, hops: 1 }] },
    {
      type: 'ihave',
      entries: Array.from({ length: 1025 }, () => ({ sender: 'a', epoch: 0, seq: 1, hops: 1 })),
    },
    {
      type: 'gossip',
      sender: 'a',
      epoch: 0,
      seq: 1,
      hops: 1,
      kind: 0,
      signature: new Uint8Array(256),
      payload: new Uint8Array(0),
    },
  ];
  for (const m of bad) {
    assert.throws(
      () => encodeOverlayMessage(m),
      (e: unknown) => e instanceof MeshwireError && e.code === 'ERR_INVALID_ARGUMENT',
      JSON.stringify(m).slice(0, 60),
    );
  }
});

test('every body prefix of a valid message is refused, never misread', () => {
  for (const [message, hex] of VECTORS) {
    const full = bytes(hex);
    for (let n = 0; n < full.length; n++) {
      if (message.type === 'gossip' && n >= 21) continue; // a shorter payload is still a valid gossip
      assert.throws(
        () => decodeOverlayMessage(full.subarray(0, n)),
        CodecError,
        `${message.type} cut at ${n}`,
      );
    }
  }
});
