import { createPrivateKey, randomFillSync, type KeyObject } from 'node:crypto';

/**
 * Fresh Ed25519 and X25519 private keys, made without `generateKeyPair(Sync)`.
 *
 * Why not the obvious call: on Node 20 (seen on v20.20.2) a key from `generateKeyPair` or
 * `generateKeyPairSync` can deadlock its process. The key-generation job keeps the key, and the
 * job's native destructor (`KeyPairGenConfig`) takes the key's mutex. Exporting that key (JWK,
 * PEM, DER) holds the same mutex while allocating; if that allocation runs a garbage collection
 * that finalizes the finished job, the main thread waits on a mutex it holds itself, forever.
 * CI hung like this for 90 minutes (gdb: `KeyObjectHandle::ExportJWK` → GC → `~KeyGenJob` →
 * `pthread_mutex_lock`); a loop of 20,000 generate-then-export calls hangs about one run in
 * three, 60,000 every time, and the same loop with the keys made here never did.
 *
 * An X25519 or Ed25519 private key *is* 32 random bytes (RFC 7748 §5, RFC 8032 §5.1.5), so a key
 * is the CSPRNG's bytes imported as PKCS#8 (RFC 8410): OpenSSL still derives the public key and
 * does every curve operation; no job object shares the key's mutex. The seed is drawn into one
 * JS buffer, which is zeroed before returning.
 */

/** RFC 8410 PKCS#8 DER up to the 32-byte private key: version 0, algorithm OID 1.3.101.112. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** The same for X25519, algorithm OID 1.3.101.110. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

const PRIVATE_KEY_BYTES = 32;

function privateKeyFromRandomBytes(prefix: Buffer): KeyObject {
  const der = Buffer.alloc(prefix.length + PRIVATE_KEY_BYTES);
  prefix.copy(der, 0);
  // Drawn straight into the DER buffer: the only copy of the seed in JS memory.
  randomFillSync(der, prefix.length, PRIVATE_KEY_BYTES);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** A new Ed25519 private key (its public key: `createPublicKey(key)`). */
export function newEd25519PrivateKey(): KeyObject {
  return privateKeyFromRandomBytes(ED25519_PKCS8_PREFIX);
}

/** A new X25519 private key. */
export function newX25519PrivateKey(): KeyObject {
  return privateKeyFromRandomBytes(X25519_PKCS8_PREFIX);
}
