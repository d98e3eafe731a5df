import { scrypt, scryptSync, type ScryptOptions } from 'node:crypto';
import { MeshwireError } from '../errors.js';
import { readSecretFile } from './key-file.js';

/** Length of a derived network key in bytes. */
export const NETWORK_KEY_BYTES = 32;

/**
 * Fixed scrypt salt. A per-network random salt would have to be distributed alongside the
 * passphrase; the fixed, versioned salt only separates meshwire keys from other uses of the same
 * passphrase, and scrypt's cost is what slows down guessing. (The derivation did not change with
 * the key exchange of `meshwire/2`, so the salt keeps its `v1`.)
 */
export const NETWORK_KEY_SALT = 'meshwire-network-key-v1';

/** scrypt cost: N = 2^14, r = 8, p = 1 (16 MiB, tens of milliseconds once per process). */
const SCRYPT_OPTIONS: ScryptOptions = { N: 2 ** 14, r: 8, p: 1 };

/**
 * Derives the 32-byte network key from a shared secret (like a Wi-Fi password).
 *
 * Derivation (part of the protocol; every peer must do exactly this):
 * `scrypt(secret, salt = "meshwire-network-key-v1", N = 2^14, r = 8, p = 1, dkLen = 32)`.
 * A string secret is Unicode-NFC-normalized and UTF-8-encoded first, so the same passphrase
 * typed on different systems gives the same key; bytes are used as they are.
 *
 * Blocks the thread for the scrypt run (tens of ms); see {@link deriveNetworkKeyAsync}.
 *
 * @throws MeshwireError `ERR_INVALID_OPTION` if the secret is empty.
 */
export function deriveNetworkKey(secret: string | Uint8Array): Buffer {
  return scryptSync(secretBytes(secret), NETWORK_KEY_SALT, NETWORK_KEY_BYTES, SCRYPT_OPTIONS);
}

/** {@link deriveNetworkKey} running scrypt on the libuv thread pool instead of the main thread. */
export function deriveNetworkKeyAsync(secret: string | Uint8Array): Promise<Buffer> {
  const bytes = secretBytes(secret);
  return new Promise((resolve, reject) => {
    scrypt(bytes, NETWORK_KEY_SALT, NETWORK_KEY_BYTES, SCRYPT_OPTIONS, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/**
 * Derives the network key from the text of a network key file or option: surrounding
 * whitespace (including the trailing newline editors add) is removed first.
 *
 * @throws MeshwireError `ERR_INVALID_OPTION` if nothing is left after trimming.
 */
export function parseNetworkKey(text: string): Buffer {
  const secret = text.trim();
  if (secret === '') throw new MeshwireError('ERR_INVALID_OPTION', 'The network key is empty');
  return deriveNetworkKey(secret);
}

/**
 * Reads a network key file (UTF-8 passphrase, trimmed) and derives the network key from it.
 * The file gets the same checks as an identity key file: regular file, and on POSIX not
 * accessible by group or others.
 *
 * @throws MeshwireError `ERR_KEY_FILE` if the file is missing, unsafe, unreadable or empty.
 */
export async function readNetworkKeyFile(file: string): Promise<Buffer> {
  const data = await readSecretFile(file, 'network key file');
  if (data === undefined) throw new MeshwireError('ERR_KEY_FILE', `Network key file ${file} does not exist`);
  const secret = data.toString('utf8').trim();
  data.fill(0);
  if (secret === '') throw new MeshwireError('ERR_KEY_FILE', `Network key file ${file} is empty`);
  return deriveNetworkKeyAsync(secret);
}

function secretBytes(secret: string | Uint8Array): Buffer {
  const bytes =
    typeof secret === 'string' ? Buffer.from(secret.normalize('NFC'), 'utf8') : Buffer.from(secret);
  if (bytes.length === 0) throw new MeshwireError('ERR_INVALID_OPTION', 'The network key is empty');
  return bytes;
}
