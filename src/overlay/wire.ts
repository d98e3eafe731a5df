/**
 * The overlay's wire codec: the body of one overlay message (PROTOCOL.md, "Overlay messages",
 * rules O1 to O10). Pure and bounded: every count is checked against its limit before anything
 * is parsed, every body is consumed exactly, and IDs and addresses are validated.
 *
 * The native protocol carries one such body per frame (the lead wires the frame type); this
 * module neither knows nor needs the outer frame header.
 */
import { tryParseAddress } from '../address.js';
import { CodecError, MeshwireError } from '../errors.js';
import type { SketchEntry } from './size-estimate.js';
import type { IHaveEntry, MessageId, OverlayMessage, PeerInfo, SignedFields } from './types.js';

/** Most entries in one IHAVE. */
export const MAX_IHAVE_ENTRIES = 1024;
/** Most IDs in one GRAFT. */
export const MAX_GRAFT_IDS = 256;
/** Most peers in one SHUFFLE or SHUFFLE_REPLY. */
export const MAX_SHUFFLE_PEERS = 256;
/** Most entries in the size sketch of a SHUFFLE or SHUFFLE_REPLY (k ≤ 256, plus the sender's own). */
export const MAX_SKETCH_ENTRIES = 257;
/** Longest signature, in bytes (Ed25519 public key + signature is 96). */
export const MAX_SIGNATURE_BYTES = 255;
/** Longest peer ID, in characters (as PROTOCOL.md rule 11). */
export const MAX_OVERLAY_ID_LENGTH = 128;
/** Longest address, in bytes (as PROTOCOL.md rule 11). */
export const MAX_OVERLAY_ADDRESS_BYTES = 300;
/** Default bound on a broadcast payload, in bytes (the native `maxLineBytes` default). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 256 * 1024;
/** Domain separation prefix of the signed bytes (rule O9). */
export const SIGNING_CONTEXT = 'meshwire-overlay-v1';

/** Message type codes (rule O2). */
export const OVERLAY_TYPE_CODES = {
  join: 0x01,
  'forward-join': 0x02,
  neighbor: 0x03,
  disconnect: 0x04,
  shuffle: 0x05,
  'shuffle-reply': 0x06,
  gossip: 0x10,
  ihave: 0x11,
  graft: 0x12,
  prune: 0x13,
} as const;

const ID_RE = /^[A-Za-z0-9._-]{1,128}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();
/** SIGNING_CONTEXT as bytes, encoded once (signedBytes runs for every signature and check). */
const CONTEXT_BYTES = encoder.encode(SIGNING_CONTEXT);

function malformed(message: string): never {
  throw new CodecError('ERR_MALFORMED_FRAME', `overlay: ${message}`);
}

class Writer {
  #buf = new Uint8Array(64);
  #view = new DataView(this.#buf.buffer);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.#room(1);
    this.#view.setUint8(this.#len++, v);
  }
  u16(v: number): void {
    this.#room(2);
    this.#view.setUint16(this.#len, v);
    this.#len += 2;
  }
  u32(v: number): void {
    this.#room(4);
    this.#view.setUint32(this.#len, v);
    this.#len += 4;
  }
  u64(v: number): void {
    this.#room(8);
    this.#view.setUint32(this.#len, Math.floor(v / 2 ** 32));
    this.#view.setUint32(this.#len + 4, v >>> 0);
    this.#len += 8;
  }
  bytes(b: Uint8Array): void {
    this.#room(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }
  /** An ASCII string (checked by the caller), one byte per character, without a TextEncoder copy. */
  ascii(v: string): void {
    this.#room(v.length);
    for (let i = 0; i < v.length; i++) this.#buf[this.#len + i] = v.charCodeAt(i);
    this.#len += v.length;
  }
  done(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }
}

