import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CompatDecoder, CompatEncoder, isControlLikeChat, type CompatRole } from '../src/codec/compat.js';
import { DEFAULT_CODEC_LIMITS, type CodecLimits } from '../src/codec/codec.js';
import type { Frame, HelloFrame } from '../src/codec/frame.js';
import { CodecError, type ErrorCode } from '../src/errors.js';
import { mulberry32 } from './helpers/random.js';

const ID = '0123456789abcdef0123456789abcdef';
const OTHER_ID = 'fedcba9876543210fedcba9876543210';
const SMALL: CodecLimits = { maxBytesPerMessage: 1024, maxLineBytes: 64, maxPeersPerFrame: 3 };

const b = (text: string): Buffer => Buffer.from(text, 'utf8');
const hello = (id: string, name: string): HelloFrame => ({
  type: 'hello',
  id,
  name,
  listen: [],
  version: 0,
  features: [],
});
const bytes = (data: Uint8Array | string): Frame => ({
  type: 'bytes',
  data: typeof data === 'string' ? b(data) : Buffer.from(data),
});
const chat = (text: string): Frame => ({ type: 'chat', text });
const peers = (...addresses: string[]): Frame => ({
  type: 'peers',
  peers: addresses.map((address) => ({ address })),
});
const PING: Frame = { type: 'ping', nonce: 0n };
const PONG: Frame = { type: 'pong', nonce: 0n };
const REQUEST_PEERS: Frame = { type: 'request-peers' };

/** Copies BYTES payloads into plain Buffers so frames compare by content, not by view. */
function normalize(frames: Frame[]): Frame[] {
  return frames.map((f) => (f.type === 'bytes' ? { type: 'bytes', data: Buffer.from(f.data) } : f));
}

function decode(role: CompatRole, chunks: Buffer[], limits?: CodecLimits): Frame[] {
  const decoder = new CompatDecoder(role, limits);
  const frames: Frame[] = [];
  for (const chunk of chunks) frames.push(...decoder.push(chunk));
  assert.equal(decoder.bufferedBytes, 0, 'nothing left over');
  return normalize(frames);
}

/** A decoder already past the handshake, for open-phase vectors. */
function openDecoder(limits?: CodecLimits): CompatDecoder {
  const decoder = new CompatDecoder('dialer', limits);
  assert.deepEqual(decoder.push(b(`${OTHER_ID}:bob\n`)), [hello(OTHER_ID, 'bob')]);
  return decoder;
}

function decodeOpen(input: Buffer | string, limits?: CodecLimits): Frame[] {
  const decoder = openDecoder(limits);
  const frames = normalize(decoder.push(typeof input === 'string' ? b(input) : input));
  assert.equal(decoder.bufferedBytes, 0);
  return frames;
}

function encode(frames: Frame[], limits?: CodecLimits): Buffer {
  const encoder = new CompatEncoder(limits);
  return Buffer.concat(frames.flatMap((f) => encoder.encode(f)));
}

