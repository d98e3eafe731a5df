// Longer than most files (~670 lines) on purpose: one wire format, its decoder and encoder side
// by side, so every rule of PROTOCOL.md is checked and produced in one place.
/**
 * meshwire's native binary codec (secure mode; it runs inside a TLS 1.3 channel). The format is
 * specified as numbered rules in PROTOCOL.md; comments below cite them as "rule N".
 *
 * Hot path: BYTES frames. The encoder never copies a payload and the decoder hands out views of
 * the pushed chunk whenever a frame lies inside it, so bulk transfer costs one copy at most (for a
 * frame split across chunks, into a buffer allocated once at its exact size).
 */
import { tryParseAddress } from '../address.js';
import { CodecError } from '../errors.js';
import { DEFAULT_CODEC_LIMITS } from './codec.js';
import type { CodecLimits, FrameDecoder, FrameEncoder } from './codec.js';
import type { Frame, FrameType, HelloFrame, PeerAddress, RejectReason } from './frame.js';
import { asBuffer, ID_PATTERN, MAX_NAME_BYTES } from './wire.js';

/** The protocol version this implementation speaks, sent in every hello (PROTOCOL.md rule 22). */
export const PROTOCOL_VERSION = 1;

/** Bytes before every frame body: u32 length + u8 type. */
export const NATIVE_HEADER_BYTES = 5;

/** Longest peer ID accepted, in characters (IDs are ASCII `[A-Za-z0-9._-]`). */
export const MAX_ID_LENGTH = 128;
/** Longest display name accepted, in UTF-8 bytes. */
export { MAX_NAME_BYTES };
/** Most listen addresses in one hello. */
export const MAX_LISTEN_ADDRESSES = 16;
/** Most feature strings in one hello. */
export const MAX_FEATURES = 32;
/** Longest feature string, in characters (`[a-z0-9-]`). */
export const MAX_FEATURE_LENGTH = 64;
/** Shortest network-key proof accepted in an auth frame, in bytes. */
export const MIN_AUTH_PROOF_BYTES = 16;
/** Longest network-key proof accepted in an auth frame, in bytes. */
export const MAX_AUTH_PROOF_BYTES = 64;
/** Longest goodbye reason, in UTF-8 bytes. */
export const MAX_GOODBYE_REASON_BYTES = 256;
/** Size of a network-key share in a pake frame: one encoded X25519 u-coordinate. */
export const PAKE_SHARE_BYTES = 32;

const T_HELLO = 0x01;
const T_REJECT = 0x02;
const T_PING = 0x03;
const T_PONG = 0x04;
const T_REQUEST_PEERS = 0x05;
const T_PEERS = 0x06;
const T_CHAT = 0x07;
const T_BYTES = 0x08;
const T_AUTH = 0x09;
const T_GOODBYE = 0x0a;
const T_PAKE = 0x0b;
const T_OVERLAY = 0x0c;
/** First body byte of an overlay `gossip` message (PROTOCOL.md O2): the one allowed past maxLineBytes. */
const OVERLAY_GOSSIP = 0x10;
/** Room for a gossip's header (IDs, signature) on top of a `maxBytesPerMessage` payload (O1). */
export const OVERLAY_GOSSIP_OVERHEAD = 512;

/**
 * A whole native overlay frame (header and `body`) in one buffer, for a body that is written to
 * several peers as it is (a broadcast payload relayed to every eager neighbour): framed once, not
 * once per peer by each connection's encoder. The caller bounds the body (the encoder's O1 limits);
 * this checks only that the length fits the header.
 */
export function encodeOverlayFrame(body: Uint8Array): Buffer {
  if (body.length === 0 || body.length >= 0xffffffff) {
    throw new CodecError('ERR_FRAME_TOO_LARGE', `overlay frame body of ${body.length} bytes`);
  }
  const buf = Buffer.allocUnsafe(NATIVE_HEADER_BYTES + body.length);
  buf.writeUInt32BE(body.length + 1, 0);
  buf[4] = T_OVERLAY;
  buf.set(body, NATIVE_HEADER_BYTES);
  return buf;
}

