import { createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { newEd25519PrivateKey } from '../../src/secure/new-keys.js';

/**
 * A fresh Ed25519 key pair for tests, made as the library makes its own: never with
 * `generateKeyPairSync`, which can deadlock Node 20 on a later export (src/secure/new-keys.ts).
 */
export function ed25519Pair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = newEd25519PrivateKey();
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

/** PKCS#8 DER (RFC 5208, RFC 5915) of a P-256 key up to its 32-byte scalar; OpenSSL derives the public point. */
const P256_PKCS8_PREFIX = Buffer.from(
  '3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420',
  'hex',
);

/** A fresh P-256 private key: a key of the wrong type, for tests of refusals. */
export function p256PrivateKey(): KeyObject {
  // 32 random bytes are below the group order except with probability about 2^-32.
  return createPrivateKey({
    key: Buffer.concat([P256_PKCS8_PREFIX, randomBytes(32)]),
    format: 'der',
    type: 'pkcs8',
  });
}
