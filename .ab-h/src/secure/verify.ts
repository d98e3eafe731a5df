import type { X509Certificate } from 'node:crypto';
import type * as tls from 'node:tls';
import { MeshwireError } from '../errors.js';
import { peerIdFromPublicKey, rawEd25519PublicKey } from './identity.js';
import { MESHWIRE_ALPN } from './tls-options.js';

/**
 * Authenticates the peer of a completed TLS handshake and returns its peer ID.
 *
 * Call it on 'secureConnect' (client) or 'secureConnection'/'secure' (server) and close the
 * socket if it throws. The TLS handshake itself proved that the peer holds the private key of
 * the certificate it sent (CertificateVerify); this function ties that key to a peer ID:
 *
 * - the session is TLS 1.3 and negotiated ALPN {@link MESHWIRE_ALPN} (`meshwire/2`; else `ERR_TLS`);
 * - the peer sent a certificate (else `ERR_UNAUTHORIZED`, "peer presented no certificate");
 * - its key is Ed25519 (else `ERR_UNAUTHORIZED`);
 * - the peer ID is derived from the key; if `expectedId` is given and differs, `ERR_PEER_ID_MISMATCH`.
 *   That is what exposes a man in the middle when dialing a known peer.
 *
 * Subject and validity dates are deliberately not checked: the ID comes from the key alone, so
 * they cannot add trust, and rejecting on dates would only add clock-skew failures.
 *
 * @param socket - A TLS socket whose handshake has completed.
 * @param expectedId - The peer ID we meant to reach, when dialing a known peer.
 * @returns The peer's ID.
 * @throws MeshwireError `ERR_TLS`, `ERR_UNAUTHORIZED` or `ERR_PEER_ID_MISMATCH`.
 */
export function verifyPeer(socket: tls.TLSSocket, expectedId?: string): string {
  const protocol = socket.getProtocol();
  if (protocol !== 'TLSv1.3') {
    throw new MeshwireError(
      'ERR_TLS',
      `Peer negotiated ${protocol ?? 'no TLS protocol'}; TLSv1.3 is required`,
    );
  }
  if (socket.alpnProtocol !== MESHWIRE_ALPN) {
    const got = socket.alpnProtocol ? `'${socket.alpnProtocol}'` : 'none';
    throw new MeshwireError('ERR_TLS', `Peer negotiated ALPN protocol ${got}; expected '${MESHWIRE_ALPN}'`);
  }

  const cert = peerCertificate(socket);
  if (!cert) throw new MeshwireError('ERR_UNAUTHORIZED', 'peer presented no certificate');
  const key = cert.publicKey;
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `Peer certificate has a ${key.asymmetricKeyType ?? 'unknown'} key; Ed25519 is required`,
    );
  }
  // The certificate's own signature is not checked: TLS already verified the handshake signature
  // (CertificateVerify) with this very key, which is what proves the peer holds it. A self-signature
  // adds no trust (anyone can self-sign with their own key) and cost an Ed25519 verify per side.

  const id = peerIdFromPublicKey(rawEd25519PublicKey(key));
  if (expectedId !== undefined && id !== expectedId.toLowerCase()) {
    throw new MeshwireError(
      'ERR_PEER_ID_MISMATCH',
      `Expected peer ${expectedId} but the peer proved it is ${id}; ` +
        'someone may be intercepting the connection, or the peer changed its key',
    );
  }
  return id;
}

const peerCertificates = new WeakMap<tls.TLSSocket, X509Certificate>();

/**
 * The certificate the peer presented (the leaf, whose key the peer proved it holds), or
 * `undefined` if it presented none. Safe to call any number of times.
 *
 * Uses `socket.getPeerX509Certificate()`, which wraps the certificate OpenSSL already parsed
 * during the handshake (~0.004 ms), instead of `getPeerCertificate()`, which builds an object
 * of strings and three fingerprints, plus `new X509Certificate(raw)`, which parses the DER
 * again (together ~0.1 ms per side and link: bench/probes/link-cost.ts).
 *
 * On Node 20 `getPeerX509Certificate()` removes the leaf from OpenSSL's peer chain on client
 * sockets, so a second call (and every later `getPeerCertificate()`) finds no certificate at
 * all (nodejs/node#65579 traces the same `sk_X509_delete` in `X509Certificate::GetPeerCert`).
 * Ownership moves to the returned object, so nothing leaks or is freed twice. Hence: it is
 * called at most once per socket, here, and the result cached; nothing else in meshwire reads
 * the peer certificate, and code that needs it must call this function, never the socket.
 */
export function peerCertificate(socket: tls.TLSSocket): X509Certificate | undefined {
  const cached = peerCertificates.get(socket);
  if (cached) return cached;
  // Nothing is removed from the chain when there is no certificate, so that is not cached.
  const cert = socket.getPeerX509Certificate();
  if (cert) peerCertificates.set(socket, cert);
  return cert;
}
