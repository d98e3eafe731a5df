/**
 * The piece protocol's frames (secure mode), each carried as one BYTES payload that starts with
 * the 4-byte magic `MWF1` and a type byte. Pure encode / parse, no I/O; every length and count is
 * checked against the payload before use.
 *
 * ```
 * offer     01  offer body (see offer.ts): signed root, size, piece length, name
 * want      02  root[32]                      "do you have this file?"  -> offer or nope
 * get-layer 03  root[32]                      -> layer
 * layer     04  root[32] hashes[32 × pieces]  the piece layer
 * request   05  root[32] u32 index            -> piece or nope
 * piece     06  root[32] u32 index data       the piece's bytes
 * nope      07  root[32] u32 index u8 reason  index 0xffffffff = the whole file
 * have      08  offer body                    "I hold this file" (announce; no request to fetch)
 * ```
 */
import { MeshwireError } from '../../errors.js';
import { HASH_BYTES } from './merkle.js';

/** First bytes of every piece-protocol payload. */
export const PIECE_MAGIC = Buffer.from('MWF1', 'latin1');
/** Index meaning "the whole file" in a nope frame. */
export const WHOLE_FILE = 0xffffffff;
/** Bytes before a piece's data: magic, type, root, index. */
export const PIECE_HEADER_BYTES = PIECE_MAGIC.length + 1 + HASH_BYTES + 4;

/** Frame type bytes. */
export const PieceType = {
  offer: 0x01,
  want: 0x02,
  getLayer: 0x03,
  layer: 0x04,
  request: 0x05,
  piece: 0x06,
  nope: 0x07,
  have: 0x08,
} as const;

/** Why a source answers nope. */
export const NopeReason = {
  /** It does not have this file (or this piece). */
  unknown: 1,
  /** Too many requests from this peer in flight; ask again later or elsewhere. */
  busy: 2,
  /** It will not serve this peer. */
  refused: 3,
  /** Reading its copy failed. */
  io: 4,
} as const;
export type NopeReasonCode = (typeof NopeReason)[keyof typeof NopeReason];
const NOPE_REASONS = new Set<number>(Object.values(NopeReason));

export type PieceFrame =
  | { type: 'offer'; body: Uint8Array }
  | { type: 'have'; body: Uint8Array }
  | { type: 'want'; root: Buffer }
  | { type: 'get-layer'; root: Buffer }
  | { type: 'layer'; root: Buffer; layer: Buffer }
  | { type: 'request'; root: Buffer; index: number }
  | { type: 'piece'; root: Buffer; index: number; data: Uint8Array }
  | { type: 'nope'; root: Buffer; index: number; reason: NopeReasonCode };

function malformed(message: string): MeshwireError {
  return new MeshwireError('ERR_FILE_PROTOCOL', message);
}

/** Whether `data` is a piece-protocol payload (starts with the magic). */
export function isPieceFrame(data: Uint8Array): boolean {
  if (data.length < PIECE_MAGIC.length) return false;
  for (let i = 0; i < PIECE_MAGIC.length; i++) if (data[i] !== PIECE_MAGIC[i]) return false;
  return true;
}

function header(type: number, root: Uint8Array, extra: number): Buffer {
  if (root.length !== HASH_BYTES) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'root must be 32 bytes');
  const buf = Buffer.allocUnsafe(PIECE_MAGIC.length + 1 + HASH_BYTES + extra);
  PIECE_MAGIC.copy(buf, 0);
  buf[PIECE_MAGIC.length] = type;
  buf.set(root, PIECE_MAGIC.length + 1);
  return buf;
}

const BODY = PIECE_MAGIC.length + 1;
const AFTER_ROOT = BODY + HASH_BYTES;

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0 || index > WHOLE_FILE) {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `piece index ${index} is not a u32`);
  }
}

/** Builds an offer frame (or, with `have`, an announce) around an encoded offer body. */
export function encodeOfferFrame(body: Uint8Array, have = false): Buffer {
  const buf = Buffer.allocUnsafe(BODY + body.length);
  PIECE_MAGIC.copy(buf, 0);
  buf[PIECE_MAGIC.length] = have ? PieceType.have : PieceType.offer;
  buf.set(body, BODY);
  return buf;
}

