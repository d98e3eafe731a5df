import { createHash, createPrivateKey, createPublicKey, randomBytes, type KeyObject } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { MeshwireError } from '../errors.js';
import { createSelfSignedCertificate } from './certificate.js';
import { errMessage, isErrno, readSecretFile } from './key-file.js';
import { newEd25519PrivateKey } from './new-keys.js';

/** Length of an Ed25519 public key in bytes. */
export const ED25519_PUBLIC_KEY_BYTES = 32;

/** Length of a peer ID in hex characters (16 bytes of SHA-256). */
export const PEER_ID_LENGTH = 32;

/** Length of the short, human-facing form of a peer ID. */
export const SHORT_PEER_ID_LENGTH = 8;

const PEER_ID_PATTERN = /^[0-9a-f]{32}$/;

/** This node's long-term identity: an Ed25519 key pair and the self-signed certificate carrying it. */
export interface Identity {
  /** Peer ID: 32 lowercase hex characters derived from the public key (see {@link peerIdFromPublicKey}). */
  id: string;
  /** First 8 characters of `id`, for logs and prompts. Not unique; never use it for authorization. */
  shortId: string;
  /** Ed25519 public key. */
  publicKey: KeyObject;
  /** Ed25519 private key. */
  privateKey: KeyObject;
  /** The raw 32-byte Ed25519 public key. */
  publicKeyRaw: Buffer;
  /** Self-signed X.509 certificate (PEM) for TLS, subject CN = `id`. */
  certPem: string;
  /** The private key as PKCS#8 PEM, for TLS options. */
  keyPem: string;
  /** The key file the identity was loaded from or saved to, if any. */
  keyFile?: string;
}

/**
 * Derives a peer ID from a raw Ed25519 public key: the first 16 bytes of its SHA-256, as 32
 * lowercase hex characters. 128 bits keep a second-preimage (forging a key for someone else's
 * ID) out of reach while staying short enough to type and compare.
 *
 * @param raw - The 32-byte raw public key.
 * @throws MeshwireError `ERR_INVALID_ARGUMENT` if `raw` is not 32 bytes.
 */
export function peerIdFromPublicKey(raw: Uint8Array): string {
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new MeshwireError(
      'ERR_INVALID_ARGUMENT',
      `An Ed25519 public key is ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${raw.length}`,
    );
  }
  return createHash('sha256').update(raw).digest().subarray(0, 16).toString('hex');
}

/** The short, human-facing form of a peer ID (its first 8 characters). */
export function shortPeerId(id: string): string {
  return id.slice(0, SHORT_PEER_ID_LENGTH);
}

/** True if `id` has the shape of a peer ID (32 lowercase hex characters). */
export function isPeerId(id: string): boolean {
  return PEER_ID_PATTERN.test(id);
}

/**
 * Extracts the raw 32-byte public key from an Ed25519 key object (public or private).
 *
 * @throws MeshwireError `ERR_INVALID_ARGUMENT` if the key is not Ed25519.
 */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new MeshwireError(
      'ERR_INVALID_ARGUMENT',
      `Expected an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`,
    );
  }
  // JWK `x` is exactly the RFC 8032 public key, without depending on SPKI header layout.
  const jwk = (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'jwk' });
  const raw = Buffer.from(jwk.x ?? '', 'base64url');
  if (raw.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'Malformed Ed25519 public key');
  }
  return raw;
}

/**
 * Creates a fresh identity held only in memory: a new Ed25519 key pair and its certificate.
 * Use it for tests and ephemeral nodes; the ID changes on every call.
 */
export async function createIdentity(): Promise<Identity> {
  const privateKey = newEd25519PrivateKey();
  return identityFromPrivateKey(privateKey);
}

/**
 * Builds an identity (public key, peer ID, certificate) from an Ed25519 private key.
 *
 * @param privateKey - Ed25519 private key.
 * @param keyFile - Recorded in the identity for display; not read or written.
 * @throws MeshwireError `ERR_INVALID_ARGUMENT` if the key is not an Ed25519 private key.
 */
export async function identityFromPrivateKey(privateKey: KeyObject, keyFile?: string): Promise<Identity> {
  if (privateKey.type !== 'private') {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `Expected a private key, got a ${privateKey.type} key`);
  }
  const publicKey = createPublicKey(privateKey);
  const publicKeyRaw = rawEd25519PublicKey(publicKey);
  const id = peerIdFromPublicKey(publicKeyRaw);
  const certPem = await createSelfSignedCertificate(privateKey, publicKey, id);
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const identity: Identity = {
    id,
    shortId: shortPeerId(id),
    publicKey,
    privateKey,
    publicKeyRaw,
    certPem,
    keyPem,
  };
  if (keyFile !== undefined) identity.keyFile = keyFile;
  return identity;
}

