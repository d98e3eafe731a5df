import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CODEC_LIMITS, type CodecLimits } from '../src/codec/codec.js';
import type { Frame, HelloFrame } from '../src/codec/frame.js';
import { NativeDecoder, NativeEncoder, PROTOCOL_VERSION } from '../src/codec/native.js';
import { CodecError, type ErrorCode } from '../src/errors.js';
import { mulberry32, seededBytes } from './helpers/random.js';

const SMALL: CodecLimits = { maxBytesPerMessage: 1000, maxLineBytes: 100, maxPeersPerFrame: 5 };

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ''), 'hex');
}

/** A raw frame: correct length prefix, arbitrary type and body. */
function raw(type: number, body: Uint8Array | number[] = []): Buffer {
  const bytes = Buffer.from(body);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(bytes.length + 1, 0);
  header[4] = type;
  return Buffer.concat([header, bytes]);
}

/** A u16-prefixed string field. */
function str(text: string | Buffer): Buffer {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(bytes.length, 0);
  return Buffer.concat([prefix, bytes]);
}

function helloBody(
  fields: {
    version?: number;
    id?: Buffer | string;
    name?: Buffer | string;
    listen?: string[];
    features?: string[];
  } = {},
): Buffer {
  const listen = fields.listen ?? [];
  const features = fields.features ?? [];
  return Buffer.concat([
    Buffer.from([fields.version ?? PROTOCOL_VERSION]),
    str(fields.id ?? 'abc'),
    str(fields.name ?? 'Ann'),
    Buffer.from([listen.length]),
    ...listen.map((a) => str(a)),
    Buffer.from([features.length]),
    ...features.map((f) => str(f)),
  ]);
}

function encodeAll(frames: Frame[], encoder = new NativeEncoder()): Buffer {
  return Buffer.concat(frames.flatMap((f) => encoder.encode(f)));
}

function decodeChunks(chunks: Uint8Array[], limits?: CodecLimits): Frame[] {
  const decoder = new NativeDecoder(limits);
  const out: Frame[] = [];
  for (const chunk of chunks) out.push(...decoder.push(chunk));
  assert.equal(decoder.bufferedBytes, 0);
  return out;
}

