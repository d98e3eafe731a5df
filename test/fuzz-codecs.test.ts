/**
 * Property-based fuzzing of both codecs (issue 6, item 1): round trips, any split of a valid
 * stream, random and mutated input, sticky errors, limits on buffers and on decoded frames, and
 * encoders that refuse what they cannot express.
 *
 * Deterministic by default: every property has a fixed seed and run count. Explore locally with
 *   FUZZ_RUNS=20000 npx tsx --test test/fuzz-codecs.test.ts
 *   FUZZ_SEED=random FUZZ_RUNS=5000 npx tsx --test test/fuzz-codecs.test.ts
 * FUZZ_SEED=<int> uses that seed for every property, so the seed fast-check prints on a failure
 * replays it. Minimal counterexamples found this way are kept below as explicit `examples`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import fc from 'fast-check';
import { tryParseAddress } from '../src/address.js';
import type { CodecLimits, FrameDecoder, FrameEncoder } from '../src/codec/codec.js';
import { CompatDecoder, CompatEncoder, isControlLikeChat } from '../src/codec/compat.js';
import type { Frame, HelloFrame, PeerAddress, RejectReason } from '../src/codec/frame.js';
import { NATIVE_HEADER_BYTES, NativeDecoder, NativeEncoder, PROTOCOL_VERSION } from '../src/codec/native.js';
import { CodecError, type ErrorCode } from '../src/errors.js';

// ------------------------------------------------------------------------------------------------
// Configuration

const FUZZ_SEED = process.env.FUZZ_SEED;
const FUZZ_RUNS = process.env.FUZZ_RUNS === undefined ? undefined : Number(process.env.FUZZ_RUNS);
const EXPLORING = FUZZ_SEED !== undefined || FUZZ_RUNS !== undefined;
const SHARED_SEED =
  FUZZ_SEED === undefined ? undefined : FUZZ_SEED === 'random' ? Date.now() | 0 : Number(FUZZ_SEED);
if (EXPLORING)
  console.log(`fuzz-codecs: seed ${SHARED_SEED ?? 'fixed per property'}, runs ${FUZZ_RUNS ?? 'default'}`);

/** A default run must stay fast; a property that takes this long has found a slowdown. */
const PROPERTY_BUDGET_MS = 20_000;
/** One `push` of at most a few KiB: anything near this is a hang or a quadratic path. */
const PUSH_BUDGET_MS = 500;
const TEST_OPTIONS = { timeout: EXPLORING ? Infinity : 60_000 };

function check<Ts extends [unknown, ...unknown[]]>(
  property: fc.IProperty<Ts>,
  runs: number,
  seed: number,
  examples: Ts[] = [],
): void {
  try {
    fc.assert(property, {
      seed: SHARED_SEED ?? seed,
      numRuns: FUZZ_RUNS ?? runs,
      examples,
      plugins: EXPLORING ? [] : [fc.interruptAfterTimeLimit(PROPERTY_BUDGET_MS, { failOnInterrupt: true })],
    });
  } catch (err) {
    // node:test does not print `cause`, which holds the failing assertion.
    const cause = err instanceof Error ? err.cause : undefined;
    if (err instanceof Error && cause instanceof Error)
      err.message += `\nCause: ${cause.stack ?? cause.message}`;
    throw err;
  }
}

/** Small limits, so that limit edges are reached often. */
const LIMITS: CodecLimits = { maxBytesPerMessage: 4096, maxLineBytes: 1024, maxPeersPerFrame: 16 };
/**
 * The most a decoder may hold: one line or one payload, plus (native only) the 4-byte length of a
 * frame whose type byte has not arrived yet.
 */
const bufferBound = (kind: Kind, l: CodecLimits): number =>
  Math.max(l.maxBytesPerMessage, l.maxLineBytes) + (kind === 'native' ? NATIVE_HEADER_BYTES - 1 : 0);

const DECODER_CODES: readonly ErrorCode[] = [
  'ERR_FRAME_TOO_LARGE',
  'ERR_LINE_TOO_LONG',
  'ERR_MALFORMED_FRAME',
  'ERR_TOO_MANY_ENTRIES',
];
const ENCODER_CODES: readonly ErrorCode[] = [
  'ERR_INVALID_ARGUMENT',
  'ERR_FRAME_TOO_LARGE',
  'ERR_LINE_TOO_LONG',
  'ERR_TOO_MANY_ENTRIES',
  'ERR_CHAT_NOT_ENCODABLE',
];

// ------------------------------------------------------------------------------------------------
// Codecs under test

/** A decoding context: the native codec, or the compat codec read by a listener or a dialer. */
type Kind = 'native' | 'compat-listener' | 'compat-dialer';
const KINDS: readonly Kind[] = ['native', 'compat-listener', 'compat-dialer'];

const isCompat = (kind: Kind): boolean => kind !== 'native';

function decoderFor(kind: Kind, limits: CodecLimits): FrameDecoder {
  if (kind === 'native') return new NativeDecoder(limits);
  return new CompatDecoder(kind === 'compat-listener' ? 'listener' : 'dialer', limits);
}

function encoderFor(kind: Kind, limits: CodecLimits): FrameEncoder {
  return kind === 'native' ? new NativeEncoder(limits) : new CompatEncoder(limits);
}

interface Encoded {
  bytes: Buffer;
  /** Offset just past each frame, so a prefix can be mapped to the frames it completes. */
  ends: number[];
}

function encodeStream(kind: Kind, frames: readonly Frame[], limits: CodecLimits = LIMITS): Encoded {
  const encoder = encoderFor(kind, limits);
  const parts: Buffer[] = [];
  const ends: number[] = [];
  let at = 0;
  for (const frame of frames) {
    for (const part of encoder.encode(frame)) {
      parts.push(part);
      at += part.length;
    }
    ends.push(at);
  }
  return { bytes: Buffer.concat(parts), ends };
}

// ------------------------------------------------------------------------------------------------
// What the protocol normalizes, written independently of the codecs

const ID_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-';
const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
const FEATURE_RE = /^[a-z0-9-]{1,64}$/;
const MAX_U64 = (1n << 64n) - 1n;
const GO_SPACES = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// eslint-disable-next-line no-control-regex
const C0_OR_DEL = /[\u0000-\u001f\u007f]/g;
// eslint-disable-next-line no-control-regex
const C0_C1_OR_DEL = /[\u0000-\u001f\u007f-\u009f]/g;

const utf8Length = (s: string): number => Buffer.byteLength(s, 'utf8');
/** What a string becomes on the wire: UTF-8, with a lone surrogate as U+FFFD. */
const wellFormed = (s: string): string => Buffer.from(s, 'utf8').toString('utf8');
const isWellFormed = (s: string): boolean => wellFormed(s) === s;

function trimGoEnd(s: string): string {
  let end = s.length;
  while (end > 0 && GO_SPACES.has(s.charCodeAt(end - 1))) end--;
  return s.slice(0, end);
}

function trimGo(s: string): string {
  let start = 0;
  while (start < s.length && GO_SPACES.has(s.charCodeAt(start))) start++;
  return trimGoEnd(s.slice(start));
}

/** Cuts `s` at a code point boundary so it fits in `maxBytes` of UTF-8. */
function truncateUtf8(s: string, maxBytes: number): string {
  let bytes = 0;
  let out = '';
  for (const ch of s) {
    bytes += utf8Length(ch);
    if (bytes > maxBytes) break;
    out += ch;
  }
  return out;
}

