/**
 * The self-signed certificate built with node:crypto only: parsed and verified by
 * crypto.X509Certificate and by `openssl x509`, used for a real TLS 1.3 handshake, and its DER
 * edge cases (dates from 2050 on, long and refused common names).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import tls from 'node:tls';
import {
  CERT_BACKDATE_MS,
  CERT_VALIDITY_MS,
  createSelfSignedCertificate,
  MAX_COMMON_NAME_LENGTH,
} from '../src/secure/certificate.js';
import { rejectsWith } from './helpers/nodes.js';
import { ed25519Pair, p256PrivateKey } from './helpers/keys.js';

const TIMEOUT = { timeout: 10_000 };
const { privateKey, publicKey } = ed25519Pair();
const ID = '0123456789abcdef0123456789abcdef';

function openssl(args: string[], input: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { timeout: 5000 }, (err, stdout) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') reject(err);
      else resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout });
    });
    child.stdin?.end(input);
  });
}

describe('self-signed Ed25519 certificate (node:crypto DER writer)', () => {
  test(
    'X509Certificate parses it, its signature verifies with the key, fields are as specified',
    TIMEOUT,
    async () => {
      const now = Date.UTC(2026, 10, 30, 13, 0, 0);
      const pem = await createSelfSignedCertificate(privateKey, publicKey, ID, now);
      const cert = new X509Certificate(pem);
      assert.equal(cert.subject, `CN=${ID}`);
      assert.equal(cert.issuer, `CN=${ID}`);
      assert.equal(cert.ca, false);
      assert.ok(cert.verify(publicKey), 'self-signature verifies');
      assert.equal(new Date(cert.validFrom).getTime(), now - CERT_BACKDATE_MS);
      assert.equal(new Date(cert.validTo).getTime(), now + CERT_VALIDITY_MS);
      assert.deepEqual(
        cert.publicKey.export({ type: 'spki', format: 'der' }),
        publicKey.export({ type: 'spki', format: 'der' }),
      );
      // The serial is positive, 16 bytes, and random.
      assert.match(cert.serialNumber, /^[4-7][0-9A-F]{31}$/);
      const other = new X509Certificate(await createSelfSignedCertificate(privateKey, publicKey, ID, now));
      assert.notEqual(other.serialNumber, cert.serialNumber);
      // Another key does not verify it.
      assert.equal(cert.verify(ed25519Pair().publicKey), false);
    },
  );

  test(
    'openssl x509 -text reads it: v3, ED25519, critical CA:FALSE and Digital Signature',
    TIMEOUT,
    async (t) => {
      const pem = await createSelfSignedCertificate(privateKey, publicKey, ID);
      let result;
      try {
        result = await openssl(['x509', '-noout', '-text'], pem);
      } catch {
        t.skip('openssl is not installed');
        return;
      }
      assert.equal(result.code, 0);
      const text = result.stdout;
      assert.match(text, /Version: 3 \(0x2\)/);
      assert.match(text, /Signature Algorithm: ED25519/);
      assert.match(text, /Public Key Algorithm: ED25519/);
      assert.match(text, new RegExp(`Subject: CN\\s?=\\s?${ID}`));
      assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
      assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature\n/);
    },
  );

  test('dates from 2050 are GeneralizedTime, earlier ones UTCTime (RFC 5280)', TIMEOUT, async () => {
    const late = Date.UTC(2049, 6, 1);
    const cert = new X509Certificate(await createSelfSignedCertificate(privateKey, publicKey, 'x', late));
    assert.equal(new Date(cert.validFrom).getTime(), late - CERT_BACKDATE_MS);
    assert.equal(new Date(cert.validTo).getTime(), late + CERT_VALIDITY_MS); // 2059: GeneralizedTime
    assert.ok(cert.verify(publicKey));
  });

  test(
    'a 64-character common name (long DER lengths) works; longer, empty or control characters are refused',
    TIMEOUT,
    async () => {
      const long = 'é'.repeat(MAX_COMMON_NAME_LENGTH); // 128 UTF-8 bytes: long-form lengths
      const cert = new X509Certificate(await createSelfSignedCertificate(privateKey, publicKey, long));
      assert.equal(cert.subject, `CN=${long}`);
      assert.ok(cert.verify(publicKey));
      for (const bad of ['', 'a'.repeat(MAX_COMMON_NAME_LENGTH + 1), 'a\nb']) {
        await rejectsWith(createSelfSignedCertificate(privateKey, publicKey, bad), 'ERR_INVALID_ARGUMENT');
      }
      const p256 = p256PrivateKey();
      await rejectsWith(createSelfSignedCertificate(p256, createPublicKey(p256), ID), 'ERR_INVALID_ARGUMENT');
    },
  );

  test('two peers complete a mutual TLS 1.3 handshake with these certificates', TIMEOUT, async (t) => {
    const server = ed25519Pair();
    const serverCert = await createSelfSignedCertificate(server.privateKey, server.publicKey, 'server');
    const clientCert = await createSelfSignedCertificate(privateKey, publicKey, 'client');
    const pemKey = (k: typeof privateKey): string => k.export({ type: 'pkcs8', format: 'pem' }) as string;
    const listener = tls.createServer({
      key: pemKey(server.privateKey),
      cert: serverCert,
      minVersion: 'TLSv1.3',
      requestCert: true,
      rejectUnauthorized: false,
    });
    t.after(() => listener.close());
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const seen = once(listener, 'secureConnection');
    const { port } = listener.address() as { port: number };
    const client = tls.connect({
      host: '127.0.0.1',
      port,
      key: pemKey(privateKey),
      cert: clientCert,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.3',
    });
    t.after(() => client.destroy());
    await once(client, 'secureConnect');
    const [socket] = (await seen) as [tls.TLSSocket];
    t.after(() => socket.destroy());
    assert.equal(client.getProtocol(), 'TLSv1.3');
    assert.equal(client.getPeerX509Certificate()?.subject, 'CN=server');
    assert.equal(socket.getPeerX509Certificate()?.subject, 'CN=client');
  });
});