export function encodeWant(root: Uint8Array): Buffer {
  return header(PieceType.want, root, 0);
}

export function encodeGetLayer(root: Uint8Array): Buffer {
  return header(PieceType.getLayer, root, 0);
}

export function encodeLayer(root: Uint8Array, hashes: readonly Uint8Array[]): Buffer {
  const buf = header(PieceType.layer, root, hashes.length * HASH_BYTES);
  hashes.forEach((h, i) => buf.set(h, AFTER_ROOT + i * HASH_BYTES));
  return buf;
}

export function encodeRequest(root: Uint8Array, index: number): Buffer {
  checkIndex(index);
  const buf = header(PieceType.request, root, 4);
  buf.writeUInt32BE(index, AFTER_ROOT);
  return buf;
}

/**
 * A piece frame with room for `length` data bytes after the header, so a source can read the
 * file straight into it. Fill `buf.subarray(PIECE_HEADER_BYTES)`.
 */
export function allocPiece(root: Uint8Array, index: number, length: number): Buffer {
  checkIndex(index);
  const buf = header(PieceType.piece, root, 4 + length);
  buf.writeUInt32BE(index, AFTER_ROOT);
  return buf;
}

export function encodePiece(root: Uint8Array, index: number, data: Uint8Array): Buffer {
  const buf = allocPiece(root, index, data.length);
  buf.set(data, PIECE_HEADER_BYTES);
  return buf;
}

export function encodeNope(root: Uint8Array, index: number, reason: NopeReasonCode): Buffer {
  checkIndex(index);
  const buf = header(PieceType.nope, root, 5);
  buf.writeUInt32BE(index, AFTER_ROOT);
  buf[AFTER_ROOT + 4] = reason;
  return buf;
}

/**
 * Parses a piece-protocol payload. Returns `null` when `data` does not start with the magic
 * (another protocol's BYTES); throws `ERR_FILE_PROTOCOL` when it does but is malformed. The
 * returned `root`, `hashes` and `data` are views into `data`, not copies.
 */
export function parsePieceFrame(data: Uint8Array): PieceFrame | null {
  if (!isPieceFrame(data)) return null;
  if (data.length < BODY) throw malformed('piece frame without a type');
  const type = data[PIECE_MAGIC.length];
  const buf = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (type === PieceType.offer) return { type: 'offer', body: buf.subarray(BODY) };
  if (type === PieceType.have) return { type: 'have', body: buf.subarray(BODY) };
  if (buf.length < AFTER_ROOT) throw malformed(`piece frame type ${type} shorter than its root`);
  const root = buf.subarray(BODY, AFTER_ROOT);
  const rest = buf.length - AFTER_ROOT;
  switch (type) {
    case PieceType.want:
    case PieceType.getLayer:
      if (rest !== 0) throw malformed('want / get-layer frame has trailing bytes');
      return { type: type === PieceType.want ? 'want' : 'get-layer', root };
    case PieceType.layer: {
      // Kept as one view: splitting it into hashes is left to whoever checked its length, so a
      // 16 MiB layer nobody asked for costs no 500,000 objects.
      if (rest === 0 || rest % HASH_BYTES !== 0)
        throw malformed('layer frame is not a list of 32-byte hashes');
      return { type: 'layer', root, layer: buf.subarray(AFTER_ROOT) };
    }
    case PieceType.request:
      if (rest !== 4) throw malformed('request frame must be root + u32 index');
      return { type: 'request', root, index: buf.readUInt32BE(AFTER_ROOT) };
    case PieceType.piece:
      if (rest < 4) throw malformed('piece frame without an index');
      return {
        type: 'piece',
        root,
        index: buf.readUInt32BE(AFTER_ROOT),
        data: buf.subarray(PIECE_HEADER_BYTES),
      };
    case PieceType.nope: {
      if (rest !== 5) throw malformed('nope frame must be root + u32 index + u8 reason');
      const reason = buf[AFTER_ROOT + 4]!;
      if (!NOPE_REASONS.has(reason)) throw malformed(`nope reason ${reason} is unknown`);
      return { type: 'nope', root, index: buf.readUInt32BE(AFTER_ROOT), reason: reason as NopeReasonCode };
    }
    default:
      throw malformed(`piece frame type ${type} is unknown`);
  }
}
