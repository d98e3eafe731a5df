import {
  createHash,
  createHmac,
  createPublicKey,
  diffieHellman,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type * as Noble25519 from '@noble/curves/ed25519.js';
import { newX25519PrivateKey, x25519PrivateKeyFromSeed } from './new-keys.js';

/**
 * CPace, the balanced PAKE of draft-irtf-cfrg-cpace, with the cipher suite CPACE-X25519-SHA512
 * (group G_X25519, hash SHA-512), in the initiator-responder setting.
 *
 * Nothing here is curve arithmetic of our own. The map from the hashed generator string to the
 * curve is RFC 9380's `map_to_curve_elligator2_curve25519` from `@noble/curves` (with its field
 * for the one division that turns the projective result into a u-coordinate); the two scalar
 * multiplications per side are X25519 (RFC 7748) in OpenSSL, through node:crypto's
 * `diffieHellman` on X25519 KeyObjects, which is why the suite was chosen: native X25519 takes
 * tens of microseconds where a ristretto255 multiplication in JS takes over a millisecond. This
 * file arranges bytes as the draft says and hashes them with node:crypto;
 * `test/secure-pake.test.ts` checks it against the draft's X25519 test vectors.
 *
 * Notation as in the draft: PRS is the password-related string (here the scrypt-derived network
 * key), CI the channel identifier, sid the session identifier, A the initiator (the TLS client),
 * B the responder (the TLS server), Ya/Yb their shares, ADa/ADb their associated data.
 */

/** Domain-separation identifier of the X25519 group (G_X25519.DSI). */
export const CPACE_DSI = Buffer.from('CPace255', 'latin1');

/** Length of a u-coordinate (a share, the generator, K), in bytes: G_X25519.field_size_bytes. */
export const CPACE_SHARE_BYTES = 32;

/** Length of the intermediate session key and of a confirmation tag (SHA-512 / HMAC-SHA512). */
export const CPACE_ISK_BYTES = 64;

/** A secret scalar: an X25519 private key, kept by OpenSSL (clamped there, as RFC 7748 says). */
export type CPaceScalar = KeyObject;

/** Input block size of SHA-512 (H.s_in_bytes), which sizes the zero padding after PRS. */
const SHA512_BLOCK_BYTES = 128;

/** G_X25519.I, the neutral element: the all-zero u-coordinate. */
const NEUTRAL = Buffer.alloc(CPACE_SHARE_BYTES);

const DSI_ISK = Buffer.concat([CPACE_DSI, Buffer.from('_ISK', 'latin1')]);
const MAC_LABEL = Buffer.from('CPaceMac', 'latin1');

/** The prime of Curve25519's field, 2^255 - 19. */
const P = 2n ** 255n - 19n;

/**
 * `@noble/curves`, loaded by {@link loadCpace} only when a network key is in use. Importing it
 * builds large tables and enlarges the old generation, which measurably changed V8's GC pacing
 * for every node (compat bulk: 11 full GCs instead of 1 per run, +35 % CPU per byte), network
 * key or not.
 */
let noble25519: typeof Noble25519 | undefined;

/** Loads the curve library the exchange needs; call (and await) before any exchange. */
export async function loadCpace(): Promise<void> {
  noble25519 ??= await import('@noble/curves/ed25519.js');
}

function curve(): typeof Noble25519 {
  if (!noble25519) throw new Error('CPace is not loaded: await loadCpace() first');
  return noble25519;
}

/**
 * RFC 9380's `map_to_curve_elligator2_curve25519`. `@noble/curves` 2.4 exports it under a name
 * it calls experimental; read through the namespace so that a release that renames it breaks
 * only the network-key exchange, with the error below, not the import of the whole library.
 */
function elligator2(u: bigint): { xMn: bigint; xMd: bigint } {
  const map = (curve() as Partial<typeof Noble25519>)._map_to_curve_elligator2_curve25519;
  if (typeof map !== 'function') {
    throw new Error('this @noble/curves has no map_to_curve_elligator2_curve25519 (meshwire needs 2.4)');
  }
  return map(u);
}

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
 * `decodeUCoordinate(u, 255)` of RFC 7748: little-endian, bit 255 cleared. The value may still be
 * up to 2^255 - 1, above the field's modulus; the map below reduces it.
 */
export function decodeUCoordinate(bytes: Uint8Array): bigint {
  if (bytes.length !== CPACE_SHARE_BYTES) throw new RangeError('a u-coordinate is 32 bytes');
  const copy = Buffer.from(bytes).reverse();
  copy[0] = (copy[0] as number) & 0x7f;
  return BigInt(`0x${copy.toString('hex')}`);
}

/**
 * `G.calculate_generator(H, PRS, CI, sid)` for G_X25519: the first 32 bytes of SHA-512 of the
 * generator string, decoded as a u-coordinate, mapped to Curve25519 with Elligator2 (RFC 9380
 * §6.7.1); the result is the encoded u-coordinate of the generator (its v is not needed).
 */
export function calculateGenerator(prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Buffer {
  const hash = createHash('sha512')
    .update(generatorString(prs, ci, sid))
    .digest()
    .subarray(0, CPACE_SHARE_BYTES);
  const Fp = curve().ed25519.Point.Fp;
  const { xMn, xMd } = elligator2(Fp.create(decodeUCoordinate(hash)));
  // xMd = 1 + 2u^2 is never zero (-1/2 is not a square modulo p), so the division is defined.
  return Buffer.from(Fp.toBytes(Fp.div(xMn, xMd)));
}

/**
 * `G.sample_scalar()`: 32 random bytes, held by OpenSSL as an X25519 private key (X25519 clamps
 * it when it is used). They are drawn into one JS buffer, zeroed at once, and imported as a JWK
 * (fast; see `new-keys.ts`, also for why not `generateKeyPairSync`, which can deadlock Node 20).
 */
export function sampleScalar(): CPaceScalar {
  return newX25519PrivateKey();
}

/** A scalar given as its 32 bytes (little-endian, unclamped), as the draft's vectors write `ya` and `yb`. */
export function scalarFromBytes(bytes: Uint8Array): CPaceScalar {
  if (bytes.length !== 32) throw new RangeError('a scalar is 32 bytes');
  return x25519PrivateKeyFromSeed(bytes);
}

/**
 * `G.scalar_mult_vfy(y, X)` = X25519(y, X), or `undefined` where the draft returns the neutral
 * element G.I: the result is all zeros, which is how X25519 shows that `X` is a low-order point
 * of the curve or of its twist (including non-canonical encodings of one, bit 255 set or at least
 * 2^255 - 19). `X` itself is taken as RFC 7748 says: bit 255 ignored, values reduced. Also
 * `undefined` for a length other than 32. The caller must then abort.
 */
export function scalarMultVfy(y: CPaceScalar, encoded: Uint8Array): Buffer | undefined {
  if (encoded.length !== CPACE_SHARE_BYTES) return undefined;
  let product: Buffer;
  try {
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(encoded).toString('base64url') },
      format: 'jwk',
    });
    product = diffieHellman({ privateKey: y, publicKey });
  } catch {
    // OpenSSL refuses to derive an all-zero secret itself (RFC 7748 §6.1's check); the same case.
    return undefined;
  }
  if (product.length !== CPACE_SHARE_BYTES || timingSafeEqual(product, NEUTRAL)) return undefined;
  return product;
}

/**
 * `G.scalar_mult(y, g)`: X25519(y, g), the share sent for the generator `g`.
 *
 * @throws RangeError if the product is the neutral element, which would take a generator that
 *   is a low-order point: SHA-512 would have to hit one of the few inputs Elligator2 maps there.
 */
export function scalarMult(y: CPaceScalar, g: Uint8Array): Buffer {
  const share = scalarMultVfy(y, g);
  if (!share) throw new RangeError('the CPace generator is a low-order point');
  return share;
}

/**
 * True if `encoded` is the canonical encoding of a u-coordinate: bit 255 clear and the value
 * below 2^255 - 19. X25519 only ever outputs such encodings, so an honest share always is one.
 */
export function isCanonicalU(encoded: Uint8Array): boolean {
  if (encoded.length !== CPACE_SHARE_BYTES || (encoded[31] as number) & 0x80) return false;
  return decodeUCoordinate(encoded) < P;
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