/** Copies payloads into plain Buffers and drops absent optional keys, so frames compare by value. */
function canon(frame: Frame): Frame {
  switch (frame.type) {
    case 'bytes':
      return { type: 'bytes', data: Buffer.from(frame.data) };
    case 'auth':
      return { type: 'auth', proof: Buffer.from(frame.proof) };
    case 'peers':
      return {
        type: 'peers',
        peers: frame.peers.map((p) =>
          p.id === undefined ? { address: p.address } : { address: p.address, id: p.id },
        ),
      };
    default:
      return frame;
  }
}

/** The frame a compat receiver reports for an encoded `frame` (PROTOCOL-compat.md). */
function normalizeCompat(frame: Frame): Frame {
  switch (frame.type) {
    case 'hello':
      // Only `<ID>:<NAME>` is on the wire; an empty name means "use the ID".
      return {
        type: 'hello',
        id: frame.id,
        name: frame.name === '' ? frame.id : frame.name,
        listen: [],
        version: 0,
        features: [],
      };
    case 'ping':
    case 'pong':
      return { type: frame.type, nonce: 0n };
    case 'peers':
      // IDs are native only.
      return { type: 'peers', peers: frame.peers.map((p) => ({ address: p.address })) };
    default:
      return canon(frame);
  }
}

/** The frame a native receiver reports for an encoded `frame` (PROTOCOL.md rules 10, 12, 22). */
function normalizeNative(frame: Frame): Frame {
  switch (frame.type) {
    case 'hello': {
      if (frame.version !== PROTOCOL_VERSION) {
        return { type: 'hello', version: frame.version, id: '', name: '', listen: [], features: [] };
      }
      const name = wellFormed(frame.name);
      return {
        ...frame,
        name: name === '' ? frame.id : name,
        listen: [...frame.listen],
        features: [...frame.features],
      };
    }
    case 'chat':
      return { type: 'chat', text: wellFormed(frame.text) };
    case 'goodbye':
      return { type: 'goodbye', reason: wellFormed(frame.reason) };
    default:
      return canon(frame);
  }
}

const normalizeFor = (kind: Kind): ((frame: Frame) => Frame) =>
  isCompat(kind) ? normalizeCompat : normalizeNative;

// ------------------------------------------------------------------------------------------------
// Checks applied to everything a decoder hands out

const CONTROL_LINES = new Set(['PING', 'PONG', 'REQUEST_PEERS']);

function assertU64(nonce: unknown): void {
  assert.equal(typeof nonce, 'bigint');
  assert.ok((nonce as bigint) >= 0n && (nonce as bigint) <= MAX_U64);
}

/** Property 5: a decoded frame never exceeds the limits or carries content the protocol forbids. */
function checkDecodedFrame(kind: Kind, frame: Frame, limits: CodecLimits): void {
  const compat = isCompat(kind);
  switch (frame.type) {
    case 'bytes':
      assert.ok(frame.data instanceof Uint8Array);
      assert.ok(frame.data.length <= limits.maxBytesPerMessage, `bytes of ${frame.data.length}`);
      return;
    case 'chat':
      assert.equal(typeof frame.text, 'string');
      assert.ok(isWellFormed(frame.text));
      assert.ok(utf8Length(frame.text) <= limits.maxLineBytes, 'chat longer than a line');
      if (compat) {
        assert.ok(frame.text.length > 0 && trimGo(frame.text) === frame.text, 'compat chat is trimmed');
        assert.ok(!frame.text.includes('\n'));
        assert.ok(!CONTROL_LINES.has(frame.text));
        assert.ok(!frame.text.startsWith('PEERS:') && !frame.text.startsWith('BYTES:'));
      }
      return;
    case 'peers':
      assert.ok(frame.peers.length <= limits.maxPeersPerFrame, `${frame.peers.length} peers`);
      for (const peer of frame.peers) {
        assert.ok(tryParseAddress(peer.address), `peer address ${peer.address}`);
        if (compat) assert.equal(peer.id, undefined);
        else if (peer.id !== undefined) assert.match(peer.id, ID_RE);
      }
      return;
    case 'hello': {
      assert.ok(Number.isInteger(frame.version) && frame.version >= 0 && frame.version <= 255);
      if (!compat && frame.version !== PROTOCOL_VERSION) {
        assert.deepEqual(frame, {
          type: 'hello',
          version: frame.version,
          id: '',
          name: '',
          listen: [],
          features: [],
        });
        return;
      }
      assert.match(frame.id, ID_RE);
      assert.ok(frame.name.length > 0, 'an empty name reads as the ID');
      assert.ok(isWellFormed(frame.name));
      assert.ok(utf8Length(frame.name) <= 256);
      assert.doesNotMatch(frame.name, compat ? C0_OR_DEL : C0_C1_OR_DEL);
      if (compat) {
        assert.equal(frame.version, 0);
        assert.deepEqual(frame.listen, []);
        assert.deepEqual(frame.features, []);
      } else {
        assert.ok(frame.listen.length <= 16 && frame.features.length <= 32);
        for (const address of frame.listen) assert.ok(tryParseAddress(address), address);
        for (const feature of frame.features) assert.match(feature, FEATURE_RE);
      }
      return;
    }
    case 'listen':
      assert.ok(compat, 'native has no listen frame');
      assert.ok(frame.address.length >= 1 && frame.address.length <= 300);
      assert.ok(isWellFormed(frame.address));
      assert.equal(trimGo(frame.address), frame.address);
      assert.doesNotMatch(frame.address, C0_OR_DEL);
      return;
    case 'reject':
      assert.ok(
        (compat
          ? ['duplicate', 'max-peers']
          : ['duplicate', 'max-peers', 'unauthorized', 'version']
        ).includes(frame.reason),
      );
      return;
    case 'ping':
    case 'pong':
      assertU64(frame.nonce);
      if (compat) assert.equal(frame.nonce, 0n);
      return;
    case 'request-peers':
      return;
    case 'auth':
      assert.ok(!compat);
      assert.ok(frame.proof.length >= 16 && frame.proof.length <= 64);
      return;
    case 'goodbye':
      assert.ok(!compat);
      assert.ok(isWellFormed(frame.reason) && utf8Length(frame.reason) <= 256);
      return;
  }
}

/** The compat handshake grammar: the hello (or a reject) comes first, LISTEN only right after it. */
function checkCompatOrder(kind: Kind, frame: Frame, index: number, previous: Frame | undefined): void {
  if (kind === 'native') return;
  if (index === 0) {
    const first = kind === 'compat-listener' ? ['hello'] : ['hello', 'reject'];
    assert.ok(first.includes(frame.type), `first compat frame is ${frame.type}`);
    return;
  }
  assert.ok(frame.type !== 'hello' && frame.type !== 'reject', `${frame.type} after the first frame`);
  if (frame.type === 'listen') {
    assert.equal(kind, 'compat-listener');
    assert.equal(index, 1);
    assert.equal(previous?.type, 'hello');
  }
}