class Reader {
  #pos = 0;
  readonly #view: DataView;
  constructor(readonly buf: Uint8Array) {
    this.#view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  #need(n: number): void {
    if (this.#pos + n > this.buf.length) malformed('field runs past the end of the body');
  }
  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.#pos++);
  }
  u16(): number {
    this.#need(2);
    const v = this.#view.getUint16(this.#pos);
    this.#pos += 2;
    return v;
  }
  u32(): number {
    this.#need(4);
    const v = this.#view.getUint32(this.#pos);
    this.#pos += 4;
    return v;
  }
  u64(): number {
    this.#need(8);
    const hi = this.#view.getUint32(this.#pos);
    const lo = this.#view.getUint32(this.#pos + 4);
    this.#pos += 8;
    if (hi >= 2 ** 21) malformed('u64 above 2^53 - 1');
    return hi * 2 ** 32 + lo;
  }
  bytes(n: number): Uint8Array {
    this.#need(n);
    const b = this.buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return b;
  }
  remaining(): number {
    return this.buf.length - this.#pos;
  }
  rest(): Uint8Array {
    return this.bytes(this.buf.length - this.#pos);
  }
  end(): void {
    if (this.#pos !== this.buf.length) malformed('bytes left after the last field');
  }
}

function checkId(id: string): void {
  if (!ID_RE.test(id)) throw new MeshwireError('ERR_INVALID_ARGUMENT', `overlay: invalid peer ID ${id}`);
}

function writeId(w: Writer, id: string): void {
  checkId(id);
  w.u8(id.length);
  w.ascii(id);
}

function readId(r: Reader): string {
  const n = r.u8();
  if (n < 1 || n > MAX_OVERLAY_ID_LENGTH) malformed('peer ID length out of range');
  const b = r.bytes(n);
  // Indexed loop and concatenation: 4x cheaper than `for...of` and `fromCharCode(...b)` (a
  // sender ID is read once per IHAVE entry, several per delivery).
  let id = '';
  for (let i = 0; i < n; i++) {
    const c = b[i]!;
    if (!isIdByte(c)) malformed('invalid peer ID character');
    id += String.fromCharCode(c);
  }
  return id;
}

function isIdByte(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2e ||
    c === 0x5f ||
    c === 0x2d
  );
}

function writeAddress(w: Writer, address: string): void {
  const b = encoder.encode(address);
  if (b.length > MAX_OVERLAY_ADDRESS_BYTES || (address !== '' && !tryParseAddress(address))) {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `overlay: invalid address ${address}`);
  }
  w.u16(b.length);
  w.bytes(b);
}

function readAddress(r: Reader): string {
  const n = r.u16();
  if (n > MAX_OVERLAY_ADDRESS_BYTES) malformed('address too long');
  let text: string;
  try {
    text = utf8.decode(r.bytes(n));
  } catch {
    return malformed('address is not UTF-8');
  }
  if (text !== '' && !tryParseAddress(text)) malformed('invalid address');
  return text;
}

function writePeer(w: Writer, p: PeerInfo): void {
  writeId(w, p.id);
  writeAddress(w, p.address);
}

function readPeer(r: Reader): PeerInfo {
  return { id: readId(r), address: readAddress(r) };
}

function writePeers(w: Writer, peers: readonly PeerInfo[]): void {
  if (peers.length > MAX_SHUFFLE_PEERS)
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'overlay: too many peers');
  w.u16(peers.length);
  for (const p of peers) writePeer(w, p);
}

function readPeers(r: Reader): PeerInfo[] {
  const n = r.u16();
  if (n > MAX_SHUFFLE_PEERS) throw new CodecError('ERR_TOO_MANY_ENTRIES', `overlay: ${n} peers`);
  const peers: PeerInfo[] = [];
  for (let i = 0; i < n; i++) peers.push(readPeer(r));
  return peers;
}

/** The optional size sketch after a shuffle's peers (rule O10): absent = no trailing bytes. */
function writeSketch(w: Writer, sketch: readonly SketchEntry[] | undefined): void {
  if (!sketch) return;
  if (sketch.length > MAX_SKETCH_ENTRIES) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'overlay: sketch');
  w.u16(sketch.length);
  for (const e of sketch) {
    if (!Number.isInteger(e.hash) || e.hash < 0 || e.hash > 0xffffffff || !Number.isInteger(e.age)) {
      throw new MeshwireError('ERR_INVALID_ARGUMENT', 'overlay: sketch entry');
    }
    w.u32(e.hash);
    w.u16(Math.min(0xffff, Math.max(0, e.age)));
  }
}

