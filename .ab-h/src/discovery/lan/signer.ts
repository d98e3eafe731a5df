import { createPublicKey, sign as edSign, verify as edVerify } from 'node:crypto';
import type { Identity } from '../../secure/identity.js';
import { ED25519_PUBLIC_KEY_BYTES, peerIdFromPublicKey } from '../../secure/identity.js';

/**
 * The narrow view of a node identity that LAN discovery needs: its ID and raw public key (both
 * travel in the announcement), a way to sign, and a way to check someone else's signature.
 */
export interface LanSigner {
  /** This node's peer ID. */
  readonly id: string;
  /** The raw 32-byte Ed25519 public key the ID derives from. */
  readonly publicKey: Uint8Array;
  /** Ed25519 signature of `data` by this node's identity key. */
  sign(data: Uint8Array): Uint8Array;
  /**
   * True when `signature` is a valid Ed25519 signature of `data` by `publicKey` **and** `id`
   * derives from that key. Never throws on malformed input.
   */
  verify(id: string, publicKey: Uint8Array | undefined, data: Uint8Array, signature: Uint8Array): boolean;
}

/**
 * Checks an Ed25519 signature by a raw public key and that `id` derives from the key
 * (see `peerIdFromPublicKey`). Malformed keys or signatures give `false`.
 */
export function verifyPeerSignature(
  id: string,
  publicKey: Uint8Array | undefined,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (!publicKey || publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== 64) return false;
  try {
    if (peerIdFromPublicKey(publicKey) !== id) return false;
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey).toString('base64url') },
      format: 'jwk',
    });
    return edVerify(null, data, key, signature);
  } catch {
    return false;
  }
}

/** A {@link LanSigner} backed by a node identity (its private key never leaves node:crypto). */
export function identitySigner(identity: Identity): LanSigner {
  return {
    id: identity.id,
    publicKey: identity.publicKeyRaw,
    sign: (data) => edSign(null, data, identity.privateKey),
    verify: verifyPeerSignature,
  };
}