function assertCodecError(err: unknown, codes: readonly ErrorCode[]): asserts err is CodecError {
  if (!(err instanceof CodecError)) {
    assert.fail(
      `expected a CodecError, got ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
  }
  assert.ok(codes.includes(err.code), `unexpected code ${err.code}: ${err.message}`);
}

/** What the hostile-input properties reached, printed when exploring (FUZZ_RUNS / FUZZ_SEED). */
const coverage = new Map<string, number>();
function count(key: string): void {
  if (EXPLORING) coverage.set(key, (coverage.get(key) ?? 0) + 1);
}
if (EXPLORING) {
  process.on('exit', () => {
    const rows = [...coverage].sort(([a], [b]) => a.localeCompare(b));
    console.log(`fuzz-codecs coverage:\n${rows.map(([k, n]) => `  ${k}: ${n}`).join('\n')}`);
  });
}

interface FeedResult {
  frames: Frame[];
  error: CodecError | undefined;
}

/**
 * Pushes `chunks` one by one, checking after every push: only `CodecError`s with a codec code,
 * buffered bytes within the limits, decoded frames within the limits and the compat grammar, and
 * no push slower than {@link PUSH_BUDGET_MS}. After the first error, every later push (the rest
 * of the chunks, an empty one, a valid one) must throw that same error and return nothing.
 */
function feed(kind: Kind, chunks: readonly Uint8Array[], limits: CodecLimits = LIMITS): FeedResult {
  const decoder = decoderFor(kind, limits);
  const bound = bufferBound(kind, limits);
  const frames: Frame[] = [];
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    const started = performance.now();
    let out: Frame[];
    try {
      out = decoder.push(chunk);
    } catch (err) {
      assertCodecError(err, DECODER_CODES);
      count(`${kind} error ${err.code}`);
      assert.ok(decoder.bufferedBytes <= bound);
      const after = [
        ...chunks.slice(i + 1),
        new Uint8Array(0),
        Buffer.from('PING\n'),
        Buffer.from([0, 0, 0, 1, 5]),
      ];
      for (const more of after) {
        assert.throws(
          () => decoder.push(more),
          (again) => again === err,
          'errors are sticky',
        );
        assert.ok(decoder.bufferedBytes <= bound);
      }
      return { frames, error: err };
    }
    const elapsed = performance.now() - started;
    assert.ok(elapsed < PUSH_BUDGET_MS, `push of ${chunk.length} bytes took ${elapsed.toFixed(0)} ms`);
    assert.ok(Array.isArray(out));
    assert.ok(
      decoder.bufferedBytes >= 0 && decoder.bufferedBytes <= bound,
      `bufferedBytes ${decoder.bufferedBytes} > ${bound}`,
    );
    for (const frame of out) {
      count(`${kind} frame ${frame.type}`);
      checkDecodedFrame(kind, frame, limits);
      checkCompatOrder(kind, frame, frames.length, frames[frames.length - 1]);
      frames.push(frame);
    }
  }
  count(`${kind} clean end, ${decoder.bufferedBytes > 0 ? 'partial frame held' : 'nothing held'}`);
  return { frames, error: undefined };
}

// ------------------------------------------------------------------------------------------------
// Splitting a byte stream into chunks

interface Split {
  mode: 'whole' | 'cuts' | 'ones' | 'sizes';
  cuts: number[];
  sizes: number[];
  /** Push plain Uint8Array copies instead of Buffer views. */
  plain: boolean;
}

const splitArb: fc.Arbitrary<Split> = fc.record({
  mode: fc.constantFrom<Split['mode']>('whole', 'cuts', 'cuts', 'ones', 'sizes', 'sizes'),
  cuts: fc.array(fc.nat(), { maxLength: 16, size: 'max' }),
  sizes: fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 8 }),
  plain: fc.boolean(),
});

/** Chunks of `bytes`; `cuts` mode may produce empty chunks, which decoders must accept. */
function applySplit(bytes: Buffer, split: Split): Uint8Array[] {
  const chunks: Buffer[] = [];
  switch (split.mode) {
    case 'whole':
      chunks.push(bytes);
      break;
    case 'cuts': {
      const cuts = split.cuts.map((c) => c % (bytes.length + 1)).sort((a, b) => a - b);
      let from = 0;
      for (const cut of cuts) {
        chunks.push(bytes.subarray(from, cut));
        from = cut;
      }
      chunks.push(bytes.subarray(from));
      break;
    }
    case 'ones':
      for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
      break;
    case 'sizes': {
      let i = 0;
      for (let from = 0; from < bytes.length; i++) {
        const size = split.sizes[i % split.sizes.length]!;
        chunks.push(bytes.subarray(from, from + size));
        from += size;
      }
      break;
    }
  }
  return split.plain ? chunks.map((c) => new Uint8Array(c)) : chunks;
}

// ------------------------------------------------------------------------------------------------
// Arbitraries: text, IDs, addresses, payloads

const SPECIAL_TEXT = [
  'PING',
  'PONG',
  'REQUEST_PEERS',
  'PEERS:',
  'BYTES:',
  'BYTES:12',
  'LISTEN:',
  'DUPLICATE',
  'MAX_PEERS',
  ':',
  ',',
  ' ',
  '  ',
  '\t',
  '\u000b',
  '\u000c',
  '\u0000',
  '\u0016',
  '\u001b[31m',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u00a0',
  '\u1680',
  '\u2028',
  '\u202f',
  '\u3000',
  '\ufeff',
  '\ufffd',
  'é',
  'ß',
  '👋',
  '𝄞',
  '東京',
  'e\u0301',
];

/** One piece of hostile text: ASCII, protocol words, spaces, controls, any code point, lone surrogates, line breaks. */
const textUnit: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...'abcXYZ0189 :,._-/'.split('')) },
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_TEXT) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('\n', '\r', '\r\n') },
);
const text = (maxUnits = 24): fc.Arbitrary<string> =>
  fc.array(textUnit, { maxLength: maxUnits, size: 'max' }).map((units) => units.join(''));

/** Long runs of one character, sized around a byte limit (1-, 2-, 3- and 4-byte characters). */
const longText = (limitBytes: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.constantFrom('x', 'é', '東', '👋', ' ', 'a b'), fc.integer({ min: -3, max: 3 }))
    .map(([ch, delta]) => ch.repeat(Math.max(0, Math.floor((limitBytes + delta) / utf8Length(ch)))));

const idArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.string({ unit: fc.constantFrom(...ID_CHARS.split('')), minLength: 1, maxLength: 40 }),
  },
  {
    weight: 1,
    arbitrary: fc.string({ unit: fc.constantFrom(...ID_CHARS.split('')), minLength: 120, maxLength: 128 }),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0123456789abcdef0123456789abcdef',
      'x'.repeat(128),
      'BYTES',
      'PING',
      'DUPLICATE',
      'MAX_PEERS',
      'LISTEN',
      '.',
      '..',
      '-',
    ),
  },
);

const portArb = fc.integer({ min: 1, max: 65535 });
/** 253 characters, the longest DNS name. */
const LONGEST_HOST = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
/** Exactly 300 characters, the longest address `tryParseAddress` accepts (an IPv6 zone ID). */
const LONGEST_ADDRESS = `[fe80::1%${'z'.repeat(284)}]:65535`;

const addressArb: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 4, arbitrary: fc.tuple(fc.ipV4(), portArb).map(([h, p]) => `${h}:${p}`) },
    { weight: 2, arbitrary: fc.tuple(fc.ipV6(), portArb).map(([h, p]) => `[${h}]:${p}`) },
    { weight: 2, arbitrary: fc.tuple(fc.domain(), portArb).map(([h, p]) => `${h}:${p}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        'localhost:8001',
        '127.0.0.1:65535',
        '[::1]:1',
        '[fe80::1%eth0]:8001',
        '[::ffff:1.2.3.4]:9',
        'node-3.example.org.:80',
        `${LONGEST_HOST}:65535`,
      ),
    },
    { weight: 1, arbitrary: fc.constant(LONGEST_ADDRESS) },
  )
  .filter((a) => tryParseAddress(a) !== undefined);