function readSketch(r: Reader): SketchEntry[] | undefined {
  if (r.remaining() === 0) return undefined;
  const n = r.u16();
  if (n > MAX_SKETCH_ENTRIES) throw new CodecError('ERR_TOO_MANY_ENTRIES', `overlay: ${n} sketch entries`);
  const sketch: SketchEntry[] = [];
  for (let i = 0; i < n; i++) sketch.push({ hash: r.u32(), age: r.u16() });
  return sketch;
}

function writeMessageId(w: Writer, id: MessageId, allowZero = false): void {
  if (
    !Number.isSafeInteger(id.epoch) ||
    id.epoch < 0 ||
    !Number.isInteger(id.seq) ||
    id.seq < (allowZero ? 0 : 1) ||
    id.seq > 0xffffffff
  ) {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'overlay: invalid message ID');
  }
  writeId(w, id.sender);
  w.u64(id.epoch);
  w.u32(id.seq);
}

function readMessageId(r: Reader, allowZero = false): MessageId {
  const sender = readId(r);
  const epoch = r.u64();
  const seq = r.u32();
  if (seq === 0 && !allowZero) malformed('sequence number 0');
  return { sender, epoch, seq };
}

function u32Arg(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `overlay: ${name}`);
  return v;
}

function u8Arg(v: number, name: string): number {
  if (!Number.isInteger(v) || v < 0 || v > 255)
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `overlay: ${name}`);
  return v;
}

/** Encodes one overlay message body. Throws `ERR_INVALID_ARGUMENT` for a value outside the format. */
export function encodeOverlayMessage(m: OverlayMessage): Uint8Array {
  const w = new Writer();
  w.u8(OVERLAY_TYPE_CODES[m.type]);
  switch (m.type) {
    case 'join':
      writeAddress(w, m.address);
      break;
    case 'forward-join':
      w.u8(u8Arg(m.ttl, 'ttl'));
      writePeer(w, m.peer);
      break;
    case 'neighbor':
      w.u8(m.high ? 1 : 0);
      writeAddress(w, m.address);
      break;
    case 'disconnect':
      w.u8(m.alive ? 1 : 0);
      break;
    case 'shuffle':
      w.u8(u8Arg(m.ttl, 'ttl'));
      w.u32(u32Arg(m.walk, 'walk'));
      writePeer(w, m.origin);
      writePeers(w, m.peers);
      writeSketch(w, m.sketch);
      break;
    case 'shuffle-reply':
      w.u32(u32Arg(m.walk, 'walk'));
      writePeers(w, m.peers);
      writeSketch(w, m.sketch);
      break;
    case 'gossip':
      writeMessageId(w, m);
      w.u8(u8Arg(m.hops, 'hops'));
      w.u8(u8Arg(m.kind, 'kind'));
      if (m.signature.length > MAX_SIGNATURE_BYTES)
        throw new MeshwireError('ERR_INVALID_ARGUMENT', 'signature');
      w.u8(m.signature.length);
      w.bytes(m.signature);
      w.bytes(m.payload);
      break;
    case 'ihave':
      if (m.entries.length > MAX_IHAVE_ENTRIES)
        throw new MeshwireError('ERR_INVALID_ARGUMENT', 'IHAVE entries');
      w.u16(m.entries.length);
      for (const e of m.entries) {
        writeMessageId(w, e);
        w.u8(u8Arg(e.hops, 'hops'));
      }
      break;
    case 'graft':
      if (m.ids.length > MAX_GRAFT_IDS) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'GRAFT ids');
      w.u16(m.ids.length);
      for (const id of m.ids) writeMessageId(w, id, true);
      break;
    case 'prune':
      writeId(w, m.sender);
      break;
  }
  return w.done();
}

