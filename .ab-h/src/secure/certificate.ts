import { randomBytes, sign, type KeyObject } from 'node:crypto';
import { MeshwireError } from '../errors.js';

/** How far back a new certificate's validity starts, to tolerate peers whose clocks run behind. */
export const CERT_BACKDATE_MS = 60 * 60 * 1000;

/**
 * How long a new certificate is valid. The certificate is rebuilt on every start from the key
 * file, so this only has to outlive one process; ten years means it never expires in practice.
 */
export const CERT_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** Longest common name accepted (X.520 `ub-common-name`). meshwire's are 32 hex characters. */
export const MAX_COMMON_NAME_LENGTH = 64;

// The one template this module writes needs only these DER building blocks. This is encoding,
// not cryptography: the signature comes from node:crypto's `sign`.

/** A DER length: short form below 128, else 0x80 | number of big-endian length bytes. */
function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** A tag-length-value element with the given contents. */
function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
/** `[n] EXPLICIT`, a constructed context-specific tag. */
const explicit = (n: number, item: Buffer): Buffer => tlv(0xa0 | n, item);

/** An OBJECT IDENTIFIER from its dotted form (first two arcs < 40, later arcs base-128). */
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [(arcs[0] ?? 0) * 40 + (arcs[1] ?? 0)];
  for (const arc of arcs.slice(2)) {
    const chunk: number[] = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift(0x80 | (n & 0x7f));
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** A positive INTEGER from big-endian magnitude bytes (a leading 0x00 keeps it positive). */
function positiveInteger(magnitude: Buffer): Buffer {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  const trimmed = magnitude.subarray(start);
  const body = (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
  return tlv(0x02, body);
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; always UTC, seconds, `Z`. */
function time(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // 2026-11-30T13:34:03.000Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, ''); // 20261130133403
  const year = new Date(ms).getUTCFullYear();
  return year < 2050
    ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, 'ascii'))
    : tlv(0x18, Buffer.from(`${digits}Z`, 'ascii'));
}

/** id-Ed25519 (RFC 8410): the signature algorithm, with absent parameters. */
const ED25519_ALGORITHM = sequence(oid('1.3.101.112'));

/** A Name with one RDN holding the common name as a UTF8String. */
function commonNameOnly(commonName: string): Buffer {
  return sequence(set(sequence(oid('2.5.4.3'), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
}

/**
 * The two critical extensions: basicConstraints with cA absent (so FALSE: not a CA), and
 * keyUsage = digitalSignature (bit 0; BIT STRING with 7 unused bits, value 0x80).
 */
const EXTENSIONS = explicit(
  3,
  sequence(
    sequence(oid('2.5.29.19'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, sequence())),
    sequence(oid('2.5.29.15'), tlv(0x01, Buffer.from([0xff])), tlv(0x04, tlv(0x03, Buffer.from([7, 0x80])))),
  ),
);

/**
 * Builds a self-signed X.509 v3 certificate for an Ed25519 key pair, with node:crypto only.
 *
 * The certificate is only a carrier for the public key in the TLS handshake: peers accept any
 * self-signed certificate and authenticate the key itself (see `verifyPeer`), so subject, dates
 * and extensions are informative. It is marked as a non-CA end-entity certificate for digital
 * signatures so that it cannot be mistaken for a CA by any tool that does inspect it. Fields:
 * version 3, a random positive 127-bit serial, issuer = subject = `CN=<commonName>`, valid from
 * {@link CERT_BACKDATE_MS} ago for {@link CERT_VALIDITY_MS}, critical basicConstraints (not a CA)
 * and keyUsage (digitalSignature), signed with Ed25519.
 *
 * @param privateKey - Ed25519 private key that signs the certificate.
 * @param publicKey - The matching public key, embedded in the certificate.
 * @param commonName - Subject (and issuer) CN; meshwire uses the peer ID, which is plain hex.
 * @param now - Current time in ms (for tests); defaults to `Date.now()`.
 * @returns The certificate as PEM.
 * @throws MeshwireError `ERR_INVALID_ARGUMENT` for a non-Ed25519 key or an unusable common name.
 */
export async function createSelfSignedCertificate(
  privateKey: KeyObject,
  publicKey: KeyObject,
  commonName: string,
  now: number = Date.now(),
): Promise<string> {
  if (privateKey.asymmetricKeyType !== 'ed25519' || publicKey.asymmetricKeyType !== 'ed25519') {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'certificate keys must be Ed25519');
  }
  if (
    commonName.length === 0 ||
    commonName.length > MAX_COMMON_NAME_LENGTH ||
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    /[\u0000-\u001f\u007f]/.test(commonName)
  ) {
    throw new MeshwireError(
      'ERR_INVALID_ARGUMENT',
      `certificate common name must be 1-${MAX_COMMON_NAME_LENGTH} printable characters`,
    );
  }
  const serial = randomBytes(16);
  // Positive and non-zero with a fixed length: clear the top bit, set the next one.
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  const name = commonNameOnly(commonName);
  const tbs = sequence(
    explicit(0, positiveInteger(Buffer.from([2]))), // v3
    positiveInteger(serial),
    ED25519_ALGORITHM,
    name,
    sequence(time(now - CERT_BACKDATE_MS), time(now + CERT_VALIDITY_MS)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    EXTENSIONS,
  );
  // Ed25519 takes no separate digest: the algorithm argument is null.
  const signature = sign(null, tbs, privateKey);
  const der = sequence(tbs, ED25519_ALGORITHM, tlv(0x03, Buffer.from([0]), signature));
  const base64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`;
}
