import { randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { MeshwireError } from '../errors.js';

/** How far back a new certificate's validity starts, to tolerate peers whose clocks run behind. */
export const CERT_BACKDATE_MS = 60 * 60 * 1000;

/**
 * How long a new certificate is valid. The certificate is rebuilt on every start from the key
 * file, so this only has to outlive one process; ten years means it never expires in practice.
 */
export const CERT_VALIDITY_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** WebCrypto algorithm for Ed25519, the only key type meshwire uses. */
const ED25519 = { name: 'Ed25519' } as const;

/** The WebCrypto type the library expects (the DOM `Crypto`, which this project's lib lacks). */
type LibraryCrypto = NonNullable<Parameters<typeof X509.X509CertificateGenerator.createSelfSigned>[1]>;

/** Node's WebCrypto; it structurally matches the DOM type, which Node's typings do not name. */
const nodeCrypto = webcrypto as unknown as LibraryCrypto;

let x509Module: Promise<typeof X509> | undefined;

/**
 * Loads @peculiar/x509 on first use. v2 of the library resolves its algorithm plug-ins through
 * tsyringe, which refuses to load without a global `Reflect.getMetadata` polyfill, so
 * `reflect-metadata` must be evaluated first. Loading lazily keeps that global polyfill, and the
 * library's load time, out of processes that never use secure mode.
 */
function loadX509(): Promise<typeof X509> {
  x509Module ??= (async () => {
    try {
      await import('reflect-metadata');
    } catch (err) {
      throw new MeshwireError(
        'ERR_TLS',
        "Secure mode needs the 'reflect-metadata' package, which @peculiar/x509 v2 requires",
        { cause: err },
      );
    }
    const x509 = await import('@peculiar/x509');
    // Node has no `self`, so the library finds no default provider; Node's WebCrypto does Ed25519.
    x509.cryptoProvider.set(nodeCrypto);
    return x509;
  })();
  // A failed import should be retried by the next caller instead of being cached forever.
  x509Module.catch(() => {
    x509Module = undefined;
  });
  return x509Module;
}

/**
 * Builds a self-signed X.509 certificate for an Ed25519 key pair.
 *
 * The certificate is only a carrier for the public key in the TLS handshake: peers accept any
 * self-signed certificate and authenticate the key itself (see `verifyPeer`), so subject, dates
 * and extensions are informative. It is marked as a non-CA end-entity certificate for digital
 * signatures so that it cannot be mistaken for a CA by any tool that does inspect it.
 *
 * @param privateKey - Ed25519 private key that signs the certificate.
 * @param publicKey - The matching public key, embedded in the certificate.
 * @param commonName - Subject (and issuer) CN; meshwire uses the peer ID, which is plain hex.
 * @returns The certificate as PEM.
 */
export async function createSelfSignedCertificate(
  privateKey: KeyObject,
  publicKey: KeyObject,
  commonName: string,
): Promise<string> {
  const x509 = await loadX509();
  // Node 20 has no KeyObject#toCryptoKey (added in 22.10), so round-trip through DER.
  const [signingKey, certKey] = await Promise.all([
    webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), ED25519, false, [
      'sign',
    ]),
    webcrypto.subtle.importKey('spki', publicKey.export({ type: 'spki', format: 'der' }), ED25519, true, [
      'verify',
    ]),
  ]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomBytes(16).toString('hex'),
      name: [{ CN: [commonName] }],
      notBefore: new Date(now - CERT_BACKDATE_MS),
      notAfter: new Date(now + CERT_VALIDITY_MS),
      keys: { privateKey: signingKey, publicKey: certKey },
      signingAlgorithm: ED25519,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      ],
    },
    nodeCrypto,
  );
  return cert.toString('pem');
}