function throwsCode(fn: () => unknown, code: ErrorCode, message?: RegExp): CodecError {
  let caught: unknown;
  assert.throws(fn, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof CodecError, `expected a CodecError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** Frame <-> exact wire bytes, valid in both directions once the handshake is over. */
const OPEN_VECTORS: Array<[string, Frame, Buffer]> = [
  ['ping', PING, b('PING\n')],
  ['pong', PONG, b('PONG\n')],
  ['request-peers', REQUEST_PEERS, b('REQUEST_PEERS\n')],
  [
    'peers',
    peers('127.0.0.1:8002', 'localhost:8003', '[::1]:8004'),
    b('PEERS:127.0.0.1:8002,localhost:8003,[::1]:8004\n'),
  ],
  ['peers (one)', peers('10.0.0.7:8001'), b('PEERS:10.0.0.7:8001\n')],
  ['peers (empty)', peers(), b('PEERS:\n')],
  ['chat', chat('hello world'), b('hello world\n')],
  ['chat with a colon', chat('abc:def'), b('abc:def\n')],
  ['chat DUPLICATE', chat('DUPLICATE'), b('DUPLICATE\n')],
  ['chat MAX_PEERS', chat('MAX_PEERS'), b('MAX_PEERS\n')],
  ['chat lowercase ping', chat('ping'), b('ping\n')],
  ['chat PEERS without colon', chat('PEERS'), b('PEERS\n')],
  ['chat unicode', chat('héllo 👋 wörld'), b('héllo 👋 wörld\n')],
  ['bytes', bytes(new Uint8Array([1, 2, 10, 3])), Buffer.from([...b('BYTES:4\n'), 1, 2, 10, 3])],
  ['bytes looking like frames', bytes('PING\nBYTES:3\n'), b('BYTES:13\nPING\nBYTES:3\n')],
  ['bytes (empty)', bytes(''), b('BYTES:0\n')],
];

describe('compat codec: byte-exact vectors', () => {
  for (const [name, frame, wire] of OPEN_VECTORS) {
    test(`encode ${name}`, () => {
      assert.deepEqual(encode([frame]), wire);
    });
    test(`decode ${name}`, () => {
      assert.deepEqual(decodeOpen(wire), [frame]);
    });
  }

  test('encode handshake frames', () => {
    assert.deepEqual(encode([hello(ID, 'alice')]), b(`${ID}:alice\n`));
    assert.deepEqual(encode([hello(ID, ID)]), b(`${ID}:${ID}\n`));
    assert.deepEqual(encode([{ type: 'listen', address: '127.0.0.1:8002' }]), b('LISTEN:127.0.0.1:8002\n'));
    assert.deepEqual(encode([{ type: 'reject', reason: 'duplicate' }]), b('DUPLICATE\n'));
    assert.deepEqual(encode([{ type: 'reject', reason: 'max-peers' }]), b('MAX_PEERS\n'));
    // The compat hello carries only ID and name; listen goes in its own LISTEN line.
    assert.deepEqual(
      encode([{ ...hello(ID, 'alice'), listen: ['1.2.3.4:5'], version: 3, features: ['x'] }]),
      b(`${ID}:alice\n`),
    );
  });

  test('encode bytes: header then the payload itself, not a copy', () => {
    const data = new Uint8Array([9, 8, 7, 6, 5]);
    const out = new CompatEncoder().encode({ type: 'bytes', data });
    assert.equal(out.length, 2);
    assert.deepEqual(out[0], b('BYTES:5\n'));
    assert.equal(out[1]?.buffer, data.buffer);
    assert.equal(out[1]?.byteOffset, data.byteOffset);
    assert.equal(out[1]?.length, 5);
  });

  test('listener reads the dialer handshake: hello, LISTEN, PEERS, REQUEST_PEERS', () => {
    const wire = b(`${ID}:alice\nLISTEN:127.0.0.1:8002\nPEERS:127.0.0.1:8003\nREQUEST_PEERS\n`);
    assert.deepEqual(decode('listener', [wire]), [
      hello(ID, 'alice'),
      { type: 'listen', address: '127.0.0.1:8002' },
      peers('127.0.0.1:8003'),
      REQUEST_PEERS,
    ]);
    // The same bytes come out of the encoder.
    assert.deepEqual(
      encode([
        hello(ID, 'alice'),
        { type: 'listen', address: '127.0.0.1:8002' },
        peers('127.0.0.1:8003'),
        REQUEST_PEERS,
      ]),
      wire,
    );
  });

  test('listener accepts the Go dialer LISTEN:localhost:<port>', () => {
    assert.deepEqual(decode('listener', [b(`${ID}:${ID}\nLISTEN:localhost:8002\n`)]), [
      hello(ID, ID),
      { type: 'listen', address: 'localhost:8002' },
    ]);
  });

  test('dialer without a LISTEN line: the next line is an ordinary frame', () => {
    assert.deepEqual(decode('listener', [b(`${ID}:alice\nPEERS:127.0.0.1:8003\nREQUEST_PEERS\n`)]), [
      hello(ID, 'alice'),
      peers('127.0.0.1:8003'),
      REQUEST_PEERS,
    ]);
    assert.deepEqual(decode('listener', [b(`${ID}:alice\nhi there\nLISTEN:1.2.3.4:5\n`)]), [
      hello(ID, 'alice'),
      chat('hi there'),
      chat('LISTEN:1.2.3.4:5'),
    ]);
    assert.deepEqual(decode('listener', [b(`${ID}:alice\nBYTES:3\nabcPING\n`)]), [
      hello(ID, 'alice'),
      bytes('abc'),
      PING,
    ]);
  });

  test('LISTEN is only special right after the hello', () => {
    assert.deepEqual(decode('listener', [b(`${ID}:a\n\r\nLISTEN:10.0.0.1:1\nLISTEN:10.0.0.2:2\n`)]), [
      hello(ID, 'a'),
      { type: 'listen', address: '10.0.0.1:1' },
      chat('LISTEN:10.0.0.2:2'),
    ]);
    assert.deepEqual(decode('dialer', [b(`${ID}:a\nLISTEN:10.0.0.1:1\n`)]), [
      hello(ID, 'a'),
      chat('LISTEN:10.0.0.1:1'),
    ]);
  });

  test('dialer reads the listener answer: DUPLICATE, MAX_PEERS or hello', () => {
    assert.deepEqual(decode('dialer', [b('DUPLICATE\n')]), [{ type: 'reject', reason: 'duplicate' }]);
    assert.deepEqual(decode('dialer', [b('MAX_PEERS\n')]), [{ type: 'reject', reason: 'max-peers' }]);
    assert.deepEqual(decode('dialer', [b(`${OTHER_ID}:bob\nPEERS:127.0.0.1:8001\nPING\n`)]), [
      hello(OTHER_ID, 'bob'),
      peers('127.0.0.1:8001'),
      PING,
    ]);
  });

  test('a listener reads DUPLICATE as a (malformed) hello, not a reject', () => {
    throwsCode(() => new CompatDecoder('listener').push(b('DUPLICATE\n')), 'ERR_MALFORMED_FRAME');
  });

  test('\\r\\n line endings', () => {
    const wire = b(
      `${ID}:alice\r\nLISTEN:127.0.0.1:8002\r\nPING\r\nPEERS:1.2.3.4:5, 6.7.8.9:10\r\nBYTES:2\r\nxyhi\r\n`,
    );
    assert.deepEqual(decode('listener', [wire]), [
      hello(ID, 'alice'),
      { type: 'listen', address: '127.0.0.1:8002' },
      PING,
      peers('1.2.3.4:5', '6.7.8.9:10'),
      bytes('xy'),
      chat('hi'),
    ]);
    assert.deepEqual(decode('dialer', [b('DUPLICATE\r\n')]), [{ type: 'reject', reason: 'duplicate' }]);
    assert.deepEqual(decode('dialer', [b('MAX_PEERS\r\n')]), [{ type: 'reject', reason: 'max-peers' }]);
  });

  test('lines are trimmed like Go strings.TrimSpace; empty lines yield nothing', () => {
    assert.deepEqual(decodeOpen('\n\r\n   \n  PING \t\r\n\u00a0hi there\u00a0\n\u0085x\u3000\n'), [
      PING,
      chat('hi there'),
      chat('x'),
    ]);
    // Go does not trim U+FEFF, and the BOM must not be swallowed by the UTF-8 decoder either.
    assert.deepEqual(decodeOpen('\ufeffhi\n'), [chat('\ufeffhi')]);
    // Leading whitespace before a BYTES header takes the general path, same result.
    assert.deepEqual(decodeOpen(' BYTES:3 \r\nabc'), [bytes('abc')]);
    assert.deepEqual(decodeOpen('BYTES:003\nabc'), [bytes('abc')]);
  });

  test('hello: first non-empty line, split on the first colon', () => {
    assert.deepEqual(decode('listener', [b(`\r\n\n${ID}:\n`)]), [hello(ID, ID)]);
    assert.deepEqual(decode('listener', [b(`${ID}:a:b c\n`)]), [hello(ID, 'a:b c')]);
    assert.deepEqual(decode('listener', [b(`A.b_c-9:  bob\n`)]), [hello('A.b_c-9', '  bob')]);
    assert.deepEqual(decode('listener', [b(`${'x'.repeat(128)}:${'é'.repeat(128)}\n`)]), [
      hello('x'.repeat(128), 'é'.repeat(128)),
    ]);
  });

  test('hello: malformed lines', () => {
    const bad = [
      'no colon here',
      ':name',
      `${'x'.repeat(129)}:name`,
      'bad/id:name',
      'bad id:name',
      `${ID}:${'x'.repeat(257)}`,
      `${ID}:${'é'.repeat(129)}`,
      `${ID}:a\u0001b`,
      `${ID}:a\tb`,
      `${ID}:a\u007fb`,
    ];
    for (const line of bad) {
      for (const role of ['dialer', 'listener'] as const) {
        throwsCode(() => new CompatDecoder(role).push(b(`${line}\n`)), 'ERR_MALFORMED_FRAME');
      }
    }
  });

  test('LISTEN: empty or over-long address is malformed', () => {
    const listener = (line: string) => () => new CompatDecoder('listener').push(b(`${ID}:a\n${line}\n`));
    throwsCode(listener('LISTEN:'), 'ERR_MALFORMED_FRAME');
    throwsCode(listener('LISTEN:   '), 'ERR_MALFORMED_FRAME');
    throwsCode(listener(`LISTEN:${'a'.repeat(298)}:80`), 'ERR_MALFORMED_FRAME');
    assert.equal(listener(`LISTEN:${'a'.repeat(297)}:80`)().length, 2);
  });
});

describe('compat codec: chunking', () => {
  const big = Buffer.alloc(20_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 0xff;
  big.write('\nPING\nBYTES:10\n', 5000);

  const handshake: Frame[] = [hello(ID, 'alice'), { type: 'listen', address: '127.0.0.1:8002' }];
  const body: Frame[] = [
    PING,
    chat('hello'),
    bytes('line one\nline two\n'),
    PONG,
    bytes('PING\n'),
    bytes('BYTES:100\nPEERS:1.2.3.4:5\n\r\n'),
    REQUEST_PEERS,
    peers('127.0.0.1:8001', '[fe80::1]:9000', 'node-3.example:8003'),
    bytes(''),
    chat('héllo 👋 — multibyte split points'),
    bytes(big),
    chat('DUPLICATE'),
    bytes(new Uint8Array([10])),
    bytes(new Uint8Array([0x16, 0xff, 0xfe, 0x0a, 0x0d])),
    chat('abc:def'),
    PING,
  ];
  const expected = [...handshake, ...body];
  const wire = encode(expected);

  test('all at once', () => {
    assert.deepEqual(decode('listener', [wire]), expected);
  });

  test('one byte at a time', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < wire.length; i++) chunks.push(wire.subarray(i, i + 1));
    assert.deepEqual(decode('listener', chunks), expected);
  });

  test('200 seeded random splits', () => {
    const random = mulberry32(0x5eed);
    for (let run = 0; run < 200; run++) {
      const chunks: Buffer[] = [];
      // Mostly small chunks (split headers and multibyte characters), sometimes big ones.
      const scale = random() < 0.5 ? 16 : 4096;
      for (let pos = 0; pos < wire.length;) {
        const size = 1 + Math.floor(random() * scale);
        chunks.push(wire.subarray(pos, pos + size));
        pos += size;
      }
      assert.deepEqual(decode('listener', chunks), expected, `run ${run}`);
    }
  });

  test('a payload inside one chunk is a view of it; a split one is reassembled', () => {
    const chunk = b('BYTES:3\nabcBYTES:4\nde');
    const decoder = openDecoder();
    const first = decoder.push(chunk);
    assert.equal(first.length, 1);
    const frame = first[0];
    assert.ok(frame?.type === 'bytes');
    assert.equal(frame.data.buffer, chunk.buffer);
    assert.equal(decoder.bufferedBytes, 2);
    const second = decoder.push(b('fg'));
    assert.deepEqual(normalize(second), [bytes('defg')]);
    assert.equal(decoder.bufferedBytes, 0);
  });

  test('plain Uint8Array chunks work', () => {
    const decoder = openDecoder();
    const u8 = new Uint8Array(b('PING\nBYTES:2\nok'));
    assert.deepEqual(normalize(decoder.push(u8)), [PING, bytes('ok')]);
    assert.deepEqual(decoder.push(new Uint8Array(0)), []);
  });
});

describe('compat codec: limits and errors', () => {
  test('oversize BYTES header throws at once, before any payload is buffered', () => {
    const decoder = openDecoder();
    const max = DEFAULT_CODEC_LIMITS.maxBytesPerMessage;
    throwsCode(() => decoder.push(b(`BYTES:${max + 1}\n`)), 'ERR_FRAME_TOO_LARGE');
    assert.ok(decoder.bufferedBytes < 64);

    const split = openDecoder();
    split.push(b('BYTES:99999'));
    assert.equal(split.bufferedBytes, 11);
    throwsCode(() => split.push(b('999999\nxxxx')), 'ERR_FRAME_TOO_LARGE');
    assert.ok(split.bufferedBytes < 64);

    throwsCode(() => openDecoder().push(b(`BYTES:${'9'.repeat(40)}\n`)), 'ERR_FRAME_TOO_LARGE');
    throwsCode(() => openDecoder(SMALL).push(b('BYTES:1025\n')), 'ERR_FRAME_TOO_LARGE');
    throwsCode(
      () => new CompatDecoder('listener', SMALL).push(b(`${ID}:a\nBYTES:1025\n`)),
      'ERR_FRAME_TOO_LARGE',
    );
  });

  test('a BYTES payload of exactly the limit is accepted, and is not subject to the line limit', () => {
    const payload = Buffer.alloc(1024, 0x61);
    assert.deepEqual(decodeOpen(Buffer.concat([b('BYTES:1024\n'), payload]), SMALL), [bytes(payload)]);
  });

  test('malformed BYTES lengths', () => {
    for (const header of [
      'BYTES:-1',
      'BYTES:abc',
      'BYTES:',
      'BYTES:1.5',
      'BYTES:0x10',
      'BYTES:1e3',
      'BYTES: 5',
      'BYTES:5 5',
    ]) {
      throwsCode(() => openDecoder().push(b(`${header}\n`)), 'ERR_MALFORMED_FRAME');
      throwsCode(() => new CompatDecoder('listener').push(b(`${ID}:a\n${header}\n`)), 'ERR_MALFORMED_FRAME');
    }
  });

  test('an endless line throws ERR_LINE_TOO_LONG once past the limit, never buffering much more', () => {
    const max = DEFAULT_CODEC_LIMITS.maxLineBytes;
    const chunk = Buffer.alloc(4096, 0x61);
    for (const decoder of [openDecoder(), new CompatDecoder('listener')]) {
      let fed = 0;
      let error: unknown;
      while (fed <= max + chunk.length) {
        try {
          decoder.push(chunk);
        } catch (err) {
          error = err;
          break;
        }
        fed += chunk.length;
        assert.ok(decoder.bufferedBytes <= max + chunk.length);
      }
      assert.ok(error instanceof CodecError);
      assert.equal(error.code, 'ERR_LINE_TOO_LONG');
      assert.ok(fed <= max, `threw after ${fed} bytes`);
      assert.ok(fed + chunk.length > max);
    }
  });

  test('line limit: exactly maxLineBytes passes, one more fails even with its newline', () => {
    const max = SMALL.maxLineBytes;
    assert.deepEqual(decodeOpen(`${'x'.repeat(max)}\n`, SMALL), [chat('x'.repeat(max))]);
    throwsCode(() => openDecoder(SMALL).push(b(`${'x'.repeat(max + 1)}\n`)), 'ERR_LINE_TOO_LONG');
    const split = openDecoder(SMALL);
    split.push(b('x'.repeat(40)));
    throwsCode(() => split.push(b(`${'x'.repeat(max - 39)}\n`)), 'ERR_LINE_TOO_LONG');
  });

  test('PEERS with too many entries', () => {
    throwsCode(() => openDecoder(SMALL).push(b('PEERS:a:1,b:2,c:3,d:4\n')), 'ERR_TOO_MANY_ENTRIES');
    // Garbage entries count too: the limit bounds the work, not the result.
    throwsCode(() => openDecoder(SMALL).push(b('PEERS:x,y,z,w\n')), 'ERR_TOO_MANY_ENTRIES');
    // Empty entries do not count.
    assert.deepEqual(decodeOpen('PEERS:a:1,, b:2 , ,c:3,\n', SMALL), [peers('a:1', 'b:2', 'c:3')]);
    const many = Array.from({ length: 1001 }, (_, i) => `10.0.${i >> 8}.${i & 255}:8000`).join(',');
    throwsCode(() => openDecoder().push(b(`PEERS:${many}\n`)), 'ERR_TOO_MANY_ENTRIES');
  });

  test('garbage PEERS entries are skipped', () => {
    assert.deepEqual(
      decodeOpen(
        'PEERS:127.0.0.1:8001,garbage,:80,host:99999, localhost:8002 ,[::1]:8003,[zz]:1,a b:1,1.2.3.4:0\n',
      ),
      [peers('127.0.0.1:8001', 'localhost:8002', '[::1]:8003')],
    );
    assert.deepEqual(decodeOpen('PEERS:foo\n'), [peers()]);
  });

  test('invalid UTF-8 in a line is malformed (but fine in a BYTES payload)', () => {
    for (const raw of [
      [0xff, 0xfe],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0x61, 0xe2, 0x82],
    ]) {
      throwsCode(() => openDecoder().push(Buffer.from([...raw, 0x0a])), 'ERR_MALFORMED_FRAME', /UTF-8/);
      throwsCode(
        () => new CompatDecoder('listener').push(Buffer.from([0x61, ...raw, 0x0a])),
        'ERR_MALFORMED_FRAME',
      );
    }
    assert.deepEqual(decodeOpen(Buffer.from([...b('BYTES:2\n'), 0xff, 0xfe])), [
      bytes(new Uint8Array([0xff, 0xfe])),
    ]);
  });

  test('a TLS ClientHello is detected on its first byte', () => {
    for (const role of ['dialer', 'listener'] as const) {
      throwsCode(
        () => new CompatDecoder(role).push(Buffer.from([0x16])),
        'ERR_MALFORMED_FRAME',
        /TLS handshake.*compat \(plaintext\) port.*secure mode/,
      );
      throwsCode(
        () => new CompatDecoder(role).push(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00])),
        'ERR_MALFORMED_FRAME',
        /TLS/,
      );
    }
    // Only the very first byte: an empty push before it does not count.
    const decoder = new CompatDecoder('listener');
    assert.deepEqual(decoder.push(new Uint8Array(0)), []);
    throwsCode(() => decoder.push(Buffer.from([0x16, 0x03])), 'ERR_MALFORMED_FRAME', /TLS/);
  });

  test('errors are sticky', () => {
    const decoder = openDecoder();
    const first = throwsCode(() => decoder.push(b('BYTES:-1\n')), 'ERR_MALFORMED_FRAME');
    assert.throws(
      () => decoder.push(b('PING\n')),
      (err) => err === first,
    );
    assert.throws(
      () => decoder.push(new Uint8Array(0)),
      (err) => err === first,
    );
    assert.equal(decoder.bufferedBytes, 0);

    const tls = new CompatDecoder('dialer');
    const tlsError = throwsCode(() => tls.push(Buffer.from([0x16])), 'ERR_MALFORMED_FRAME');
    assert.throws(
      () => tls.push(b(`${ID}:a\n`)),
      (err) => err === tlsError,
    );
  });

  test('random input only ever throws CodecError and stays within limits', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<CompatRole>('dialer', 'listener'),
        fc.array(fc.uint8Array({ maxLength: 96 }), { maxLength: 12 }),
        (role, chunks) => {
          const decoder = new CompatDecoder(role, SMALL);
          for (const chunk of chunks) {
            try {
              decoder.push(chunk);
            } catch (err) {
              assert.ok(err instanceof CodecError);
              return;
            }
            assert.ok(decoder.bufferedBytes <= SMALL.maxBytesPerMessage);
          }
        },
      ),
      { numRuns: 300, seed: 42 },
    );
  });
});

describe('compat codec: encoder refusals', () => {
  const maxLine = DEFAULT_CODEC_LIMITS.maxLineBytes;
  const refused: Array<[string, string]> = [
    ['newline inside', 'a\nb'],
    ['carriage return inside', 'a\rb'],
    ['trailing newline', 'hello\n'],
    ['empty', ''],
    ['only spaces', '   '],
    ['only a tab', '\t'],
    ['leading space', ' hello'],
    ['trailing space', 'hello '],
    ['leading no-break space', '\u00a0hello'],
    ['trailing NEL', 'hello\u0085'],
    ['PING', 'PING'],
    ['PONG', 'PONG'],
    ['REQUEST_PEERS', 'REQUEST_PEERS'],
    ['PEERS: prefix', 'PEERS:1.2.3.4:5'],
    ['bare PEERS:', 'PEERS:'],
    ['PEERS:foo (crashed the Go node)', 'PEERS:foo'],
    ['BYTES: prefix', 'BYTES:5'],
    ['bare BYTES:', 'BYTES:'],
    ['LISTEN: prefix', 'LISTEN:1.2.3.4:5'],
    ['longer than the line limit', 'x'.repeat(maxLine + 1)],
    ['longer than the line limit in UTF-8 bytes', 'é'.repeat(maxLine / 2 + 1)],
    ['unpaired surrogate', 'a\ud800b'],
  ];
  for (const [name, text] of refused) {
    test(`refuses chat: ${name}`, () => {
      const reason = isControlLikeChat(text);
      assert.equal(typeof reason, 'string');
      throwsCode(() => new CompatEncoder().encode(chat(text)), 'ERR_CHAT_NOT_ENCODABLE', /compat/);
    });
  }

  test('accepts chat that merely resembles control lines', () => {
    for (const text of [
      'ping',
      'PING!',
      'PING PONG',
      'PEERS',
      'DUPLICATE',
      'MAX_PEERS',
      'abc:def',
      'a\tb',
      '\ufeffbom',
      'x'.repeat(maxLine),
      'XPEERS:x',
    ]) {
      assert.equal(isControlLikeChat(text), undefined, text);
      assert.deepEqual(decodeOpen(encode([chat(text)])), [chat(text)]);
    }
  });

  test('the line limit follows the encoder limits', () => {
    throwsCode(
      () => new CompatEncoder(SMALL).encode(chat('x'.repeat(65))),
      'ERR_CHAT_NOT_ENCODABLE',
      /line limit/,
    );
    assert.equal(isControlLikeChat('x'.repeat(65), 64)?.includes('line limit'), true);
    assert.deepEqual(new CompatEncoder(SMALL).encode(chat('x'.repeat(64))), [b(`${'x'.repeat(64)}\n`)]);
  });

  test('refuses frames compat cannot express', () => {
    const enc = new CompatEncoder(SMALL);
    throwsCode(() => enc.encode({ type: 'reject', reason: 'unauthorized' }), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => enc.encode({ type: 'reject', reason: 'version' }), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => enc.encode({ type: 'auth', proof: new Uint8Array(32) }), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => enc.encode({ type: 'goodbye', reason: 'bye' }), 'ERR_INVALID_ARGUMENT');
    for (const name of ['a\nb', 'a\rb', 'a\u0000b', 'a\u007f', 'trailing ', 'x'.repeat(257), 'a\ud800']) {
      throwsCode(() => enc.encode(hello(ID, name)), 'ERR_INVALID_ARGUMENT');
    }
    for (const id of ['', 'a:b', 'a b', 'x'.repeat(129), 'a\nb']) {
      throwsCode(() => enc.encode(hello(id, 'name')), 'ERR_INVALID_ARGUMENT');
    }
    for (const address of ['', ' 1.2.3.4:5', '1.2.3.4:5\nPING', 'x'.repeat(301)]) {
      throwsCode(() => enc.encode({ type: 'listen', address }), 'ERR_INVALID_ARGUMENT');
    }
    throwsCode(() => enc.encode({ type: 'bytes', data: new Uint8Array(1025) }), 'ERR_FRAME_TOO_LARGE');
    throwsCode(() => enc.encode(peers('1.2.3.4:5,6.7.8.9:10')), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => enc.encode(peers('1.2.3.4:5\nPING')), 'ERR_INVALID_ARGUMENT');
    throwsCode(() => enc.encode(peers('a:1', 'b:2', 'c:3', 'd:4')), 'ERR_TOO_MANY_ENTRIES');
    throwsCode(() => enc.encode(peers(`${'a'.repeat(60)}:1`, 'b:2')), 'ERR_LINE_TOO_LONG');
  });
});

describe('compat codec: round trip', () => {
  test('valid frames encode and decode to themselves', () => {
    const frames: Frame[] = [
      hello(ID, 'Ålice the 1st'),
      { type: 'listen', address: '[fe80::1]:8002' },
      ...OPEN_VECTORS.map(([, frame]) => frame),
      bytes(Buffer.alloc(70_000, 0x0a)),
    ];
    assert.deepEqual(decode('listener', [encode(frames)]), frames);
    assert.deepEqual(decode('dialer', [encode([{ type: 'reject', reason: 'max-peers' }, PING])]), [
      { type: 'reject', reason: 'max-peers' },
      PING,
    ]);
  });

  test('any chat text is either refused or read back unchanged', () => {
    const words = fc.constantFrom(
      'PING',
      'PONG',
      'REQUEST_PEERS',
      'PEERS:',
      'BYTES:',
      'LISTEN:',
      ' ',
      '\t',
      '\r',
      '\n',
      '\u0085',
      '\ufeff',
      ':',
      ',',
    );
    const unit = fc.oneof(
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
      words,
      fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    );
    fc.assert(
      fc.property(
        fc.array(unit, { maxLength: 8 }).map((parts) => parts.join('')),
        (text) => {
          const encoder = new CompatEncoder();
          if (isControlLikeChat(text) !== undefined) {
            throwsCode(() => encoder.encode(chat(text)), 'ERR_CHAT_NOT_ENCODABLE');
            return;
          }
          assert.deepEqual(decodeOpen(encode([chat(text)])), [chat(text)]);
        },
      ),
      { numRuns: 2000, seed: 7 },
    );
  });

  test('hello names round-trip, empty name reads as the ID', () => {
    for (const name of ['alice', ' leading space', 'with: colon', 'ünïcödé 👋', 'x'.repeat(256), ID]) {
      assert.deepEqual(decode('listener', [encode([hello(ID, name)])]), [hello(ID, name)]);
    }
    assert.deepEqual(decode('listener', [encode([hello(ID, '')])]), [hello(ID, ID)]);
  });
});
