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

/**
 * `prefix` and 32 key bytes imported as PKCS#8: the bytes of `seed`, or fresh random ones drawn
 * straight into the DER buffer (then the only copy of the seed in JS memory). The buffer is
 * zeroed before returning.
 */
function pkcs8PrivateKey(prefix: Buffer, seed?: Uint8Array): KeyObject {
  const der = Buffer.alloc(prefix.length + PRIVATE_KEY_BYTES);
  prefix.copy(der, 0);
  if (seed) der.set(seed, prefix.length);
  else randomFillSync(der, prefix.length, PRIVATE_KEY_BYTES);
  try {
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

/** A new Ed25519 private key (its public key: `createPublicKey(key)`). */
export function newEd25519PrivateKey(): KeyObject {
  return pkcs8PrivateKey(ED25519_PKCS8_PREFIX);
}

/**
 * The `x` member the JWK import below requires: Node reads only `d` of a private OKP key and
 * derives the public key from it (OpenSSL's raw private-key import), so any 32 bytes do; these
 * are zeros. X25519 needs only the private scalar for `diffieHellman` anyway.
 */
const UNUSED_X = Buffer.alloc(PRIVATE_KEY_BYTES).toString('base64url');

/**
 * The X25519 private key whose 32 bytes are `seed`. Imported as a JWK, not as PKCS#8: OpenSSL 3
 * parses DER through its generic decoder, 0.5-0.8 ms of CPU a key on this project's machines
 * against ~0.06 ms for the raw import behind a JWK, and the network-key exchange makes one key
 * per connection and side (it was most of that exchange's CPU: bench `handshake`). The price: the
 * seed passes through a base64url string, which JS cannot wipe (the DER path zeroes its buffer).
 * That string is an ephemeral scalar for one connection, in a process that holds the network key
 * itself in memory for its whole life. Should a Node release refuse the placeholder `x`, the
 * PKCS#8 import is used instead.
 */
export function x25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (seed.length !== PRIVATE_KEY_BYTES) throw new RangeError('an X25519 seed is 32 bytes');
  // A view, not a copy: no second buffer of the seed to leave unwiped.
  const d = Buffer.from(seed.buffer, seed.byteOffset, seed.byteLength).toString('base64url');
  try {
    return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d, x: UNUSED_X }, format: 'jwk' });
  } catch {
    return pkcs8PrivateKey(X25519_PKCS8_PREFIX, seed);
  }
}

/** A new X25519 private key (see {@link x25519PrivateKeyFromSeed}). */
export function newX25519PrivateKey(): KeyObject {
  const seed = randomFillSync(Buffer.alloc(PRIVATE_KEY_BYTES));
  try {
    return x25519PrivateKeyFromSeed(seed);
  } finally {
    seed.fill(0);
  }
}