/** A u64 nonce, edges included. */
const nonceArb: fc.Arbitrary<bigint> = fc.oneof(
  fc.constantFrom(0n, 1n, 255n, 256n, 0xffffffffn, 1n << 63n, MAX_U64),
  fc.bigInt({ min: 0n, max: MAX_U64 }),
);

const FRAME_LIKE = [
  'PING\n',
  'PONG\r\n',
  'BYTES:5\n',
  'BYTES:99999999999\n',
  '\n',
  '\r\n',
  'PEERS:1.2.3.4:5,localhost:1\n',
  'LISTEN:localhost:1\n',
  'abc:def\n',
  'DUPLICATE\n',
  '\u0000\u0000\u0000\u0001\u0005',
  '\u0000\u0000\u0000\u0009\u0003',
  '\u00ff\u00ff\u00ff\u00ff',
  '\u0016\u0003\u0001',
  '\u00ff\u00fe',
];

/** Deterministic filler for large payloads, with newlines and frame-like text inside. */
function patterned(length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (seed + i * 131) & 0xff;
  if (length > 24) buf.write('\nBYTES:9\nPING\n\u0000\u0000', seed % (length - 24), 'latin1');
  return buf;
}

/** BYTES payloads: empty, small random, frame-like text, and sizes at the limit. */
const payloadArb = (max: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constant(new Uint8Array(0)) },
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: 48 }) },
    {
      weight: 3,
      arbitrary: fc
        .array(fc.constantFrom(...FRAME_LIKE), { minLength: 1, maxLength: 6 })
        .map((parts) => Buffer.from(parts.join(''), 'latin1')),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: Math.max(0, max - 16), max }), fc.nat(255))
        .map(([n, s]) => patterned(n, s)),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.integer({ min: 0, max }), fc.nat(255)).map(([n, s]) => patterned(n, s)),
    },
  );

// ------------------------------------------------------------------------------------------------
// Arbitraries: valid compat frames

/** A name the compat encoder can send: no C0 controls or DEL, well formed, no trailing space, <= 256 bytes. */
const compatNameArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: text(30).map((s) =>
      trimGoEnd(truncateUtf8(s.replace(LONE_SURROGATES, '').replace(C0_OR_DEL, ''), 256)),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'x'.repeat(256),
      'é'.repeat(128),
      '👋'.repeat(64),
      `${'東'.repeat(85)}a`,
      ' leading',
      'a:b:c',
      '\ufeff',
    ),
  },
);

/** Chat text a compat receiver reads back unchanged, including look-alikes of control lines. */
const compatChatArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: text(30).map((s) => {
      let t = trimGo(
        truncateUtf8(s.replace(/[\r\n]/g, '').replace(LONE_SURROGATES, ''), LIMITS.maxLineBytes),
      );
      if (t === '') t = 'x';
      if (CONTROL_LINES.has(t)) t += '!';
      if (/^(PEERS|BYTES|LISTEN):/.test(t)) t = `x${t}`;
      return truncateUtf8(t, LIMITS.maxLineBytes);
    }),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'ping',
      'PING!',
      'PING PONG',
      'PEERS',
      'DUPLICATE',
      'MAX_PEERS',
      'XPEERS:x',
      'a\tb',
      '\ufeffPING',
      '\ufeffBYTES:3',
      'BYTES',
      'abc:def',
      'x'.repeat(LIMITS.maxLineBytes),
      'é'.repeat(LIMITS.maxLineBytes / 2),
      '👋'.repeat(LIMITS.maxLineBytes / 4),
      `a${' '.repeat(LIMITS.maxLineBytes - 2)}b`,
      'a\u0000b',
      '\u0016\u0003\u0001',
    ),
  },
);

/** A LISTEN address: real addresses, or any text the compat encoder can carry. */
const compatListenArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: addressArb },
  {
    weight: 1,
    arbitrary: text(30)
      .map((s) => trimGo(s.replace(LONE_SURROGATES, '').replace(C0_OR_DEL, '')).slice(0, 300))
      // The cut may split a surrogate pair or expose a trailing space.
      .map((s) => trimGo(s.replace(LONE_SURROGATES, '')))
      .filter((s) => s.length > 0),
  },
);

const peerArb: fc.Arbitrary<PeerAddress> = fc
  .tuple(addressArb, fc.option(idArb, { nil: undefined }))
  .map(([address, id]) => (id === undefined ? { address } : { address, id }));

const compatPeersArb: fc.Arbitrary<Frame> = fc
  .array(peerArb, { maxLength: LIMITS.maxPeersPerFrame })
  .filter((peers) => utf8Length(`PEERS:${peers.map((p) => p.address).join(',')}`) <= LIMITS.maxLineBytes)
  .map((peers) => ({ type: 'peers', peers }));

const compatHelloArb: fc.Arbitrary<HelloFrame> = fc
  .record({
    id: idArb,
    name: compatNameArb,
    // Not on the compat wire: the receiver reports [] / 0 / [] whatever is sent.
    listen: fc.array(addressArb, { maxLength: 2 }),
    version: fc.nat(255),
    features: fc.constantFrom<string[]>([], ['x']),
  })
  .map((f) => ({ type: 'hello', ...f }));

const compatOpenFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 2, arbitrary: nonceArb.map((nonce): Frame => ({ type: 'ping', nonce })) },
  { weight: 2, arbitrary: nonceArb.map((nonce): Frame => ({ type: 'pong', nonce })) },
  { weight: 1, arbitrary: fc.constant<Frame>({ type: 'request-peers' }) },
  { weight: 3, arbitrary: compatPeersArb },
  { weight: 6, arbitrary: compatChatArb.map((t): Frame => ({ type: 'chat', text: t })) },
  {
    weight: 5,
    arbitrary: payloadArb(LIMITS.maxBytesPerMessage).map((data): Frame => ({ type: 'bytes', data })),
  },
);

const rejectCompatArb: fc.Arbitrary<Frame> = fc
  .constantFrom<RejectReason>('duplicate', 'max-peers')
  .map((reason) => ({ type: 'reject', reason }));

/** What a listener reads: the dialer's hello, an optional LISTEN line, then anything. */
const compatListenerStreamArb: fc.Arbitrary<Frame[]> = fc
  .tuple(
    compatHelloArb,
    fc.option(compatListenArb, { nil: undefined }),
    fc.array(compatOpenFrameArb, { maxLength: 16, size: 'max' }),
  )
  .map(([hello, listen, open]) => [
    hello,
    ...(listen === undefined ? [] : [{ type: 'listen', address: listen } as const]),
    ...open,
  ]);

/** What a dialer reads: the listener's hello or a reject, then anything. */
const compatDialerStreamArb: fc.Arbitrary<Frame[]> = fc
  .tuple(
    fc.oneof(compatHelloArb, rejectCompatArb),
    fc.array(compatOpenFrameArb, { maxLength: 16, size: 'max' }),
  )
  .map(([first, open]) => [first, ...open]);