/**
 * Loads the identity stored in `keyFile`, or creates one there if the file does not exist.
 *
 * Loading refuses (MeshwireError `ERR_KEY_FILE`) anything that is not a regular file, a file
 * readable or writable by group or others (POSIX; fix with `chmod 600`), content that is not a
 * PEM private key, and keys that are not Ed25519. Encrypted keys are not supported.
 *
 * Creating makes missing parent directories with mode 0700 and publishes the PKCS#8 PEM key with
 * mode 0600 atomically: it is written and fsynced under a temporary name in the same directory,
 * then hard-linked to `keyFile`. Unlike rename, link fails if the name already exists, so when
 * two processes race to create the same identity, the loser adopts the winner's key and both end
 * up with the same ID; a reader never sees a partially written file.
 *
 * @param keyFile - Path of the PKCS#8 PEM key file.
 * @throws MeshwireError `ERR_KEY_FILE` if the file cannot be safely read, parsed or created.
 */
export async function loadOrCreateIdentity(keyFile: string): Promise<Identity> {
  const existing = await loadIdentityFile(keyFile);
  if (existing) return existing;

  const dir = path.dirname(keyFile);
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw keyFileError(`Cannot create directory ${dir} for key file ${keyFile}`, err);
  }

  const privateKey = newEd25519PrivateKey();
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const published = await publishNewFile(keyFile, pem);
  if (!published) {
    // Another process created the key between our check and our link: use theirs.
    const theirs = await loadIdentityFile(keyFile);
    if (theirs) return theirs;
    throw new MeshwireError('ERR_KEY_FILE', `Key file ${keyFile} appeared and vanished while creating it`);
  }
  return identityFromPrivateKey(privateKey, keyFile);
}

/** Loads an identity from an existing key file; `undefined` if there is no such file. */
async function loadIdentityFile(keyFile: string): Promise<Identity | undefined> {
  const data = await readSecretFile(keyFile, 'key file');
  if (data === undefined) return undefined;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: data, format: 'pem' });
  } catch (err) {
    throw keyFileError(`Key file ${keyFile} does not contain an unencrypted PEM private key`, err);
  } finally {
    data.fill(0);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new MeshwireError(
      'ERR_KEY_FILE',
      `Key file ${keyFile} holds a ${privateKey.asymmetricKeyType ?? 'unknown'} key; meshwire needs Ed25519`,
    );
  }
  return identityFromPrivateKey(privateKey, keyFile);
}

/**
 * Atomically creates `file` with `contents` and mode 0600.
 *
 * @returns `true` if we created it, `false` if it already existed (its contents are untouched).
 */
async function publishNewFile(file: string, contents: string): Promise<boolean> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    // 'wx' guarantees we never write through a pre-planted file or symlink at the temp name.
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      // The open() mode is filtered by the umask; make sure the owner can read and write.
      if (process.platform !== 'win32') await handle.chmod(0o600);
      await handle.writeFile(contents);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw keyFileError(`Cannot write key file ${file}`, err);
  }

  try {
    await fs.link(tmp, file);
    await syncDir(dir);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    if (!linkUnsupported(err)) throw keyFileError(`Cannot create key file ${file}`, err);
    // Filesystems without hard links (FAT, some network mounts): rename still publishes a whole
    // file, but could replace one created concurrently, so re-check first to narrow that window.
    if (await exists(file)) return false;
    try {
      await fs.rename(tmp, file);
      await syncDir(dir);
      return true;
    } catch (renameErr) {
      throw keyFileError(`Cannot create key file ${file}`, renameErr);
    }
  } finally {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }
}

/** Errors from link() that mean "this filesystem cannot hard-link", not "something is wrong". */
function linkUnsupported(err: unknown): boolean {
  return ['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK'].some((code) => isErrno(err, code));
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

/** Best effort: persist the new directory entry so a crash right after creation keeps the key. */
async function syncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  try {
    const handle = await fs.open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some filesystems refuse fsync on directories; the file itself is already synced.
  }
}

function keyFileError(message: string, cause: unknown): MeshwireError {
  return new MeshwireError('ERR_KEY_FILE', `${message}: ${errMessage(cause)}`, { cause });
}
