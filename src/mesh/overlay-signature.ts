/**
 * Overlay broadcast signatures with the node's Ed25519 identity (PROTOCOL.md O9): the signature
 * is the 32-byte public key followed by the 64-byte signature of `signedBytes(fields)`, and it
 * verifies only if that key hashes to the sender's ID (rule 2).
 */
import { createPublicKey, verify as edVerify } from 'node:crypto';
import { signedBytes } from '../overlay/index.js';
import type { SignedFields } from '../overlay/index.js';
import { peerIdFromPublicKey } from '../secure/identity.js';

/** Ed25519 public key and signature sizes: an overlay signature is key ‖ signature (O9). */
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/** Signs broadcasts with the node's identity: key ‖ Ed25519 signature. */
export function signBroadcast(
  signer: { readonly publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array },
  fields: SignedFields,
): Uint8Array {
  return Buffer.concat([signer.publicKey, signer.sign(signedBytes(fields))]);
}

/** Checks an overlay signature: key ‖ Ed25519 signature, the key hashing to the sender's ID (O9). Never throws. */
export function verifyBroadcast(fields: SignedFields, signature: Uint8Array): boolean {
  if (signature.length !== PUBLIC_KEY_BYTES + SIGNATURE_BYTES) return false;
  const raw = signature.subarray(0, PUBLIC_KEY_BYTES);
  try {
    if (peerIdFromPublicKey(raw) !== fields.sender) return false;
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
      format: 'jwk',
    });
    return edVerify(null, signedBytes(fields), key, signature.subarray(PUBLIC_KEY_BYTES));
  } catch {
    return false;
  }
}