// ------------------------------------------------------------------------------------------------
// Arbitraries: valid native frames

const nativeNameArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: text(30).map((s) =>
      truncateUtf8(s.replace(LONE_SURROGATES, '').replace(C0_C1_OR_DEL, ''), 256),
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('', 'x'.repeat(256), 'é'.repeat(128), '👋'.repeat(64), ' spaces ', '\ufeff'),
  },
);

const featureArb = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split('')),
  minLength: 1,
  maxLength: 64,
});

/** Body size of a version 1 hello, computed from PROTOCOL.md rule 12. */
function helloBodySize(f: { id: string; name: string; listen: string[]; features: string[] }): number {
  let size = 1 + 2 + f.id.length + 2 + utf8Length(f.name) + 1 + 1;
  for (const a of f.listen) size += 2 + a.length;
  for (const feature of f.features) size += 2 + feature.length;
  return size;
}

const nativeHelloArb: fc.Arbitrary<Frame> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({
        id: idArb,
        name: nativeNameArb,
        listen: fc.array(addressArb, { maxLength: 16 }),
        features: fc.array(featureArb, { maxLength: 32 }),
      })
      .filter((f) => helloBodySize(f) <= LIMITS.maxLineBytes)
      .map((f): Frame => ({ type: 'hello', version: PROTOCOL_VERSION, ...f })),
  },
  {
    // Another version: the rest of the body is opaque to the receiver (rule 22).
    weight: 1,
    arbitrary: fc
      .record({ version: fc.constantFrom(0, 2, 3, 254, 255), id: idArb, name: nativeNameArb })
      .map((f): Frame => ({ type: 'hello', ...f, listen: [], features: [] })),
  },
);

const nativePeersArb: fc.Arbitrary<Frame> = fc
  .array(peerArb, { maxLength: LIMITS.maxPeersPerFrame })
  .filter(
    (peers) =>
      peers.reduce((n, p) => n + 3 + p.address.length + (p.id?.length ?? 0), 2) <= LIMITS.maxLineBytes,
  )
  .map((peers) => ({ type: 'peers', peers }));

const nativeChatArb: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 6,
    arbitrary: text(40).map((s) => truncateUtf8(s.replace(LONE_SURROGATES, ''), LIMITS.maxLineBytes)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'PING',
      'PEERS:foo',
      'BYTES:99999999999\n',
      'line one\nline two\r\n\n',
      '\ufeffBOM',
      'x'.repeat(LIMITS.maxLineBytes),
      '👋'.repeat(LIMITS.maxLineBytes / 4),
    ),
  },
);

const nativeFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 2, arbitrary: nativeHelloArb },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<RejectReason>('duplicate', 'max-peers', 'unauthorized', 'version')
      .map((reason): Frame => ({ type: 'reject', reason })),
  },
  { weight: 2, arbitrary: nonceArb.map((nonce): Frame => ({ type: 'ping', nonce })) },
  { weight: 2, arbitrary: nonceArb.map((nonce): Frame => ({ type: 'pong', nonce })) },
  { weight: 1, arbitrary: fc.constant<Frame>({ type: 'request-peers' }) },
  { weight: 2, arbitrary: nativePeersArb },
  { weight: 5, arbitrary: nativeChatArb.map((t): Frame => ({ type: 'chat', text: t })) },
  {
    weight: 5,
    arbitrary: payloadArb(LIMITS.maxBytesPerMessage).map((data): Frame => ({ type: 'bytes', data })),
  },
  {
    weight: 1,
    arbitrary: fc
      .uint8Array({ minLength: 16, maxLength: 64 })
      .map((proof): Frame => ({ type: 'auth', proof })),
  },
  {
    weight: 1,
    arbitrary: fc
      .oneof(text(20), longText(256))
      .map((s) => truncateUtf8(s.replace(LONE_SURROGATES, ''), 256))
      .map((reason): Frame => ({ type: 'goodbye', reason })),
  },
);

const nativeStreamArb: fc.Arbitrary<Frame[]> = fc.array(nativeFrameArb, { maxLength: 16, size: 'max' });

function streamArb(kind: Kind): fc.Arbitrary<Frame[]> {
  if (kind === 'native') return nativeStreamArb;
  return kind === 'compat-listener' ? compatListenerStreamArb : compatDialerStreamArb;
}

// ------------------------------------------------------------------------------------------------
// Arbitraries: hostile bytes and mutations

function nativeHeader(length: number, type: number): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(length >>> 0, 0);
  header[4] = type;
  return header;
}

const COMPAT_TOKENS: Buffer[] = [
  'BYTES:99999999999\n',
  `BYTES:${LIMITS.maxBytesPerMessage + 1}\n`,
  `BYTES:${LIMITS.maxBytesPerMessage}\n`,
  `BYTES:${'9'.repeat(40)}\n`,
  'BYTES:0000000000000000003\n',
  ' BYTES:3 \r\n',
  'BYTES:-1\n',
  'BYTES:\n',
  'BYTES:1e3\n',
  'BYTES:3',
  `PEERS:${Array.from({ length: LIMITS.maxPeersPerFrame + 1 }, (_, i) => `10.0.0.${i}:1`).join(',')}\n`,
  `PEERS:${',x'.repeat(40)}\n`,
  'PEERS:garbage,:80,host:99999,[zz]:1, localhost:2 \n',
  'x'.repeat(LIMITS.maxLineBytes + 1),
  'x'.repeat(LIMITS.maxLineBytes),
  '\n',
  '\r\n',
  '\u0016',
  'PING\n',
  'REQUEST_PEERS\n',
  'LISTEN:\n',
  `LISTEN:${'a'.repeat(301)}\n`,
  'LISTEN:localhost:1\n',
  'DUPLICATE\n',
  'MAX_PEERS\n',
  'abc:\u0001\n',
  `${'x'.repeat(128)}:${'é'.repeat(129)}\n`,
  '0123456789abcdef0123456789abcdef:name\n',
].map((s) => Buffer.from(s, 'utf8'));

const BAD_UTF8: Buffer[] = [
  [0xff],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xe2, 0x82],
].map((b) => Buffer.from(b));

/** Native headers with lengths at and past every limit, and every kind of type byte. */
const nativeHeaderArb: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.oneof(
      fc.constantFrom(
        0,
        1,
        2,
        3,
        9,
        17,
        LIMITS.maxLineBytes,
        LIMITS.maxLineBytes + 1,
        LIMITS.maxLineBytes + 2,
        LIMITS.maxBytesPerMessage + 1,
        LIMITS.maxBytesPerMessage + 2,
        0x7fffffff,
        0x80000000,
        0xffffffff,
      ),
      fc.integer({ min: 0, max: 64 }),
    ),
    fc.oneof(fc.integer({ min: 0, max: 11 }), fc.constantFrom(0x7f, 0x80, 0xff)),
  )
  .map(([length, type]) => nativeHeader(length, type));

const NATIVE_TOKENS: Buffer[] = [
  Buffer.concat([nativeHeader(3, 6), Buffer.from([0xff, 0xff])]),
  Buffer.concat([nativeHeader(3, 6), Buffer.from([0, LIMITS.maxPeersPerFrame + 1])]),
  Buffer.concat([nativeHeader(4, 1), Buffer.from([1, 0xff, 0xff])]),
  Buffer.concat([nativeHeader(2, 2), Buffer.from([9])]),
  Buffer.concat([nativeHeader(3, 10), Buffer.from([0xff, 0xff])]),
  Buffer.concat([nativeHeader(18, 9), Buffer.from([0x40]), Buffer.alloc(16)]),
  Buffer.concat([nativeHeader(2, 1), Buffer.from([2])]),
];

const hostileTokenArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...COMPAT_TOKENS) },
  { weight: 1, arbitrary: fc.constantFrom(...BAD_UTF8) },
  { weight: 3, arbitrary: nativeHeaderArb },
  { weight: 1, arbitrary: fc.constantFrom(...NATIVE_TOKENS) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }) },
);

type Mutation =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; data: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'splice'; at: number; from: number; to: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), data: hostileTokenArb }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('splice' as const), at: fc.nat(), from: fc.nat(), to: fc.nat() }),
);

/** Applies `mutations` in order; `splice` inserts a slice of `other` (a stream of the other codec). */
function mutate(bytes: Buffer, mutations: readonly Mutation[], other: Buffer): Buffer {
  let buf = Buffer.from(bytes);
  for (const m of mutations) {
    const at = m.at % (buf.length + 1);
    switch (m.op) {
      case 'flip':
      case 'set':
        if (buf.length === 0) break;
        if (m.op === 'flip') buf[at % buf.length]! ^= 1 << m.bit;
        else buf[at % buf.length] = m.value;
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), m.data, buf.subarray(at)]);
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.length)]);
        break;
      case 'duplicate':
        buf = Buffer.concat([buf.subarray(0, at + m.length), buf.subarray(at)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
      case 'splice': {
        const a = m.from % (other.length + 1);
        const b = m.to % (other.length + 1);
        buf = Buffer.concat([
          buf.subarray(0, at),
          other.subarray(Math.min(a, b), Math.max(a, b)),
          buf.subarray(at),
        ]);
        break;
      }
    }
  }
  return buf;
}

/** A valid stream of the other codec, to splice in. */
function otherStreamBytes(kind: Kind, frames: Frame[]): Buffer {
  return encodeStream(kind === 'native' ? 'compat-listener' : 'native', frames).bytes;
}
const otherStreamArb = (kind: Kind): fc.Arbitrary<Frame[]> =>
  kind === 'native' ? compatListenerStreamArb : nativeStreamArb;

// ------------------------------------------------------------------------------------------------
// Arbitraries: frames an encoder may have to refuse

const looseTextArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: text(24) },
  { weight: 1, arbitrary: longText(LIMITS.maxLineBytes) },
  { weight: 1, arbitrary: longText(256) },
  { weight: 1, arbitrary: longText(300) },
);
const looseIdArb = fc.oneof(
  { weight: 3, arbitrary: idArb },
  { weight: 1, arbitrary: text(6) },
  { weight: 1, arbitrary: fc.constantFrom('', 'i'.repeat(129)) },
);
const looseAddressArb = fc.oneof(
  { weight: 3, arbitrary: addressArb },
  { weight: 1, arbitrary: looseTextArb },
);

/** Every frame type, with content anywhere from valid to hostile. */
const looseFrameArb: fc.Arbitrary<Frame> = fc.oneof(
  fc
    .record({
      id: looseIdArb,
      name: fc.oneof(compatNameArb, nativeNameArb, looseTextArb),
      listen: fc.array(looseAddressArb, { maxLength: 18 }),
      version: fc.oneof(
        fc.constantFrom(PROTOCOL_VERSION, PROTOCOL_VERSION, 0, 2, 255, 256, -1, 1.5),
        fc.nat(300),
      ),
      features: fc.array(fc.oneof(featureArb, text(4)), { maxLength: 34 }),
    })
    .map((f): Frame => ({ type: 'hello', ...f })),
  fc.oneof(compatListenArb, looseTextArb).map((address): Frame => ({ type: 'listen', address })),
  fc
    .constantFrom('duplicate', 'max-peers', 'unauthorized', 'version', 'nope', 'toString', '__proto__', '')
    .map((reason): Frame => ({ type: 'reject', reason: reason as RejectReason })),
  fc
    .tuple(
      fc.constantFrom('ping' as const, 'pong' as const),
      fc.oneof(nonceArb, fc.constantFrom(-1n, 1n << 64n, -(1n << 70n)), fc.bigInt()),
    )
    .map(([type, nonce]): Frame => ({ type, nonce })),
  fc.constant<Frame>({ type: 'request-peers' }),
  fc
    .array(
      fc.record(
        { address: looseAddressArb, id: fc.oneof(idArb, text(4), fc.constant('')) },
        { requiredKeys: ['address'] },
      ),
      { maxLength: LIMITS.maxPeersPerFrame + 4 },
    )
    .map((peers): Frame => ({ type: 'peers', peers })),
  fc.oneof(compatChatArb, nativeChatArb, looseTextArb).map((t): Frame => ({ type: 'chat', text: t })),
  fc
    .oneof(
      payloadArb(LIMITS.maxBytesPerMessage + 2),
      fc.integer({ min: 0, max: 12 }).map((n) => new Uint8Array(LIMITS.maxBytesPerMessage - 6 + n)),
    )
    .map((data): Frame => ({ type: 'bytes', data })),
  fc.uint8Array({ maxLength: 80 }).map((proof): Frame => ({ type: 'auth', proof })),
  fc.oneof(text(20), longText(256)).map((reason): Frame => ({ type: 'goodbye', reason })),
);

/** Arbitrary limits, down to silly ones, for encoder/decoder agreement. */
const limitsArb: fc.Arbitrary<CodecLimits> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(LIMITS) },
  {
    weight: 3,
    arbitrary: fc.record({
      maxBytesPerMessage: fc.oneof(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 5000 })),
      maxLineBytes: fc.oneof(fc.integer({ min: 16, max: 80 }), fc.integer({ min: 16, max: 1200 })),
      maxPeersPerFrame: fc.integer({ min: 0, max: 20 }),
    }),
  },
);

/**
 * What a decoder in the right state reads back from `encoded`: compat frames are checked in every
 * state where they may legally appear, native frames on a fresh decoder.
 */
function decodeInContext(
  kind: 'native' | 'compat',
  frame: Frame,
  encoded: Buffer,
  limits: CodecLimits,
): void {
  const expected = [canon((kind === 'native' ? normalizeNative : normalizeCompat)(frame))];
  const contexts: Array<{ kind: Kind; prelude: string }> = [];
  if (kind === 'native') contexts.push({ kind: 'native', prelude: '' });
  else if (frame.type === 'hello')
    contexts.push({ kind: 'compat-listener', prelude: '' }, { kind: 'compat-dialer', prelude: '' });
  else if (frame.type === 'reject') contexts.push({ kind: 'compat-dialer', prelude: '' });
  else if (frame.type === 'listen') contexts.push({ kind: 'compat-listener', prelude: 'a:\n' });
  else {
    contexts.push(
      { kind: 'compat-dialer', prelude: 'a:\n' },
      // Right after the hello, where a LISTEN line may still come.
      { kind: 'compat-listener', prelude: 'a:\n' },
      { kind: 'compat-listener', prelude: 'a:\nLISTEN:b:1\n' },
    );
  }
  for (const { kind: k, prelude } of contexts) {
    const decoder = decoderFor(k, limits);
    const preludeFrames = decoder.push(Buffer.from(prelude));
    const frames = decoder.push(encoded).map(canon);
    assert.deepEqual(frames, expected, `${k} after ${JSON.stringify(prelude)}`);
    assert.equal(decoder.bufferedBytes, 0);
    assert.equal(preludeFrames.length, prelude.split('\n').length - 1);
  }
}