/** Indexed by type code; `undefined` marks a code this version does not know (rule 7). */
const TYPE_NAMES: readonly (FrameType | undefined)[] = [
  undefined,
  'hello',
  'reject',
  'ping',
  'pong',
  'request-peers',
  'peers',
  'chat',
  'bytes',
  'auth',
  'goodbye',
  'pake',
  'overlay',
];

/**
 * Smallest and largest body each type can have regardless of content. Checking them from the
 * header alone means a 200 KiB "ping" is refused before a byte of it is buffered (rule 7).
 */
const MIN_BODY: readonly number[] = [
  0,
  1,
  1,
  8,
  8,
  0,
  2,
  0,
  0,
  1 + MIN_AUTH_PROOF_BYTES,
  2,
  PAKE_SHARE_BYTES,
  1,
];
const MAX_BODY: readonly number[] = [
  0,
  Infinity,
  1,
  8,
  8,
  0,
  Infinity,
  Infinity,
  Infinity,
  1 + MAX_AUTH_PROOF_BYTES,
  2 + MAX_GOODBYE_REASON_BYTES,
  PAKE_SHARE_BYTES,
  Infinity,
];

/** Indexed by reason code (rule 13); code 4, `version`, is frozen across versions (rule 23). */
const REJECT_REASONS: readonly (RejectReason | undefined)[] = [
  undefined,
  'duplicate',
  'max-peers',
  'unauthorized',
  'version',
  'rate-limited',
];
const REJECT_CODES: Readonly<Record<RejectReason, number>> = {
  duplicate: 1,
  'max-peers': 2,
  unauthorized: 3,
  version: 4,
  'rate-limited': 5,
};

const FEATURE_PATTERN = /^[a-z0-9-]{1,64}$/;
const MAX_U64 = (1n << 64n) - 1n;

// ignoreBOM: a chat text that starts with U+FEFF must survive the round trip unchanged.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** True when `id` is a well-formed peer ID: 1..128 characters of `[A-Za-z0-9._-]`. */
export function isValidPeerId(id: string): boolean {
  return ID_PATTERN.test(id);
}

