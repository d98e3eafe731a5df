import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js';

/**
 * CPace, the balanced PAKE of draft-irtf-cfrg-cpace, with the cipher suite CPACE-RISTR255-SHA512
 * (group ristretto255, hash SHA-512), in the initiator-responder setting.
 *
 * Everything about the curve comes from `@noble/curves`: ristretto255 encoding and decoding
 * (RFC 9496), its element derivation (the map from 64 uniform bytes to a group element) and the
 * constant-time scalar multiplication. This file only arranges bytes as the draft says and hashes
 * them with node:crypto; `test/secure-pake.test.ts` checks it against the draft's ristretto255
 * test vectors.
 *
 * Notation as in the draft: PRS is the password-related string (here the scrypt-derived network
 * key), CI the channel identifier, sid the session identifier, A the initiator (the TLS client),
 * B the responder (the TLS server), Ya/Yb their shares, ADa/ADb their associated data.
 */

type Point = InstanceType<typeof ristretto255.Point>;

/** Domain-separation identifier of the ristretto255 group (G.DSI). */
export const CPACE_DSI = Buffer.from('CPaceRistretto255', 'latin1');

/** Length of an encoded ristretto255 element (a share), in bytes. */
export const CPACE_SHARE_BYTES = 32;

/** Length of the intermediate session key and of a confirmation tag (SHA-512 / HMAC-SHA512). */
export const CPACE_ISK_BYTES = 64;

/** Input block size of SHA-512 (H.s_in_bytes), which sizes the zero padding after PRS. */
const SHA512_BLOCK_BYTES = 128;

/** `G.group_size_bits`: scalars are sampled as 252-bit little-endian integers (draft, ristretto255 group). */
const SCALAR_TOP_BYTE_MASK = 0x0f;

const DSI_ISK = Buffer.concat([CPACE_DSI, Buffer.from('_ISK', 'latin1')]);
const MAC_LABEL = Buffer.from('CPaceMac', 'latin1');

/** LEB128 encoding of a length (the draft's `prepend_len` prefix). */
export function leb128(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bad length ${length}`);
  const out: number[] = [];
  let value = length;
  do {
    const low = value % 128;
    value = Math.floor(value / 128);
    out.push(value > 0 ? low | 0x80 : low);
  } while (value > 0);
  return Buffer.from(out);
}

/** `prepend_len(data)`: the LEB128 length of `data`, then `data`. */
export function prependLen(data: Uint8Array): Buffer {
  return Buffer.concat([leb128(data.length), data]);
}

/** `lv_cat(a0, a1, ...)`: every input with its length prepended, concatenated. */
export function lvCat(...parts: Uint8Array[]): Buffer {
  return Buffer.concat(parts.map(prependLen));
}

/**
 * `generator_string(G.DSI, PRS, CI, sid, H.s_in_bytes)`: `lv_cat(DSI, PRS, zero_bytes(len_zpad),
 * CI, sid)`, the zero padding sized so that DSI, PRS and the padding fill SHA-512's first block.
 */
export function generatorString(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Buffer {
  const zpad = Math.max(0, SHA512_BLOCK_BYTES - 1 - prependLen(prs).length - prependLen(CPACE_DSI).length);
  return lvCat(CPACE_DSI, prs, Buffer.alloc(zpad), ci, sid);
}

/**
 * `G.calculate_generator(H, PRS, CI, sid)`: SHA-512 of the generator string (64 bytes, twice the
 * field size), mapped to a group element by ristretto255's element derivation (RFC 9496 §4.3.4).
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Point {
  const hash = createHash('sha512')
    .update(generatorString(prs, ci, sid))
    .digest();
  const derive = ristretto255_hasher.deriveToCurve;
  // Typed optional in the hasher interface; ristretto255's hasher always has it.
  if (!derive) throw new Error('@noble/curves lacks ristretto255 element derivation');
  return derive(hash);
}

/**
 * `G.sample_scalar()` as the draft recommends for ristretto255: 32 random bytes with the bits
 * above `group_size_bits` (252) cleared, read little-endian. Every such value is below the group
 * order; zero (probability 2^-252) is drawn again, since it would make the share the neutral element.
 */
export function sampleScalar(): bigint {
  for (;;) {
    const bytes = randomBytes(32);
    bytes[31] = (bytes[31] as number) & SCALAR_TOP_BYTE_MASK;
    const scalar = scalarFromBytes(bytes);
    if (scalar !== 0n) return scalar;
  }
}

/** A little-endian 32-byte scalar, as the draft's vectors write `ya` and `yb`. */
export function scalarFromBytes(bytes: Uint8Array): bigint {
  if (bytes.length !== 32) throw new RangeError('a scalar is 32 bytes');
  return BigInt(`0x${Buffer.from(bytes).reverse().toString('hex')}`);
}

/** `G.scalar_mult(y, g)`: the encoding of `y * g`. */
export function scalarMult(y: bigint, g: Point): Buffer {
  return Buffer.from(g.multiply(y).toBytes());
}

/**
 * `G.scalar_mult_vfy(y, X)`: decodes the peer's encoded share `X` and returns the encoding of
 * `y * X`, or `undefined` where the draft returns the neutral element G.I: `X` is not a canonical
 * ristretto255 encoding, or the product is the neutral element. The caller must then abort.
 */
export function scalarMultVfy(y: bigint, encoded: Uint8Array): Buffer | undefined {
  if (encoded.length !== CPACE_SHARE_BYTES) return undefined;
  let point: Point;
  try {
    point = ristretto255.Point.fromBytes(encoded);
  } catch {
    return undefined;
  }
  if (point.is0()) return undefined;
  const product = point.multiply(y);
  if (product.is0()) return undefined;
  return Buffer.from(product.toBytes());
}

/**
 * `ISK = H.hash(lv_cat(G.DSI || "_ISK", sid, K) || transcript_ir(Ya, ADa, Yb, ADb))`, with
 * `transcript_ir = lv_cat(Ya, ADa) || lv_cat(Yb, ADb)` (initiator-responder setting).
 */
export function intermediateSessionKey(
  sid: Uint8Array,
  k: Uint8Array,
  ya: Uint8Array,
  ada: Uint8Array,
  yb: Uint8Array,
  adb: Uint8Array,
): Buffer {
  return createHash('sha512')
    .update(lvCat(DSI_ISK, sid, k))
    .update(lvCat(ya, ada))
    .update(lvCat(yb, adb))
    .digest();
}

/**
 * Explicit key confirmation as the draft's security considerations suggest:
 * `mac_key = H.hash("CPaceMac" || sid || ISK)` and `T = HMAC-SHA512(mac_key, lv_cat(Y, AD))`
 * over the share and associated data that the tag's sender sent.
 */
export function confirmationTag(sid: Uint8Array, isk: Uint8Array, share: Uint8Array, ad: Uint8Array): Buffer {
  const macKey = createHash('sha512').update(MAC_LABEL).update(sid).update(isk).digest();
  return createHmac('sha512', macKey).update(lvCat(share, ad)).digest();
}

/** Compares a received tag with the expected one in constant time; a wrong length is false. */
export function tagsEqual(expected: Uint8Array, received: Uint8Array): boolean {
  return expected.length === received.length && timingSafeEqual(expected, received);
}
