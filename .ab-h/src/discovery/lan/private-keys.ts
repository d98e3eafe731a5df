/**
 * Private LAN announcements, for networks with a network key: two keys derived from it (HKDF),
 * a keyed tag that changes every window, and AES-256-GCM sealing of the announcement's fields.
 * A stranger on the LAN sees that a private meshwire node runs at an address, and nothing else:
 * not its ID, not its key, and no tag it could link across windows.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { MeshwireError } from '../../errors.js';

/** How long one tag stays the same, ms. */
export const TAG_WINDOW_MS = 15 * 60_000;

/** Tag length in bytes (truncated HMAC-SHA256). */
export const TAG_BYTES = 16;

const NONCE_BYTES = 12;
const GCM_TAG_BYTES = 16;
const HKDF_SALT = 'meshwire-lan-v1';

/** Keys derived from a network key for LAN announcements. */
export interface LanKeys {
  readonly tagKey: Buffer;
  readonly sealKey: Buffer;
}

/**
 * Derives the LAN keys from the 32-byte network key (the one `deriveNetworkKey` produces).
 * Separate HKDF labels keep these keys independent of the network key's TLS use.
 */
export function deriveLanKeys(networkKey: Uint8Array): LanKeys {
  if (networkKey.length < 16)
    throw new MeshwireError('ERR_INVALID_OPTION', 'invalid option networkKey: too short');
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', networkKey, HKDF_SALT, info, 32));
  return { tagKey: derive('announcement tag'), sealKey: derive('announcement seal') };
}

/** The tag of `id` for the window containing `issuedAt`: HMAC(tagKey, window || id), truncated. */
export function privateTag(keys: LanKeys, id: string, issuedAt: number): Buffer {
  const window = Math.floor(issuedAt / TAG_WINDOW_MS);
  return createHmac('sha256', keys.tagKey).update(`${window}\n${id}`).digest().subarray(0, TAG_BYTES);
}

/** AES-256-GCM: nonce || ciphertext || tag. `aad` is authenticated, not hidden. */
export function seal(keys: LanKeys, plain: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keys.sealKey, nonce);
  cipher.setAAD(aad);
  return Buffer.concat([nonce, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

/** Opens {@link seal}'s output; `undefined` for anything not sealed by a key holder. */
export function openSealed(keys: LanKeys, box: Buffer, aad: Buffer): Buffer | undefined {
  if (box.length < NONCE_BYTES + GCM_TAG_BYTES + 1 || box.length > 2048) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.sealKey, box.subarray(0, NONCE_BYTES));
    decipher.setAAD(aad);
    decipher.setAuthTag(box.subarray(box.length - GCM_TAG_BYTES));
    return Buffer.concat([
      decipher.update(box.subarray(NONCE_BYTES, box.length - GCM_TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    return undefined;
  }
}