// ------------------------------------------------------------------------------------------------
// Properties

function expectedFrames(kind: Kind, frames: readonly Frame[]): Frame[] {
  return frames.map((f) => canon(normalizeFor(kind)(f)));
}

describe('codec fuzz: valid streams', () => {
  for (const [i, kind] of KINDS.entries()) {
    test(`${kind}: encode -> decode round-trips every valid frame sequence`, TEST_OPTIONS, () => {
      check(
        fc.property(streamArb(kind), (frames) => {
          if (isCompat(kind)) {
            for (const f of frames)
              if (f.type === 'chat')
                assert.equal(isControlLikeChat(f.text, LIMITS.maxLineBytes), undefined, f.text);
          }
          const { bytes } = encodeStream(kind, frames);
          const decoder = decoderFor(kind, LIMITS);
          const decoded = decoder.push(bytes);
          assert.deepEqual(decoded.map(canon), expectedFrames(kind, frames));
          assert.equal(decoder.bufferedBytes, 0);
        }),
        400,
        0x1000 + i,
      );
    });

    test(`${kind}: any split of a valid stream decodes to the same frames`, TEST_OPTIONS, () => {
      check(
        fc.property(streamArb(kind), splitArb, (frames, split) => {
          const { bytes } = encodeStream(kind, frames);
          const whole = feed(kind, [bytes]);
          assert.equal(whole.error, undefined);
          const { frames: decoded, error } = feed(kind, applySplit(bytes, split));
          assert.equal(error, undefined);
          assert.deepEqual(decoded.map(canon), whole.frames.map(canon));
          assert.deepEqual(decoded.map(canon), expectedFrames(kind, frames));
        }),
        400,
        0x2000 + i,
      );
    });

    test(`${kind}: a prefix of a valid stream yields exactly the frames it completes`, TEST_OPTIONS, () => {
      check(
        fc.property(streamArb(kind), fc.nat(), splitArb, (frames, cutSeed, split) => {
          const { bytes, ends } = encodeStream(kind, frames);
          const cut = cutSeed % (bytes.length + 1);
          const decoder = decoderFor(kind, LIMITS);
          const decoded: Frame[] = [];
          for (const chunk of applySplit(bytes.subarray(0, cut), split)) decoded.push(...decoder.push(chunk));
          const complete = ends.filter((end) => end <= cut).length;
          assert.deepEqual(decoded.map(canon), expectedFrames(kind, frames.slice(0, complete)));
          const tail = cut - (complete === 0 ? 0 : ends[complete - 1]!);
          assert.ok(
            decoder.bufferedBytes <= tail,
            `buffered ${decoder.bufferedBytes} of a ${tail}-byte tail`,
          );
        }),
        300,
        0x3000 + i,
      );
    });
  }
});

describe('codec fuzz: hostile input', () => {
  for (const [i, kind] of KINDS.entries()) {
    test(`${kind}: random bytes only ever throw a sticky CodecError, within limits`, TEST_OPTIONS, () => {
      check(
        fc.property(fc.uint8Array({ maxLength: 3000, size: 'max' }), splitArb, (bytes, split) => {
          feed(kind, applySplit(Buffer.from(bytes), split));
        }),
        500,
        0x4000 + i,
      );
    });

    test(
      `${kind}: protocol-shaped token soup only ever throws a sticky CodecError, within limits`,
      TEST_OPTIONS,
      () => {
        const piece = fc.oneof(
          { weight: 3, arbitrary: hostileTokenArb },
          { weight: 2, arbitrary: nativeFrameArb.map((f) => encodeStream('native', [f]).bytes) },
          { weight: 2, arbitrary: compatOpenFrameArb.map((f) => encodeStream('compat-dialer', [f]).bytes) },
          { weight: 1, arbitrary: compatHelloArb.map((f) => encodeStream('compat-dialer', [f]).bytes) },
        );
        check(
          fc.property(
            fc.array(piece, { maxLength: 24, size: 'max' }),
            splitArb,
            limitsArb,
            (pieces, split, limits) => {
              // Any limits, down to silly ones: the decoder must hold to whatever it was given.
              feed(kind, applySplit(Buffer.concat(pieces), split), limits);
            },
          ),
          600,
          0x5000 + i,
        );
      },
    );

    test(
      `${kind}: mutated valid streams only ever throw a sticky CodecError, within limits`,
      TEST_OPTIONS,
      () => {
        check(
          fc.property(
            streamArb(kind),
            otherStreamArb(kind),
            fc.array(mutationArb, { minLength: 1, maxLength: 6, size: 'max' }),
            splitArb,
            (frames, otherFrames, mutations, split) => {
              const { bytes } = encodeStream(kind, frames);
              const mutated = mutate(bytes, mutations, otherStreamBytes(kind, otherFrames));
              feed(kind, applySplit(mutated, split));
            },
          ),
          600,
          0x6000 + i,
        );
      },
    );

    test(
      `${kind}: after a CodecError the decoder throws it forever and returns nothing`,
      TEST_OPTIONS,
      () => {
        check(
          fc.property(
            streamArb(kind),
            fc.array(hostileTokenArb, { minLength: 1, maxLength: 4 }),
            fc.array(
              fc.oneof(
                fc.uint8Array({ maxLength: 64 }),
                streamArb(kind).map((f) => encodeStream(kind, f).bytes),
              ),
              {
                maxLength: 6,
              },
            ),
            (frames, poison, later) => {
              const { bytes } = encodeStream(kind, frames);
              const decoder = decoderFor(kind, LIMITS);
              decoder.push(bytes);
              let first: unknown;
              for (const token of poison) {
                try {
                  decoder.push(token);
                } catch (err) {
                  first = err;
                  break;
                }
              }
              fc.pre(first !== undefined);
              assertCodecError(first, DECODER_CODES);
              for (const chunk of [...later, new Uint8Array(0), bytes]) {
                assert.throws(
                  () => decoder.push(chunk),
                  (err) => err === first,
                );
              }
              assert.ok(decoder.bufferedBytes <= bufferBound(kind, LIMITS));
            },
          ),
          300,
          0x7000 + i,
        );
      },
    );
  }
});

/** Counterexamples the properties found, kept so they run first on every seed. */
const ENCODER_REGRESSIONS: Array<[Frame, CodecLimits]> = [
  // Compat encoder wrote lines its own decoder refuses as too long (hello, LISTEN, BYTES header).
  [
    { type: 'hello', id: '0123456789abcdef0123456789abcdef', name: '', listen: [], version: 0, features: [] },
    { maxBytesPerMessage: 0, maxLineBytes: 16, maxPeersPerFrame: 0 },
  ],
  [
    { type: 'listen', address: 'a-rather-long-host.example:8001' },
    { ...LIMITS, maxLineBytes: 16 },
  ],
  [
    { type: 'bytes', data: new Uint8Array(1000) },
    { ...LIMITS, maxLineBytes: 8 },
  ],
  [{ type: 'request-peers' }, { ...LIMITS, maxLineBytes: 12 }],
  // Compat encoder sent a lone surrogate in LISTEN, which arrives as U+FFFD.
  [{ type: 'listen', address: 'host\ud800:1' }, LIMITS],
];