function isCode(code: ErrorCode): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof CodecError, `expected CodecError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  };
}

/** Decoding `bytes` (whole, and one byte at a time) throws `code`. */
function rejects(bytes: Buffer, code: ErrorCode, limits: CodecLimits = SMALL): void {
  assert.throws(() => new NativeDecoder(limits).push(bytes), isCode(code));
  const decoder = new NativeDecoder(limits);
  assert.throws(() => {
    for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
  }, isCode(code));
}

const VECTORS: { frame: Frame; bytes: string; decoded?: Frame }[] = [
  { frame: { type: 'ping', nonce: 1n }, bytes: '00 00 00 09 03 00 00 00 00 00 00 00 01' },
  { frame: { type: 'pong', nonce: 0x0123456789abcdefn }, bytes: '00 00 00 09 04 01 23 45 67 89 ab cd ef' },
  { frame: { type: 'request-peers' }, bytes: '00 00 00 01 05' },
  { frame: { type: 'reject', reason: 'version' }, bytes: '00 00 00 02 02 04' },
  { frame: { type: 'reject', reason: 'rate-limited' }, bytes: '00 00 00 02 02 05' },
  { frame: { type: 'chat', text: 'hi\n' }, bytes: '00 00 00 04 07 68 69 0a' },
  { frame: { type: 'chat', text: 'é' }, bytes: '00 00 00 03 07 c3 a9' },
  { frame: { type: 'bytes', data: hex('deadbeef') }, bytes: '00 00 00 05 08 de ad be ef' },
  { frame: { type: 'bytes', data: Buffer.alloc(0) }, bytes: '00 00 00 01 08' },
  { frame: { type: 'goodbye', reason: 'bye' }, bytes: '00 00 00 06 0a 00 03 62 79 65' },
  {
    frame: { type: 'auth', proof: Buffer.from(Array.from({ length: 16 }, (_, i) => i)) },
    bytes: '00 00 00 12 09 10 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f',
  },
  {
    frame: { type: 'pake', share: Buffer.from(Array.from({ length: 32 }, (_, i) => i)) },
    bytes:
      '00 00 00 21 0b 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 10 11 12 13 14 15 16 17 18 19 1a 1b 1c 1d 1e 1f',
  },
  // Overlay frames (0x0c) carry an encoded overlay message (PROTOCOL.md O1): prune `a1`, and the
  // gossip vector of "Overlay messages".
  { frame: { type: 'overlay', body: hex('13 02 61 31') }, bytes: '00 00 00 05 0c 13 02 61 31' },
  {
    frame: {
      type: 'overlay',
      body: hex('10 02 61 31 00 00 00 00 00 00 00 01 00 00 00 02 03 00 02 aa bb 68 69'),
    },
    bytes: '00 00 00 18 0c 10 02 61 31 00 00 00 00 00 00 00 01 00 00 00 02 03 00 02 aa bb 68 69',
  },
  {
    frame: { type: 'hello', version: 1, id: 'a1', name: '', listen: ['127.0.0.1:8001'], features: ['x'] },
    bytes:
      '00 00 00 1d 01 01 00 02 61 31 00 00 01 00 0e 31 32 37 2e 30 2e 30 2e 31 3a 38 30 30 31 01 00 01 78',
    decoded: { type: 'hello', version: 1, id: 'a1', name: 'a1', listen: ['127.0.0.1:8001'], features: ['x'] },
  },
  {
    frame: { type: 'hello', version: 1, id: 'a1', name: 'Zoë', listen: [], features: [] },
    bytes: '00 00 00 0e 01 01 00 02 61 31 00 04 5a 6f c3 ab 00 00',
  },
  {
    frame: { type: 'peers', peers: [{ address: '10.0.0.1:9000', id: 'ab' }, { address: '[::1]:1' }] },
    bytes:
      '00 00 00 1f 06 00 02 00 0d 31 30 2e 30 2e 30 2e 31 3a 39 30 30 30 02 61 62 00 07 5b 3a 3a 31 5d 3a 31 00',
  },
];

describe('native codec: PROTOCOL.md test vectors', () => {
  it('PROTOCOL_VERSION is 1', () => {
    assert.equal(PROTOCOL_VERSION, 1);
  });

  for (const { frame, bytes, decoded } of VECTORS) {
    it(`${frame.type}: ${bytes.slice(0, 40)}`, () => {
      assert.equal(encodeAll([frame]).toString('hex'), hex(bytes).toString('hex'));
      assert.deepEqual(new NativeDecoder().push(hex(bytes)), [decoded ?? frame]);
    });
  }

  it('decodes all vectors back to back in one chunk', () => {
    const stream = Buffer.concat(VECTORS.map((v) => hex(v.bytes)));
    assert.deepEqual(
      decodeChunks([stream]),
      VECTORS.map((v) => v.decoded ?? v.frame),
    );
  });
});

describe('native codec: round trips', () => {
  const frames: Frame[] = [
    {
      type: 'hello',
      version: PROTOCOL_VERSION,
      id: 'Peer_1.x-Y',
      name: 'Zoë 🦊 Müller — 東京',
      listen: ['192.168.1.10:8001', '[fe80::1]:8002', 'node-3.example.org:65535'],
      features: ['file-transfer', 'v2-ping', 'x'],
    },
    {
      type: 'hello',
      version: PROTOCOL_VERSION,
      id: '0123456789abcdef0123456789abcdef',
      name: 'n',
      listen: [],
      features: [],
    },
    {
      type: 'hello',
      version: PROTOCOL_VERSION,
      id: 'i'.repeat(128),
      name: 'é'.repeat(128),
      listen: Array.from({ length: 16 }, (_, i) => `10.0.0.${i}:${i + 1}`),
      features: Array.from({ length: 32 }, (_, i) => `f${i}-${'a'.repeat(60)}`),
    },
    { type: 'reject', reason: 'duplicate' },
    { type: 'reject', reason: 'max-peers' },
    { type: 'reject', reason: 'unauthorized' },
    { type: 'reject', reason: 'version' },
    { type: 'ping', nonce: 0n },
    { type: 'ping', nonce: 0xffffffffffffffffn },
    { type: 'pong', nonce: 1234567890123n },
    { type: 'request-peers' },
    { type: 'peers', peers: [] },
    {
      type: 'peers',
      peers: [
        { address: 'localhost:8001' },
        { address: '[2001:db8::7]:443', id: 'abcdef0123456789abcdef0123456789' },
        { address: '1.2.3.4:5', id: 'z' },
      ],
    },
    { type: 'chat', text: '' },
    { type: 'chat', text: 'line one\nline two\r\n\n' },
    { type: 'chat', text: 'PING' },
    { type: 'chat', text: 'PEERS:foo' },
    { type: 'chat', text: 'BYTES:99999999999\n' },
    { type: 'chat', text: '\uFEFFstarts with a BOM' },
    { type: 'chat', text: 'emoji 🎉 and \u0000 nul' },
    { type: 'bytes', data: Buffer.alloc(0) },
    { type: 'bytes', data: Buffer.from([0, 10, 13, 255]) },
    { type: 'bytes', data: seededBytes(mulberry32(1), 200_000) },
    { type: 'auth', proof: seededBytes(mulberry32(2), 16) },
    { type: 'auth', proof: seededBytes(mulberry32(3), 32) },
    { type: 'auth', proof: seededBytes(mulberry32(4), 64) },
    { type: 'pake', share: seededBytes(mulberry32(5), 32) },
    { type: 'reject', reason: 'rate-limited' },
    { type: 'goodbye', reason: '' },
    { type: 'goodbye', reason: 'shutting down — ciao' },
  ];

  for (const frame of frames) {
    it(`${frame.type} ${JSON.stringify(frame, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 60)}`, () => {
      assert.deepEqual(decodeChunks([encodeAll([frame])]), [frame]);
    });
  }

  it('encodes a plain Uint8Array payload and decodes a plain Uint8Array chunk', () => {
    const encoded = encodeAll([{ type: 'bytes', data: Uint8Array.of(1, 2, 3) }]);
    const chunk = new Uint8Array(encoded);
    const [frame] = new NativeDecoder().push(chunk);
    assert.deepEqual(frame, { type: 'bytes', data: Buffer.from([1, 2, 3]) });
  });

  it('replaces a lone surrogate with U+FFFD, like TextEncoder', () => {
    assert.deepEqual(decodeChunks([encodeAll([{ type: 'chat', text: 'a\uD800b' }])]), [
      { type: 'chat', text: 'a\uFFFDb' },
    ]);
  });

  it('frames of exactly the limit pass; the encoder and decoder agree on limits', () => {
    const frames: Frame[] = [
      { type: 'chat', text: 'x'.repeat(SMALL.maxLineBytes) },
      { type: 'bytes', data: Buffer.alloc(SMALL.maxBytesPerMessage, 7) },
      { type: 'peers', peers: Array.from({ length: 5 }, (_, i) => ({ address: `h:${i + 1}` })) },
    ];
    assert.deepEqual(decodeChunks([encodeAll(frames, new NativeEncoder(SMALL))], SMALL), frames);
  });
});

describe('native codec: zero-copy paths', () => {
  it('encodes BYTES as [5-byte header, the caller payload] without copying', () => {
    const payload = Buffer.alloc(70_000, 1);
    const out = new NativeEncoder().encode({ type: 'bytes', data: payload });
    assert.equal(out.length, 2);
    assert.equal(out[0]!.toString('hex'), '0001117108');
    assert.equal(out[1], payload);
    const view = new Uint8Array(payload.buffer, payload.byteOffset + 10, 100);
    const [, body] = new NativeEncoder().encode({ type: 'bytes', data: view });
    assert.equal(body!.buffer, payload.buffer);
    assert.equal(body!.byteOffset, view.byteOffset);
  });

  it('returns views of the pushed chunk for frames that lie inside it', () => {
    const chunk = encodeAll([
      { type: 'bytes', data: Buffer.from('first') },
      { type: 'chat', text: 'between' },
      { type: 'bytes', data: Buffer.from('second') },
    ]);
    const frames = new NativeDecoder().push(chunk);
    const a = frames[0] as { data: Uint8Array };
    const b = frames[2] as { data: Uint8Array };
    assert.equal(a.data.buffer, chunk.buffer);
    assert.equal(a.data.byteOffset, chunk.byteOffset + 5);
    assert.equal(b.data.buffer, chunk.buffer);
    assert.equal(Buffer.from(b.data).toString(), 'second');
  });

  it('assembles a split frame into one buffer of exactly the body size', () => {
    const size = 1 << 20;
    const stream = encodeAll([{ type: 'bytes', data: Buffer.alloc(size, 9) }]);
    const decoder = new NativeDecoder();
    const out: Frame[] = [];
    for (let i = 0; i < stream.length; i += 16384) {
      out.push(...decoder.push(stream.subarray(i, i + 16384)));
      if (out.length === 0) assert.equal(decoder.bufferedBytes, Math.min(i + 16384, stream.length) - 5);
    }
    assert.equal(out.length, 1);
    const data = (out[0] as { data: Uint8Array }).data;
    assert.equal(data.length, size);
    assert.equal(data.byteOffset, 0);
    assert.equal(data.buffer.byteLength, size);
    assert.ok(Buffer.from(data.buffer, 0, size).equals(Buffer.alloc(size, 9)));
  });
});

describe('native codec: incremental decoding', () => {
  const rand = mulberry32(0xc0ffee);
  const frames: Frame[] = [];
  for (let i = 0; i < 400; i++) {
    const pick = Math.floor(rand() * 8);
    if (pick === 0)
      frames.push({ type: 'chat', text: `msg ${i}\nPING ${'ü'.repeat(Math.floor(rand() * 40))}` });
    else if (pick === 1) frames.push({ type: 'bytes', data: seededBytes(rand, Math.floor(rand() * 2000)) });
    else if (pick === 2) frames.push({ type: 'ping', nonce: BigInt(i) * 0x10001n });
    else if (pick === 3) frames.push({ type: 'pong', nonce: BigInt(i) });
    else if (pick === 4) frames.push({ type: 'request-peers' });
    else if (pick === 5)
      frames.push({ type: 'peers', peers: [{ address: `10.1.0.${i % 250}:${i + 1}`, id: `p${i}` }] });
    else if (pick === 6) frames.push({ type: 'bytes', data: Buffer.alloc(0) });
    else {
      frames.push({
        type: 'hello',
        version: 1,
        id: `id${i}`,
        name: `näme ${i}`,
        listen: [`[::1]:${i + 1}`],
        features: ['a'],
      });
    }
  }
  frames.push({ type: 'bytes', data: seededBytes(rand, 40_000) }, { type: 'goodbye', reason: 'done' });
  const stream = encodeAll(frames);

  it('decodes the whole stream in one chunk', () => {
    assert.deepEqual(decodeChunks([stream]), frames);
  });

  it('decodes the stream one byte at a time', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    assert.deepEqual(decodeChunks(chunks), frames);
  });

  it('decodes the stream identically in 200 seeded random splits', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const r = mulberry32(seed);
      // Mix tiny cuts (which split headers) with large ones (which hold many frames).
      const maxChunk = [6, 17, 300, 4096, 70_000][seed % 5]!;
      const chunks: Buffer[] = [];
      for (let pos = 0; pos < stream.length;) {
        const n = 1 + Math.floor(r() * maxChunk);
        chunks.push(stream.subarray(pos, pos + n));
        pos += n;
      }
      assert.deepEqual(decodeChunks(chunks), frames, `seed ${seed}`);
    }
  });

  it('reports partial header and body bytes in bufferedBytes', () => {
    const bytes = encodeAll([{ type: 'chat', text: 'hello' }]);
    const decoder = new NativeDecoder();
    assert.deepEqual(decoder.push(bytes.subarray(0, 3)), []);
    assert.equal(decoder.bufferedBytes, 3);
    assert.deepEqual(decoder.push(bytes.subarray(3, 7)), []);
    assert.equal(decoder.bufferedBytes, 2);
    assert.deepEqual(decoder.push(bytes.subarray(7)), [{ type: 'chat', text: 'hello' }]);
    assert.equal(decoder.bufferedBytes, 0);
    assert.deepEqual(decoder.push(Buffer.alloc(0)), []);
  });
});

describe('native codec: limits and malformed input', () => {
  it('rejects an oversize length as soon as the 4 length bytes arrive', () => {
    // The largest length any type allows is an overlay gossip's: maxBytesPerMessage + 512 (O1).
    for (const length of [DEFAULT_CODEC_LIMITS.maxBytesPerMessage + 512 + 2, 0xffffffff]) {
      const header = Buffer.alloc(4);
      header.writeUInt32BE(length, 0);
      const decoder = new NativeDecoder();
      for (let i = 0; i < 3; i++) assert.deepEqual(decoder.push(header.subarray(i, i + 1)), []);
      assert.throws(() => decoder.push(header.subarray(3)), isCode('ERR_FRAME_TOO_LARGE'));
      assert.ok(decoder.bufferedBytes < 16);
    }
  });

  it('accepts the largest BYTES length and buffers only what arrived', () => {
    const header = Buffer.alloc(5);
    header.writeUInt32BE(SMALL.maxBytesPerMessage + 1, 0);
    header[4] = 0x08;
    const decoder = new NativeDecoder(SMALL);
    assert.deepEqual(decoder.push(header), []);
    assert.deepEqual(decoder.push(Buffer.alloc(10)), []);
    assert.equal(decoder.bufferedBytes, 10);
  });

  it('rejects an oversize non-BYTES frame as soon as its type byte arrives', () => {
    for (const [limits, length] of [
      [SMALL, SMALL.maxLineBytes + 2],
      [DEFAULT_CODEC_LIMITS, DEFAULT_CODEC_LIMITS.maxLineBytes + 2],
      [DEFAULT_CODEC_LIMITS, DEFAULT_CODEC_LIMITS.maxBytesPerMessage + 1],
    ] as const) {
      for (const type of [0x01, 0x06, 0x07]) {
        const header = Buffer.alloc(5);
        header.writeUInt32BE(length, 0);
        header[4] = type;
        const decoder = new NativeDecoder(limits);
        assert.deepEqual(decoder.push(header.subarray(0, 4)), []);
        assert.throws(() => decoder.push(header.subarray(4)), isCode('ERR_FRAME_TOO_LARGE'));
        assert.ok(decoder.bufferedBytes < 16);
      }
    }
  });

  it('checks the length against the larger limit when lines may exceed BYTES', () => {
    const limits: CodecLimits = { maxBytesPerMessage: 10, maxLineBytes: 100, maxPeersPerFrame: 5 };
    const chat: Frame = { type: 'chat', text: 'y'.repeat(50) };
    assert.deepEqual(decodeChunks([encodeAll([chat], new NativeEncoder(limits))], limits), [chat]);
    rejects(raw(0x08, Buffer.alloc(11)), 'ERR_FRAME_TOO_LARGE', limits);
  });

  it('rejects a fixed-size type with the wrong length at its type byte', () => {
    for (const [type, size] of [
      [0x02, 2],
      [0x03, 9],
      [0x04, 7],
      [0x05, 1],
      [0x09, 66],
      [0x09, 16],
      [0x0a, 259],
      [0x0a, 1],
      [0x06, 1],
      [0x01, 0],
    ] as const) {
      const header = Buffer.alloc(5);
      header.writeUInt32BE(size + 1, 0);
      header[4] = type;
      assert.throws(() => new NativeDecoder().push(header), isCode('ERR_MALFORMED_FRAME'), `type ${type}`);
    }
  });

  it('rejects L = 0', () => {
    rejects(hex('00000000'), 'ERR_MALFORMED_FRAME');
  });

  it('rejects unknown type bytes', () => {
    for (const type of [0x00, 0x0d, 0x7f, 0xff]) rejects(raw(type), 'ERR_MALFORMED_FRAME');
  });

  it('bounds overlay bodies: maxLineBytes, or maxBytesPerMessage + 512 for a gossip (O1)', () => {
    const gossip = (n: number): Buffer => Buffer.concat([Buffer.from([0x10]), Buffer.alloc(n - 1)]);
    const other = (n: number): Buffer => Buffer.concat([Buffer.from([0x11]), Buffer.alloc(n - 1)]);
    const max = SMALL.maxBytesPerMessage + 512;
    for (const body of [gossip(max), other(SMALL.maxLineBytes), gossip(1)]) {
      assert.deepEqual(decodeChunks([raw(0x0c, body)], SMALL), [{ type: 'overlay', body }]);
      assert.deepEqual(
        decodeChunks([encodeAll([{ type: 'overlay', body }], new NativeEncoder(SMALL))], SMALL),
        [{ type: 'overlay', body }],
      );
    }
    rejects(raw(0x0c, gossip(max + 1)), 'ERR_FRAME_TOO_LARGE', SMALL);
    rejects(raw(0x0c, other(SMALL.maxLineBytes + 1)), 'ERR_FRAME_TOO_LARGE', SMALL);
    rejects(raw(0x0c), 'ERR_MALFORMED_FRAME', SMALL);
    const encoder = new NativeEncoder(SMALL);
    assert.throws(
      () => encoder.encode({ type: 'overlay', body: gossip(max + 1) }),
      isCode('ERR_FRAME_TOO_LARGE'),
    );
    assert.throws(
      () => encoder.encode({ type: 'overlay', body: other(SMALL.maxLineBytes + 1) }),
      isCode('ERR_FRAME_TOO_LARGE'),
    );
    assert.throws(
      () => encoder.encode({ type: 'overlay', body: Buffer.alloc(0) }),
      isCode('ERR_INVALID_ARGUMENT'),
    );
  });

  it('rejects truncated fields', () => {
    const hello = helloBody({ listen: ['1.2.3.4:5'] });
    for (let cut = 1; cut < hello.length; cut++) {
      rejects(raw(0x01, hello.subarray(0, cut)), 'ERR_MALFORMED_FRAME');
    }
    rejects(raw(0x09, [32, ...Buffer.alloc(20)]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x0a, [0, 5, 0x61]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x06, [0, 1, 0, 7, ...Buffer.from('a:1')]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x06, [0, 1, ...str('a:1'), 3, 0x61]), 'ERR_MALFORMED_FRAME');
  });

  it('rejects trailing bytes', () => {
    rejects(raw(0x01, [...helloBody(), 0]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x06, [0, 1, ...str('a:1'), 0, 0]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x06, [0, 0, 0]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x09, [16, ...Buffer.alloc(17)]), 'ERR_MALFORMED_FRAME');
    rejects(raw(0x0a, [0, 1, 0x61, 0x62]), 'ERR_MALFORMED_FRAME');
  });

  it('rejects a peers count above maxPeersPerFrame before parsing entries', () => {
    rejects(raw(0x06, [0, 6]), 'ERR_TOO_MANY_ENTRIES');
    rejects(raw(0x06, [0xff, 0xff, 0xde, 0xad]), 'ERR_TOO_MANY_ENTRIES');
  });

  it('rejects invalid UTF-8', () => {
    for (const bad of [
      [0xff],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xf4, 0x90, 0x80, 0x80],
      [0x61, 0xe2, 0x82],
    ]) {
      rejects(raw(0x07, bad), 'ERR_MALFORMED_FRAME');
      rejects(raw(0x0a, str(Buffer.from(bad))), 'ERR_MALFORMED_FRAME');
      rejects(raw(0x01, helloBody({ name: Buffer.from(bad) })), 'ERR_MALFORMED_FRAME', DEFAULT_CODEC_LIMITS);
    }
  });

  it('rejects bad peer IDs in hello and peers', () => {
    for (const id of ['', 'a b', 'a/b', 'a:b', 'i'.repeat(129), Buffer.from('é'), Buffer.from([0x61, 0])]) {
      rejects(raw(0x01, helloBody({ id })), 'ERR_MALFORMED_FRAME', DEFAULT_CODEC_LIMITS);
    }
    rejects(raw(0x06, [0, 1, ...str('a:1'), 3, ...Buffer.from('a b')]), 'ERR_MALFORMED_FRAME');
    rejects(
      raw(0x06, [0, 1, ...str('a:1'), 129, ...Buffer.alloc(129, 0x61)]),
      'ERR_MALFORMED_FRAME',
      DEFAULT_CODEC_LIMITS,
    );
  });

  it('rejects bad names, addresses, features and reasons', () => {
    const cases: Buffer[] = [
      raw(0x01, helloBody({ name: 'tab\there' })),
      raw(0x01, helloBody({ name: 'esc\u001b[31m' })),
      raw(0x01, helloBody({ name: 'c1\u009b' })),
      raw(0x01, helloBody({ name: 'x'.repeat(257) })),
      raw(0x01, helloBody({ listen: ['localhost'] })),
      raw(0x01, helloBody({ listen: ['1.2.3.4:0'] })),
      raw(0x01, helloBody({ listen: Array.from({ length: 17 }, () => 'a:1') })),
      raw(0x01, helloBody({ features: ['Upper'] })),
      raw(0x01, helloBody({ features: [''] })),
      raw(0x01, helloBody({ features: ['f'.repeat(65)] })),
      raw(0x01, helloBody({ features: Array.from({ length: 33 }, () => 'f') })),
      raw(0x06, [0, 1, ...str('not an address'), 0]),
      raw(0x06, [0, 1, ...str('[::1:80'), 0]),
      raw(0x02, [0]),
      raw(0x02, [6]),
      raw(0x0b, [...Buffer.alloc(31)]),
      raw(0x0b, [...Buffer.alloc(33)]),
      raw(0x09, [15, ...Buffer.alloc(15)]),
      raw(0x09, [65, ...Buffer.alloc(63)]),
    ];
    for (const bytes of cases) rejects(bytes, 'ERR_MALFORMED_FRAME', DEFAULT_CODEC_LIMITS);
  });

  it('decodes a hello of another version without parsing the rest', () => {
    const bytes = raw(0x01, [2, 0xff, 0xfe, 0x00]);
    assert.deepEqual(new NativeDecoder().push(bytes), [
      { type: 'hello', version: 2, id: '', name: '', listen: [], features: [] },
    ]);
    assert.deepEqual(new NativeDecoder().push(raw(0x01, [0])), [
      { type: 'hello', version: 0, id: '', name: '', listen: [], features: [] },
    ]);
  });

  it('keeps throwing the same error after the first one', () => {
    const decoder = new NativeDecoder();
    const good = encodeAll([{ type: 'chat', text: 'ok' }]);
    let first: unknown;
    try {
      decoder.push(Buffer.concat([good, raw(0x42)]));
    } catch (err) {
      first = err;
    }
    assert.ok(first instanceof CodecError && first.code === 'ERR_MALFORMED_FRAME');
    assert.equal(decoder.bufferedBytes, 0);
    assert.throws(
      () => decoder.push(good),
      (err) => err === first,
    );
    assert.throws(
      () => decoder.push(Buffer.alloc(0)),
      (err) => err === first,
    );
  });
});

describe('native encoder: validation', () => {
  const encoder = new NativeEncoder(SMALL);
  const hello: HelloFrame = { type: 'hello', version: 1, id: 'abc', name: 'Ann', listen: [], features: [] };
  const cases: [Frame, ErrorCode][] = [
    [{ type: 'listen', address: '1.2.3.4:5' }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, id: '' }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, id: 'has space' }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, id: 'i'.repeat(129) }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, name: 'line\nbreak' }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, name: 'é'.repeat(129) }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, version: 256 }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, version: 1.5 }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, listen: ['nope'] }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, listen: Array.from({ length: 17 }, () => 'a:1') }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, features: ['BAD'] }, 'ERR_INVALID_ARGUMENT'],
    [{ ...hello, features: Array.from({ length: 33 }, () => 'f') }, 'ERR_INVALID_ARGUMENT'],
    [
      { ...hello, listen: Array.from({ length: 16 }, (_, i) => `host-${i}.example:1`) },
      'ERR_FRAME_TOO_LARGE',
    ],
    [{ type: 'reject', reason: 'nope' as never }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'reject', reason: 'toString' as never }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'ping', nonce: -1n }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'pong', nonce: 1n << 64n }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'ping', nonce: 5 as never }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'peers', peers: [{ address: 'bad' }] }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'peers', peers: [{ address: 'a:1', id: '' }] }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'peers', peers: Array.from({ length: 6 }, () => ({ address: 'a:1' })) }, 'ERR_TOO_MANY_ENTRIES'],
    [{ type: 'chat', text: 'x'.repeat(101) }, 'ERR_FRAME_TOO_LARGE'],
    [{ type: 'chat', text: 'é'.repeat(51) }, 'ERR_FRAME_TOO_LARGE'],
    [{ type: 'bytes', data: Buffer.alloc(1001) }, 'ERR_FRAME_TOO_LARGE'],
    [{ type: 'bytes', data: 'text' as never }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'auth', proof: Buffer.alloc(15) }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'auth', proof: Buffer.alloc(65) }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'pake', share: Buffer.alloc(31) }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'pake', share: Buffer.alloc(33) }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'pake', share: 'x'.repeat(32) as never }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'goodbye', reason: 'r'.repeat(257) }, 'ERR_INVALID_ARGUMENT'],
    [{ type: 'nonsense' } as never, 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [frame, code] of cases) {
    it(`${frame.type} -> ${code}: ${JSON.stringify(frame, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)).slice(0, 70)}`, () => {
      assert.throws(() => encoder.encode(frame), isCode(code));
    });
  }
});
