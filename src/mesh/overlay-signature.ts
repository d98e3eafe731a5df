/**
 * Overlay broadcast signatures with the node's Ed25519 identity (PROTOCOL.md O9): the signature
 * is the 32-byte public key followed by the 64-byte signature of `signedBytes(fields)`, and it
 * verifies only if that key hashes to the sender's ID (rule 2).
 */
import { createPublicKey, verify as edVerify, type KeyObject } from 'node:crypto';
import { signedBytes } from '../overlay/index.js';
import type { SignedFields } from '../overlay/index.js';
import { peerIdFromPublicKey } from '../secure/identity.js';

/** Ed25519 public key and signature sizes: an overlay signature is key ‖ signature (O9). */
const PUBLIC_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;

/**
 * Most senders whose checked key is remembered. Every node verifies every broadcast once, and
 * importing the key (JWK → KeyObject) and hashing it to the sender's ID cost about half as much
 * as the Ed25519 verification itself (overlay-cpu probe): done once per sender, not per message.
 */
const MAX_CACHED_KEYS = 1024;

/** Sender ID → its raw key (already proven to hash to that ID) and the imported key. */
const keys = new Map<string, { raw: Buffer; key: KeyObject }>();

/** The key of `sender` if `raw` hashes to it, from the cache or checked and imported now; else null. */
function senderKey(sender: string, raw: Uint8Array): KeyObject | null {
  const hit = keys.get(sender);
  // Same ID, same bytes: the hash was checked when the entry was made.
  if (hit && hit.raw.equals(raw)) return hit.key;
  if (peerIdFromPublicKey(raw) !== sender) return null;
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
  // Oldest first out: a Map keeps insertion order.
  if (keys.size >= MAX_CACHED_KEYS) keys.delete(keys.keys().next().value!);
  keys.set(sender, { raw: Buffer.from(raw), key });
  return key;
}

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
    const key = senderKey(fields.sender, raw);
    if (key === null) return false;
    return edVerify(null, signedBytes(fields), key, signature.subarray(PUBLIC_KEY_BYTES));
  } catch {
    return false;
  }
}