describe('codec fuzz: regressions', () => {
  test('compat: a LISTEN address with control characters is malformed, as the encoder refuses it', () => {
    for (const address of ['\u0000100.100.10.10:10000', 'a\u001b[31m:1', 'a\u007f:1']) {
      const { error } = feed('compat-listener', [Buffer.from(`abc:\nLISTEN:${address}\n`)]);
      assert.equal(error?.code, 'ERR_MALFORMED_FRAME', JSON.stringify(address));
      assert.throws(() => new CompatEncoder().encode({ type: 'listen', address }), CodecError);
    }
    // Trimmed whitespace and C1 characters inside are still fine, both ways.
    assert.deepEqual(feed('compat-listener', [Buffer.from('abc:\nLISTEN: a\u0085b:1 \r\n')]).frames[1], {
      type: 'listen',
      address: 'a\u0085b:1',
    });
  });

  for (const [frame, limits] of ENCODER_REGRESSIONS) {
    test(`compat encoder: ${frame.type} under maxLineBytes ${limits.maxLineBytes} is refused or reads back`, () => {
      let parts: Buffer[];
      try {
        parts = new CompatEncoder(limits).encode(frame);
      } catch (err) {
        assertCodecError(err, ENCODER_CODES);
        return;
      }
      decodeInContext('compat', frame, Buffer.concat(parts), limits);
    });
  }
});

describe('codec fuzz: encoders', () => {
  for (const [i, kind] of (['native', 'compat'] as const).entries()) {
    test(
      `${kind}: every frame is refused with a CodecError or decodes back identically`,
      TEST_OPTIONS,
      () => {
        check(
          fc.property(looseFrameArb, limitsArb, (frame, limits) => {
            const encoder = kind === 'native' ? new NativeEncoder(limits) : new CompatEncoder(limits);
            let parts: Buffer[];
            try {
              parts = encoder.encode(frame);
            } catch (err) {
              assertCodecError(err, ENCODER_CODES);
              if (kind === 'compat' && frame.type === 'chat') {
                assert.notEqual(isControlLikeChat(frame.text, limits.maxLineBytes), undefined);
                assert.equal(err.code, 'ERR_CHAT_NOT_ENCODABLE');
              }
              return;
            }
            assert.ok(
              Array.isArray(parts) && parts.every((p) => Buffer.isBuffer(p)),
              'encoder returns Buffers',
            );
            if (kind === 'compat' && frame.type === 'chat') {
              assert.equal(isControlLikeChat(frame.text, limits.maxLineBytes), undefined);
            }
            decodeInContext(kind, frame, Buffer.concat(parts), limits);
          }),
          3000,
          0x8000 + i,
          ENCODER_REGRESSIONS,
        );
      },
    );
  }

  test(
    'compat: a chat is refused exactly when its plain line would not read back as that chat',
    TEST_OPTIONS,
    () => {
      check(
        fc.property(
          fc.oneof(text(12), compatChatArb, looseTextArb),
          fc.constantFrom(LIMITS.maxLineBytes, 64, 1024),
          (t, maxLine) => {
            const limits = { ...LIMITS, maxLineBytes: maxLine };
            const refused = isControlLikeChat(t, maxLine) !== undefined;
            // The naive encoding, read in every open state a chat can arrive in.
            let readsBack = true;
            for (const [role, prelude] of [
              ['dialer', 'a:\n'],
              ['listener', 'a:\n'],
              ['listener', 'a:\nLISTEN:b:1\n'],
            ] as const) {
              const decoder = new CompatDecoder(role, limits);
              try {
                decoder.push(Buffer.from(prelude));
                const out = decoder.push(Buffer.from(`${t}\n`, 'utf8'));
                if (!(out.length === 1 && out[0]?.type === 'chat' && out[0].text === t)) readsBack = false;
              } catch {
                readsBack = false;
              }
            }
            if (!refused) assert.ok(readsBack, 'accepted chat must read back');
            // The one conservative refusal: a CR inside the text (trimmed by receivers at the end).
            else if (!t.includes('\r'))
              assert.ok(!readsBack, `refused chat ${JSON.stringify(t)} would have read back`);
          },
        ),
        2000,
        0x8100,
      );
    },
  );

  test('type-confused frames (JavaScript callers) are refused with a CodecError', TEST_OPTIONS, () => {
    const confused: unknown[] = [
      { type: 'chat', text: 42 },
      { type: 'chat', text: undefined },
      { type: 'bytes', data: 'text' },
      { type: 'bytes', data: [1, 2, 3] },
      { type: 'bytes', data: undefined },
      { type: 'hello', id: 123, name: 'a', listen: [], version: 1, features: [] },
      { type: 'hello', id: 'abc', name: 7, listen: [], version: 1, features: [] },
      { type: 'listen', address: 12345 },
      { type: 'listen', address: undefined },
      { type: 'peers', peers: 'a:1' },
      { type: 'peers', peers: [{ address: 80 }] },
      { type: 'peers', peers: [null] },
      { type: 'reject', reason: undefined },
      { type: 'auth', proof: 'x'.repeat(32) },
      { type: 'goodbye', reason: 5 },
      { type: 'nonsense' },
      { type: undefined },
    ];
    for (const frame of confused) {
      for (const encoder of [new NativeEncoder(LIMITS), new CompatEncoder(LIMITS)]) {
        let parts: Buffer[] | undefined;
        try {
          parts = encoder.encode(frame as Frame);
        } catch (err) {
          assertCodecError(err, ENCODER_CODES);
          continue;
        }
        assert.fail(
          `${encoder.constructor.name} accepted ${JSON.stringify(frame)}: ${JSON.stringify(parts?.map(String))}`,
        );
      }
    }
  });
});

describe('codec fuzz: memory', () => {
  /** A gc() for the measurement; `--expose-gc` is not needed on the command line. */
  function gc(): () => void {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc') as () => void;
  }
  const heap = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;

  test('a line trickled in 1-byte chunks costs about its size, not a Buffer per chunk', TEST_OPTIONS, () => {
    const collect = gc();
    const limits: CodecLimits = { ...LIMITS, maxLineBytes: 32 * 1024 };
    for (const kind of KINDS) {
      const decoders: FrameDecoder[] = [];
      collect();
      const before = heap();
      for (let d = 0; d < 2; d++) {
        const decoder = decoderFor(kind, limits);
        const header = Buffer.alloc(5);
        header.writeUInt32BE(limits.maxLineBytes + 1, 0);
        header[4] = 7;
        decoder.push(kind === 'native' ? header : Buffer.from('abc:x\n'));
        const one = Buffer.from('a');
        for (let i = 0; i < limits.maxLineBytes - 16; i++) decoder.push(one.subarray(0, 1));
        decoders.push(decoder);
      }
      collect();
      const perDecoder = (heap() - before) / decoders.length;
      for (const decoder of decoders) assert.ok(decoder.bufferedBytes >= limits.maxLineBytes - 16);
      // 32 KiB buffered; a Buffer object per 1-byte chunk would cost about 4 MiB.
      assert.ok(perDecoder < 512 * 1024, `${kind}: ${(perDecoder / 1024).toFixed(0)} KiB held per decoder`);
    }
  });
});
