/**
 * A signed file offer: "the node with this Ed25519 key offers the file named N, S bytes, with
 * Merkle root R and piece length P". Any peer can forward it unchanged (it is what a source
 * answers to "want"), and every receiver checks the signature, so a forwarding peer can neither
 * rename the file nor claim another's. The signer's peer ID is derived from the key in the offer
 * exactly as node IDs are (`peerIdFromPublicKey`).
 *
 * ```
 * u8 version (1) | root[32] | u64 size | u8 log2(pieceLength) | u16 nameLength | name (UTF-8)
 * | u64 createdAt (ms since the epoch) | publicKey[32] | signature[64]
 * ```
 * The signature is Ed25519 over `"meshwire-file-offer-v1\0"` followed by every byte before it.
 */
import { createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { MeshwireError } from '../../errors.js';
import { peerIdFromPublicKey, rawEd25519PublicKey } from '../../secure/identity.js';
import { sanitizeFileName } from '../names.js';
import { HASH_BYTES, isValidPieceLength } from './merkle.js';

const VERSION = 1;
const CONTEXT = Buffer.from('meshwire-file-offer-v1\0', 'latin1');
const KEY_BYTES = 32;
const SIG_BYTES = 64;
/** Longest offer body accepted (the name is at most 255 bytes). */
export const MAX_OFFER_BYTES = 1 + HASH_BYTES + 8 + 1 + 2 + 255 + 8 + KEY_BYTES + SIG_BYTES;

/**
 * What signs offers: the node's Ed25519 identity key. The node does not expose its private key;
 * give the file module this narrow interface instead (see {@link signerFromPrivateKey}).
 */
export interface Signer {
  /** The raw 32-byte Ed25519 public key; its peer ID is the offerer's ID. */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature (64 bytes) of `data`. */
  sign(data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** A {@link Signer} over an Ed25519 private key object (for example the node's identity key). */
export function signerFromPrivateKey(privateKey: KeyObject): Signer {
  const publicKey = rawEd25519PublicKey(privateKey);
  return { publicKey, sign: (data) => edSign(null, data, privateKey) };
}

/** A verified offer. */
export interface FileOffer {
  /** Merkle root (32 bytes) identifying the content. */
  root: Buffer;
  /** `root` as 64 lowercase hex characters. */
  rootHex: string;
  /** File size in bytes. */
  size: number;
  /** Piece length in bytes (a power of two, 16 KiB .. 8 MiB). */
  pieceLength: number;
  /** The name the offerer gave the file (a sanitized base name). */
  name: string;
  /** When the offer was signed, ms since the epoch (as the offerer's clock says). */
  createdAt: number;
  /** Peer ID of the node that signed the offer. */
  offeredBy: string;
  /** The signed encoding, forwarded unchanged. */
  body: Buffer;
}

function invalid(message: string): MeshwireError {
  return new MeshwireError('ERR_FILE_PROTOCOL', `file offer: ${message}`);
}

/** Signs and encodes an offer. Throws `ERR_FILE_NAME` / `ERR_INVALID_ARGUMENT` for bad fields. */
export async function createOffer(
  signer: Signer,
  fields: { root: Uint8Array; size: number; pieceLength: number; name: string; createdAt?: number },
): Promise<FileOffer> {
  const { root, size, pieceLength, name } = fields;
  const createdAt = fields.createdAt ?? Date.now();
  sanitizeFileName(name);
  if (root.length !== HASH_BYTES) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'root must be 32 bytes');
  if (!Number.isSafeInteger(size) || size < 0) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'bad size');
  if (!isValidPieceLength(pieceLength)) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'bad piece length');
  if (signer.publicKey.length !== KEY_BYTES)
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'bad signer key');
  const nameBytes = Buffer.from(name, 'utf8');
  const unsigned = Buffer.alloc(1 + HASH_BYTES + 8 + 1 + 2 + nameBytes.length + 8 + KEY_BYTES);
  let off = 0;
  unsigned[off++] = VERSION;
  unsigned.set(root, off);
  off += HASH_BYTES;
  unsigned.writeBigUInt64BE(BigInt(size), off);
  off += 8;
  unsigned[off++] = Math.log2(pieceLength);
  unsigned.writeUInt16BE(nameBytes.length, off);
  off += 2;
  nameBytes.copy(unsigned, off);
  off += nameBytes.length;
  unsigned.writeBigUInt64BE(BigInt(createdAt), off);
  off += 8;
  unsigned.set(signer.publicKey, off);
  const signature = await signer.sign(Buffer.concat([CONTEXT, unsigned]));
  if (signature.length !== SIG_BYTES)
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'signature must be 64 bytes');
  return parseOffer(Buffer.concat([unsigned, signature]));
}

/**
 * Decodes and verifies an offer body. Throws `ERR_FILE_PROTOCOL` when it is malformed or its
 * signature does not verify, `ERR_FILE_NAME` when its name is unsafe.
 */
export function parseOffer(body: Uint8Array): FileOffer {
  if (body.length > MAX_OFFER_BYTES) throw invalid(`${body.length} bytes, more than ${MAX_OFFER_BYTES}`);
  const buf = Buffer.from(body);
  const fixed = 1 + HASH_BYTES + 8 + 1 + 2;
  if (buf.length < fixed) throw invalid('truncated');
  let off = 0;
  if (buf[off++] !== VERSION) throw invalid(`version ${buf[0]} is unknown`);
  const root = buf.subarray(off, off + HASH_BYTES);
  off += HASH_BYTES;
  const size = buf.readBigUInt64BE(off);
  off += 8;
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid('size too large');
  const log2 = buf[off++]!;
  const pieceLength = 2 ** log2;
  if (log2 > 30 || !isValidPieceLength(pieceLength)) throw invalid(`piece length 2^${log2} out of range`);
  const nameLength = buf.readUInt16BE(off);
  off += 2;
  if (buf.length !== off + nameLength + 8 + KEY_BYTES + SIG_BYTES)
    throw invalid('length does not match its fields');
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(off, off + nameLength));
  } catch {
    throw invalid('name is not UTF-8');
  }
  sanitizeFileName(name);
  off += nameLength;
  const createdAt = Number(buf.readBigUInt64BE(off));
  off += 8;
  const publicKey = buf.subarray(off, off + KEY_BYTES);
  off += KEY_BYTES;
  const signature = buf.subarray(off, off + SIG_BYTES);
  let key: KeyObject;
  try {
    key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
      format: 'jwk',
    });
  } catch {
    throw invalid('public key is not an Ed25519 key');
  }
  const signed = Buffer.concat([CONTEXT, buf.subarray(0, buf.length - SIG_BYTES)]);
  if (!edVerify(null, signed, key, signature)) throw invalid('signature does not verify');
  return {
    root: Buffer.from(root),
    rootHex: root.toString('hex'),
    size: Number(size),
    pieceLength,
    name,
    createdAt,
    offeredBy: peerIdFromPublicKey(publicKey),
    body: buf,
  };
}