/** True when `name` fits a hello: at most 256 UTF-8 bytes and no C0/C1 control characters. */
export function isValidDisplayName(name: string): boolean {
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

function malformed(message: string): never {
  throw new CodecError('ERR_MALFORMED_FRAME', message);
}

function invalid(message: string): never {
  throw new CodecError('ERR_INVALID_ARGUMENT', message);
}

/** Wraps a plain Uint8Array without copying, so the Buffer read methods are available. */

/** Bounds-checked cursor over one frame body; every overrun is a malformed frame (rule 9). */
class BodyReader {
  constructor(
    private readonly buf: Buffer,
    private pos: number,
    private readonly end: number,
  ) {}

  u8(): number {
    if (this.pos >= this.end) malformed('truncated frame body');
    return this.buf[this.pos++]!;
  }

  u16(): number {
    if (this.end - this.pos < 2) malformed('truncated frame body');
    const value = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  /** Takes `length` bytes and returns where they start. */
  take(length: number): number {
    if (this.end - this.pos < length) malformed('truncated frame body');
    const start = this.pos;
    this.pos += length;
    return start;
  }

  /** A u16-prefixed UTF-8 string of at most `maxBytes` bytes. */
  string(maxBytes: number, what: string): string {
    const length = this.u16();
    if (length > maxBytes) malformed(`${what} too long`);
    const start = this.take(length);
    return decodeUtf8(this.buf, start, start + length);
  }

  /**
   * ASCII text of `length` bytes matching `pattern`. Latin-1 decoding is safe here because every
   * pattern used only admits ASCII, so any byte >= 0x80 fails the test.
   */
  ascii(length: number, pattern: RegExp, what: string): string {
    const start = this.take(length);
    const text = this.buf.toString('latin1', start, start + length);
    if (!pattern.test(text)) malformed(`invalid ${what}`);
    return text;
  }

  address(what: string): string {
    // 300 matches tryParseAddress's own cap; checking first avoids decoding a long string.
    const text = this.string(300, what);
    if (tryParseAddress(text) === undefined) malformed(`invalid ${what} ${JSON.stringify(text)}`);
    return text;
  }

  done(): void {
    if (this.pos !== this.end) malformed('trailing bytes in frame body');
  }
}

function decodeUtf8(buf: Buffer, start: number, end: number): string {
  if (start === end) return '';
  try {
    return utf8Decoder.decode(buf.subarray(start, end));
  } catch {
    return malformed('invalid UTF-8');
  }
}

function decodeHello(buf: Buffer, start: number, end: number): HelloFrame {
  const r = new BodyReader(buf, start, end);
  const version = r.u8();
  // Rule 22: the rest of another version's hello is opaque, so the session can still answer
  // reject 'version' instead of failing on a layout it cannot know.
  if (version !== PROTOCOL_VERSION)
    return { type: 'hello', version, id: '', name: '', listen: [], features: [] };
  const idLength = r.u16();
  if (idLength > MAX_ID_LENGTH) malformed('peer ID too long');
  const id = r.ascii(idLength, ID_PATTERN, 'peer ID');
  const name = r.string(MAX_NAME_BYTES, 'name');
  if (!isValidDisplayName(name)) malformed('control character in name');
  const listenCount = r.u8();
  if (listenCount > MAX_LISTEN_ADDRESSES) malformed('too many listen addresses');
  const listen: string[] = [];
  for (let i = 0; i < listenCount; i++) listen.push(r.address('listen address'));
  const featureCount = r.u8();
  if (featureCount > MAX_FEATURES) malformed('too many features');
  const features: string[] = [];
  for (let i = 0; i < featureCount; i++) {
    const length = r.u16();
    if (length > MAX_FEATURE_LENGTH) malformed('feature too long');
    features.push(r.ascii(length, FEATURE_PATTERN, 'feature'));
  }
  r.done();
  return { type: 'hello', version, id, name: name === '' ? id : name, listen, features };
}

function decodePeers(buf: Buffer, start: number, end: number, maxPeers: number): Frame {
  const r = new BodyReader(buf, start, end);
  const count = r.u16();
  if (count > maxPeers) {
    throw new CodecError('ERR_TOO_MANY_ENTRIES', `peers frame with ${count} entries (limit ${maxPeers})`);
  }
  const peers: PeerAddress[] = [];
  for (let i = 0; i < count; i++) {
    const address = r.address('peer address');
    const idLength = r.u8();
    if (idLength === 0) {
      peers.push({ address });
    } else {
      if (idLength > MAX_ID_LENGTH) malformed('peer ID too long');
      peers.push({ address, id: r.ascii(idLength, ID_PATTERN, 'peer ID') });
    }
  }
  r.done();
  return { type: 'peers', peers };
}

/** Decodes one complete body; `type` is known and the size bounds of rule 7 already hold. */
function decodeBody(
  type: number,
  buf: Buffer,
  start: number,
  end: number,
  maxPeers: number,
  maxLine: number,
): Frame {
  switch (type) {
    case T_CHAT:
      return { type: 'chat', text: decodeUtf8(buf, start, end) };
    case T_BYTES:
      // A view, never a copy: the chunk (or the buffer allocated for this frame) is not reused.
      return { type: 'bytes', data: start === 0 && end === buf.length ? buf : buf.subarray(start, end) };
    case T_PING:
      return { type: 'ping', nonce: buf.readBigUInt64BE(start) };
    case T_PONG:
      return { type: 'pong', nonce: buf.readBigUInt64BE(start) };
    case T_REQUEST_PEERS:
      return { type: 'request-peers' };
    case T_REJECT: {
      const reason = REJECT_REASONS[buf[start]!];
      if (reason === undefined) malformed(`unknown reject reason ${buf[start]}`);
      return { type: 'reject', reason };
    }
    case T_HELLO:
      return decodeHello(buf, start, end);
    case T_PEERS:
      return decodePeers(buf, start, end, maxPeers);
    case T_AUTH: {
      const r = new BodyReader(buf, start, end);
      const length = r.u8();
      if (length < MIN_AUTH_PROOF_BYTES || length > MAX_AUTH_PROOF_BYTES) malformed('bad auth proof length');
      const at = r.take(length);
      r.done();
      // Copied: a 32-byte proof must not pin a whole 64 KiB socket chunk in memory.
      return { type: 'auth', proof: Buffer.from(buf.subarray(at, at + length)) };
    }
    case T_PAKE:
      // Copied, like an auth proof. The size is exact (rule 7); whether the bytes encode a group
      // element is the key exchange's question, not the codec's.
      return { type: 'pake', share: Buffer.from(buf.subarray(start, end)) };
    case T_OVERLAY:
      // O1: only a gossip (which may carry a bytes payload) may exceed maxLineBytes; the header
      // check already bounded every overlay body by maxBytesPerMessage + the gossip overhead.
      if (buf[start] !== OVERLAY_GOSSIP && end - start > maxLine) {
        throw new CodecError(
          'ERR_FRAME_TOO_LARGE',
          `overlay frame body of ${end - start} bytes exceeds ${maxLine}`,
        );
      }
      // A gossip is copied: the overlay caches its payload, which must not pin a whole socket
      // chunk. Every other overlay message decodes into strings and numbers at once (the node
      // decodes as the frame arrives), so a view does: most overlay frames are IHAVEs.
      return {
        type: 'overlay',
        body:
          buf[start] === OVERLAY_GOSSIP ? Buffer.from(buf.subarray(start, end)) : buf.subarray(start, end),
      };
    case T_GOODBYE: {
      const r = new BodyReader(buf, start, end);
      const reason = r.string(MAX_GOODBYE_REASON_BYTES, 'goodbye reason');
      r.done();
      return { type: 'goodbye', reason };
    }
    default:
      return malformed(`unknown frame type 0x${type.toString(16)}`);
  }
}

/**
 * Incremental decoder for the native protocol. Any split of the byte stream yields the same
 * frames. Lengths are checked against the limits before anything is buffered, so a peer can
 * make it hold at most one frame's worth of bytes.
 *
 * BYTES frames that arrive inside one chunk are returned as views of that chunk: the caller must
 * not modify a chunk after pushing it (socket chunks are never reused, so this holds for data
 * read from a socket). After the first error, every later `push` throws that same error.
 *
 * A hello whose version is not {@link PROTOCOL_VERSION} decodes as `{ version, id: '', name: '',
 * listen: [], features: [] }` (its other fields are opaque, rule 22): the session must check
 * `version` before anything else and answer reject `version`. A hello with an empty name decodes
 * with `name` set to its `id`.
 */
export class NativeDecoder implements FrameDecoder {
  private readonly maxBytes: number;
  private readonly maxLine: number;
  private readonly maxPeers: number;
  /** Largest length field any type could carry: checked before the type byte is known. */
  private readonly maxLength: number;

  /** Header bytes seen of the current frame (0..4); the fifth (type) byte is never held. */
  private headerFilled = 0;
  private length = 0;
  private type = 0;
  /** The current frame's body, allocated once at its exact size when it spans chunks. */
  private body: Buffer | null = null;
  private bodyFilled = 0;
  private error: CodecError | null = null;

  /** @param limits - size limits enforced before buffering; defaults to {@link DEFAULT_CODEC_LIMITS}. */
  constructor(limits: CodecLimits = DEFAULT_CODEC_LIMITS) {
    this.maxBytes = limits.maxBytesPerMessage;
    this.maxLine = limits.maxLineBytes;
    this.maxPeers = Math.min(limits.maxPeersPerFrame, 0xffff);
    this.maxLength = Math.max(this.maxBytes + OVERLAY_GOSSIP_OVERHEAD, this.maxLine) + 1;
  }

  /** Bytes received of the frame in progress (header bytes plus body bytes). */
  get bufferedBytes(): number {
    return this.headerFilled + this.bodyFilled;
  }

  /**
   * Feeds a chunk and returns every frame it completes, in order. Throws `CodecError`
   * (`ERR_FRAME_TOO_LARGE`, `ERR_MALFORMED_FRAME`, `ERR_TOO_MANY_ENTRIES`) on a violation; frames
   * that preceded the violation in the same chunk are discarded with it, as the peer is dropped.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.error !== null) throw this.error;
    try {
      return this.consume(asBuffer(chunk));
    } catch (err) {
      this.error =
        err instanceof CodecError
          ? err
          : new CodecError('ERR_MALFORMED_FRAME', `undecodable frame: ${String(err)}`);
      this.body = null;
      this.bodyFilled = 0;
      this.headerFilled = 0;
      throw this.error;
    }
  }

  private consume(buf: Buffer): Frame[] {
    const frames: Frame[] = [];
    const end = buf.length;
    let pos = this.body === null ? 0 : this.fillBody(buf, 0, frames);
    while (pos < end) {
      if (this.headerFilled === 0 && end - pos >= NATIVE_HEADER_BYTES) {
        // Fast path: the whole header is in this chunk.
        const length = buf.readUInt32BE(pos);
        this.checkLength(length);
        const type = buf[pos + 4]!;
        this.checkType(type, length - 1);
        const start = pos + NATIVE_HEADER_BYTES;
        const stop = start + length - 1;
        if (stop <= end) {
          frames.push(decodeBody(type, buf, start, stop, this.maxPeers, this.maxLine));
          pos = stop;
        } else {
          pos = this.beginBody(type, length - 1, buf, start, frames);
        }
        continue;
      }
      const byte = buf[pos++]!;
      if (this.headerFilled < 4) {
        // Multiplying keeps lengths >= 2^31 positive, unlike `<<`.
        this.length = this.length * 256 + byte;
        if (++this.headerFilled === 4) this.checkLength(this.length);
        continue;
      }
      const bodyLength = this.length - 1;
      this.checkType(byte, bodyLength);
      this.headerFilled = 0;
      this.length = 0;
      if (end - pos >= bodyLength) {
        frames.push(decodeBody(byte, buf, pos, pos + bodyLength, this.maxPeers, this.maxLine));
        pos += bodyLength;
      } else {
        pos = this.beginBody(byte, bodyLength, buf, pos, frames);
      }
    }
    return frames;
  }

  /** Rule 6: only the length is known yet, so check it against the largest any type allows. */
  private checkLength(length: number): void {
    if (length === 0) malformed('frame length 0');
    if (length > this.maxLength) {
      throw new CodecError('ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds the limit`);
    }
  }

  /** Rule 7: the type is known; check its own limit and fixed size before buffering the body. */
  private checkType(type: number, bodyLength: number): void {
    const name = TYPE_NAMES[type];
    if (name === undefined) malformed(`unknown frame type 0x${type.toString(16).padStart(2, '0')}`);
    const limit =
      type === T_BYTES
        ? this.maxBytes
        : type === T_OVERLAY
          ? Math.max(this.maxLine, this.maxBytes + OVERLAY_GOSSIP_OVERHEAD)
          : this.maxLine;
    if (bodyLength > limit) {
      throw new CodecError(
        'ERR_FRAME_TOO_LARGE',
        `${name} frame body of ${bodyLength} bytes exceeds ${limit}`,
      );
    }
    if (bodyLength < MIN_BODY[type]! || bodyLength > MAX_BODY[type]!) {
      malformed(`${name} frame body of ${bodyLength} bytes`);
    }
  }

  private beginBody(type: number, bodyLength: number, buf: Buffer, pos: number, frames: Frame[]): number {
    this.type = type;
    // allocUnsafe: every byte is overwritten before the body is decoded, and large buffers are
    // committed page by page by the OS only as data actually arrives.
    this.body = Buffer.allocUnsafe(bodyLength);
    this.bodyFilled = 0;
    return this.fillBody(buf, pos, frames);
  }

  private fillBody(buf: Buffer, pos: number, frames: Frame[]): number {
    const body = this.body!;
    const n = Math.min(body.length - this.bodyFilled, buf.length - pos);
    buf.copy(body, this.bodyFilled, pos, pos + n);
    this.bodyFilled += n;
    if (this.bodyFilled === body.length) {
      this.body = null;
      this.bodyFilled = 0;
      frames.push(decodeBody(this.type, body, 0, body.length, this.maxPeers, this.maxLine));
    }
    return pos + n;
  }
}

/**
 * Encoder for the native protocol. It checks every frame by the same rules the decoder enforces,
 * so it never emits bytes a conforming peer would refuse: `ERR_INVALID_ARGUMENT` for content the
 * format cannot carry, `ERR_FRAME_TOO_LARGE` for a limit, `ERR_TOO_MANY_ENTRIES` for a peers list
 * longer than `maxPeersPerFrame`.
 *
 * Strings are written as UTF-8; a lone UTF-16 surrogate becomes U+FFFD, as with `TextEncoder`.
 */
export class NativeEncoder implements FrameEncoder {
  private readonly maxBytes: number;
  private readonly maxLine: number;
  private readonly maxPeers: number;

  /** @param limits - the limits the peer's decoder enforces; defaults to {@link DEFAULT_CODEC_LIMITS}. */
  constructor(limits: CodecLimits = DEFAULT_CODEC_LIMITS) {
    this.maxBytes = limits.maxBytesPerMessage;
    this.maxLine = limits.maxLineBytes;
    this.maxPeers = Math.min(limits.maxPeersPerFrame, 0xffff);
  }

  /**
   * Encodes one frame. BYTES frames become `[5-byte header, payload]`, where the payload is the
   * caller's memory (not copied: do not modify it until written) and is omitted when empty; every
   * other frame is a single buffer. A `listen` frame (compat only) throws `ERR_INVALID_ARGUMENT`.
   */
  encode(frame: Frame): Buffer[] {
    switch (frame.type) {
      case 'bytes':
        return this.encodeBytes(frame.data);
      case 'chat': {
        if (typeof frame.text !== 'string') invalid('chat text must be a string');
        const length = Buffer.byteLength(frame.text, 'utf8');
        const buf = this.alloc(T_CHAT, length, 'chat');
        buf.write(frame.text, NATIVE_HEADER_BYTES, length, 'utf8');
        return [buf];
      }
      case 'ping':
      case 'pong': {
        const nonce = frame.nonce;
        if (typeof nonce !== 'bigint' || nonce < 0n || nonce > MAX_U64)
          invalid(`${frame.type} nonce must be a u64 bigint`);
        const buf = this.alloc(frame.type === 'ping' ? T_PING : T_PONG, 8, frame.type);
        buf.writeBigUInt64BE(nonce, NATIVE_HEADER_BYTES);
        return [buf];
      }
      case 'request-peers':
        return [this.alloc(T_REQUEST_PEERS, 0, 'request-peers')];
      case 'reject': {
        const code = Object.hasOwn(REJECT_CODES, frame.reason) ? REJECT_CODES[frame.reason] : undefined;
        if (code === undefined) invalid(`unknown reject reason ${JSON.stringify(frame.reason)}`);
        const buf = this.alloc(T_REJECT, 1, 'reject');
        buf[NATIVE_HEADER_BYTES] = code;
        return [buf];
      }
      case 'hello':
        return [this.encodeHello(frame)];
      case 'peers':
        return [this.encodePeers(frame.peers)];
      case 'auth': {
        const proof = frame.proof;
        if (!(proof instanceof Uint8Array)) invalid('auth proof must be a Uint8Array');
        if (proof.length < MIN_AUTH_PROOF_BYTES || proof.length > MAX_AUTH_PROOF_BYTES) {
          invalid(
            `auth proof of ${proof.length} bytes (must be ${MIN_AUTH_PROOF_BYTES}..${MAX_AUTH_PROOF_BYTES})`,
          );
        }
        const buf = this.alloc(T_AUTH, 1 + proof.length, 'auth');
        buf[NATIVE_HEADER_BYTES] = proof.length;
        buf.set(proof, NATIVE_HEADER_BYTES + 1);
        return [buf];
      }
      case 'pake': {
        const share = frame.share;
        if (!(share instanceof Uint8Array)) invalid('pake share must be a Uint8Array');
        if (share.length !== PAKE_SHARE_BYTES) {
          invalid(`pake share of ${share.length} bytes (must be ${PAKE_SHARE_BYTES})`);
        }
        const buf = this.alloc(T_PAKE, PAKE_SHARE_BYTES, 'pake');
        buf.set(share, NATIVE_HEADER_BYTES);
        return [buf];
      }
      case 'goodbye': {
        if (typeof frame.reason !== 'string') invalid('goodbye reason must be a string');
        const length = Buffer.byteLength(frame.reason, 'utf8');
        if (length > MAX_GOODBYE_REASON_BYTES)
          invalid(`goodbye reason longer than ${MAX_GOODBYE_REASON_BYTES} bytes`);
        const buf = this.alloc(T_GOODBYE, 2 + length, 'goodbye');
        writeString(buf, NATIVE_HEADER_BYTES, frame.reason, length);
        return [buf];
      }
      case 'overlay':
        return [this.encodeOverlay(frame.body)];
      case 'listen':
        return invalid('listen frames exist only in the compat protocol');
      default:
        return invalid(`unknown frame type ${JSON.stringify((frame as { type: unknown }).type)}`);
    }
  }

  private encodeBytes(data: Uint8Array): Buffer[] {
    if (!(data instanceof Uint8Array)) invalid('bytes data must be a Uint8Array');
    if (data.length > this.maxBytes) {
      throw new CodecError(
        'ERR_FRAME_TOO_LARGE',
        `bytes payload of ${data.length} bytes exceeds ${this.maxBytes}`,
      );
    }
    const header = Buffer.allocUnsafe(NATIVE_HEADER_BYTES);
    header.writeUInt32BE(data.length + 1, 0);
    header[4] = T_BYTES;
    if (data.length === 0) return [header];
    return [header, asBuffer(data)];
  }

  private encodeHello(frame: HelloFrame): Buffer {
    const { id, name, listen, features, version } = frame;
    if (!Number.isInteger(version) || version < 0 || version > 0xff) invalid('hello version must be a u8');
    if (typeof id !== 'string' || !ID_PATTERN.test(id)) invalid(`invalid peer ID ${JSON.stringify(id)}`);
    if (typeof name !== 'string' || !isValidDisplayName(name)) {
      invalid(`invalid name: at most ${MAX_NAME_BYTES} bytes, no control characters`);
    }
    if (!Array.isArray(listen) || listen.length > MAX_LISTEN_ADDRESSES) {
      invalid(`hello carries at most ${MAX_LISTEN_ADDRESSES} listen addresses`);
    }
    if (!Array.isArray(features) || features.length > MAX_FEATURES) {
      invalid(`hello carries at most ${MAX_FEATURES} features`);
    }
    const nameLength = Buffer.byteLength(name, 'utf8');
    // Addresses and features are ASCII once validated, so their length is their byte length.
    let size = 1 + 2 + id.length + 2 + nameLength + 1 + 1;
    for (const address of listen) {
      if (typeof address !== 'string' || tryParseAddress(address) === undefined) {
        invalid(`invalid listen address ${JSON.stringify(address)}`);
      }
      size += 2 + address.length;
    }
    for (const feature of features) {
      if (typeof feature !== 'string' || !FEATURE_PATTERN.test(feature)) {
        invalid(`invalid feature ${JSON.stringify(feature)}`);
      }
      size += 2 + feature.length;
    }
    const buf = this.alloc(T_HELLO, size, 'hello');
    let pos = NATIVE_HEADER_BYTES;
    buf[pos++] = version;
    pos = writeString(buf, pos, id, id.length);
    pos = writeString(buf, pos, name, nameLength);
    buf[pos++] = listen.length;
    for (const address of listen) pos = writeString(buf, pos, address, address.length);
    buf[pos++] = features.length;
    for (const feature of features) pos = writeString(buf, pos, feature, feature.length);
    return buf;
  }

  private encodePeers(peers: readonly PeerAddress[]): Buffer {
    if (!Array.isArray(peers)) invalid('peers must be an array');
    if (peers.length > this.maxPeers) {
      throw new CodecError(
        'ERR_TOO_MANY_ENTRIES',
        `peers frame with ${peers.length} entries (limit ${this.maxPeers})`,
      );
    }
    let size = 2;
    for (const peer of peers) {
      if (typeof peer !== 'object' || peer === null) invalid('peers entries must be objects');
      const { address, id } = peer;
      if (typeof address !== 'string' || tryParseAddress(address) === undefined) {
        invalid(`invalid peer address ${JSON.stringify(address)}`);
      }
      if (id !== undefined && (typeof id !== 'string' || !ID_PATTERN.test(id))) {
        invalid(`invalid peer ID ${JSON.stringify(id)}`);
      }
      size += 2 + address.length + 1 + (id?.length ?? 0);
    }
    const buf = this.alloc(T_PEERS, size, 'peers');
    let pos = NATIVE_HEADER_BYTES;
    buf.writeUInt16BE(peers.length, pos);
    pos += 2;
    for (const { address, id } of peers) {
      pos = writeString(buf, pos, address, address.length);
      if (id === undefined) {
        buf[pos++] = 0;
      } else {
        buf[pos++] = id.length;
        pos += buf.write(id, pos, id.length, 'latin1');
      }
    }
    return buf;
  }

  /** An overlay frame: body 1 .. maxLineBytes, or .. maxBytesPerMessage + overhead for a gossip (O1). */
  private encodeOverlay(body: Uint8Array): Buffer {
    if (!(body instanceof Uint8Array) || body.length === 0)
      invalid('overlay body must be a non-empty Uint8Array');
    const limit =
      body[0] === OVERLAY_GOSSIP
        ? Math.max(this.maxLine, this.maxBytes + OVERLAY_GOSSIP_OVERHEAD)
        : this.maxLine;
    if (body.length > limit) {
      throw new CodecError(
        'ERR_FRAME_TOO_LARGE',
        `overlay frame body of ${body.length} bytes exceeds ${limit}`,
      );
    }
    const buf = Buffer.allocUnsafe(NATIVE_HEADER_BYTES + body.length);
    buf.writeUInt32BE(body.length + 1, 0);
    buf[4] = T_OVERLAY;
    buf.set(body, NATIVE_HEADER_BYTES);
    return buf;
  }

  /** A buffer for a whole non-BYTES frame with its header written; checks `maxLineBytes` first. */
  private alloc(type: number, bodyLength: number, name: string): Buffer {
    if (bodyLength > this.maxLine) {
      throw new CodecError(
        'ERR_FRAME_TOO_LARGE',
        `${name} frame body of ${bodyLength} bytes exceeds ${this.maxLine}`,
      );
    }
    const buf = Buffer.allocUnsafe(NATIVE_HEADER_BYTES + bodyLength);
    buf.writeUInt32BE(bodyLength + 1, 0);
    buf[4] = type;
    return buf;
  }
}

/** Writes a u16 length and the UTF-8 bytes of `text` (`byteLength` precomputed); returns the end. */
function writeString(buf: Buffer, pos: number, text: string, byteLength: number): number {
  buf.writeUInt16BE(byteLength, pos);
  buf.write(text, pos + 2, byteLength, 'utf8');
  return pos + 2 + byteLength;
}