/** Limits of {@link decodeOverlayMessage}. */
export interface OverlayDecodeLimits {
  /** Longest broadcast payload accepted. @default 262144 */
  maxPayloadBytes?: number;
}

/**
 * Decodes one overlay message body. Throws `CodecError` with `ERR_MALFORMED_FRAME`,
 * `ERR_TOO_MANY_ENTRIES` or `ERR_FRAME_TOO_LARGE`.
 */
export function decodeOverlayMessage(body: Uint8Array, limits: OverlayDecodeLimits = {}): OverlayMessage {
  const r = new Reader(body);
  const code = r.u8();
  let m: OverlayMessage;
  switch (code) {
    case 0x01:
      m = { type: 'join', address: readAddress(r) };
      break;
    case 0x02: {
      const ttl = r.u8();
      m = { type: 'forward-join', ttl, peer: readPeer(r) };
      break;
    }
    case 0x03: {
      const flags = r.u8();
      if (flags > 1) malformed('unknown NEIGHBOR flags');
      m = { type: 'neighbor', high: flags === 1, address: readAddress(r) };
      break;
    }
    case 0x04: {
      const flags = r.u8();
      if (flags > 1) malformed('unknown DISCONNECT flags');
      m = { type: 'disconnect', alive: flags === 1 };
      break;
    }
    case 0x05: {
      const ttl = r.u8();
      const walk = r.u32();
      const origin = readPeer(r);
      const peers = readPeers(r);
      const sketch = readSketch(r);
      m = sketch
        ? { type: 'shuffle', walk, ttl, origin, peers, sketch }
        : { type: 'shuffle', walk, ttl, origin, peers };
      break;
    }
    case 0x06: {
      const walk = r.u32();
      const peers = readPeers(r);
      const sketch = readSketch(r);
      m = sketch ? { type: 'shuffle-reply', walk, peers, sketch } : { type: 'shuffle-reply', walk, peers };
      break;
    }
    case 0x10: {
      const id = readMessageId(r);
      const hops = r.u8();
      const kind = r.u8();
      const signature = r.bytes(r.u8());
      const payload = r.rest();
      if (payload.length > (limits.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES)) {
        throw new CodecError('ERR_FRAME_TOO_LARGE', 'overlay: broadcast payload too large');
      }
      m = { type: 'gossip', ...id, hops, kind, signature, payload };
      break;
    }
    case 0x11: {
      const n = r.u16();
      if (n > MAX_IHAVE_ENTRIES) throw new CodecError('ERR_TOO_MANY_ENTRIES', `overlay: ${n} IHAVE entries`);
      const entries: IHaveEntry[] = [];
      for (let i = 0; i < n; i++) entries.push({ ...readMessageId(r), hops: r.u8() });
      m = { type: 'ihave', entries };
      break;
    }
    case 0x12: {
      const n = r.u16();
      if (n > MAX_GRAFT_IDS) throw new CodecError('ERR_TOO_MANY_ENTRIES', `overlay: ${n} GRAFT ids`);
      const ids: MessageId[] = [];
      for (let i = 0; i < n; i++) ids.push(readMessageId(r, true));
      m = { type: 'graft', ids };
      break;
    }
    case 0x13:
      m = { type: 'prune', sender: readId(r) };
      break;
    default:
      return malformed(`unknown overlay message type 0x${code.toString(16).padStart(2, '0')}`);
  }
  r.end();
  return m;
}

/**
 * The bytes a broadcast's signature covers (rule O9): the context string, a zero byte, the
 * message ID as encoded on the wire, the kind byte and the payload. The hop count is not
 * covered: relays increase it.
 */
export function signedBytes(f: SignedFields): Uint8Array {
  const w = new Writer();
  w.bytes(CONTEXT_BYTES);
  w.u8(0);
  writeMessageId(w, f);
  w.u8(u8Arg(f.kind, 'kind'));
  w.bytes(f.payload);
  return w.done();
}
