import { constants } from 'node:crypto';
import tls from 'node:tls';
import type { Identity } from './identity.js';

/**
 * ALPN protocol name of meshwire's secure mode. Bump the suffix for an incompatible wire change:
 * peers then fail the TLS handshake (no common application protocol) or `verifyPeer` instead of
 * misparsing frames. `meshwire/2`: the network key is proved with CPace (PROTOCOL.md rule 4)
 * instead of `meshwire/1`'s HMAC, which let a rogue peer test passphrase guesses offline.
 */
export const MESHWIRE_ALPN = 'meshwire/2';

const contexts = new WeakMap<Identity, tls.SecureContext>();

/**
 * Runs `make` (which must create a TLS socket synchronously: `tls.connect` or
 * `new tls.TLSSocket`) with Node's Buffer pool off.
 *
 * Node turns `ALPNProtocols` into an 11-byte Buffer for every socket and keeps it for the
 * socket's life (in its options, and on the server side for the ALPN callback). Carved from the
 * shared 8 KiB allocation pool, each such slice pinned a whole pool slab: 74 slabs for 100 peers
 * in a heap snapshot, ~6 KiB of RSS per connected peer. With the pool off for this one
 * synchronous call, it is an exact-size allocation. `Buffer.poolSize` is public and writable,
 * nothing else runs meanwhile, and it is restored even if `make` throws.
 */
export function withoutBufferPool<T>(make: () => T): T {
  const poolSize = Buffer.poolSize;
  Buffer.poolSize = 0;
  try {
    return make();
  } finally {
    Buffer.poolSize = poolSize;
  }
}

/**
 * The TLS secure context (key, certificate, TLS 1.3 only) of an identity, built once and cached.
 *
 * `tls.connect` and `new tls.TLSSocket` otherwise parse the key and certificate into a new
 * context for every connection, which measured ~0.8 ms and about doubled a loopback handshake.
 */
export function secureContextFor(identity: Identity): tls.SecureContext {
  let context = contexts.get(identity);
  if (!context) {
    context = tls.createSecureContext(contextOptions(identity));
    contexts.set(identity, context);
  }
  return context;
}

/**
 * Options for `tls.createServer`, or for `new tls.TLSSocket(socket, { isServer: true, ...})` on
 * an accepted socket, in secure mode: TLS 1.3 only, our certificate, and a client certificate
 * requested but not validated against any CA. Self-signed certificates are expected;
 * `verifyPeer` authenticates the peer's key once the handshake is done, and callers must close
 * the socket if it throws.
 *
 * Includes the cached {@link secureContextFor} (used by `TLSSocket`; `tls.createServer` builds
 * its own from `key`/`cert`). Returns a fresh object on every call, so callers may add options.
 */
export function tlsServerOptions(identity: Identity): tls.TlsOptions {
  return {
    ...commonOptions(identity),
    requestCert: true,
  };
}

/**
 * Options for `tls.connect` in secure mode (add `host`/`port` or `socket` yourself): TLS 1.3
 * only, our certificate as client certificate, and no CA or hostname checks, since peers are
 * identified by key and not by name. Call `verifyPeer` with the expected peer ID on
 * 'secureConnect'.
 *
 * Includes the cached {@link secureContextFor}, which takes precedence over `key`, `cert`,
 * `minVersion` and `maxVersion`: to override any of those, drop `secureContext` as well.
 * Do not add a `session`: this layer is designed around full handshakes. Resumption (a TLS 1.3
 * PSK from an earlier session) would skip the certificate and CertificateVerify, so the peer's
 * identity would rest on a secret cached from another connection instead of being proven by
 * its key on this one, and a leaked ticket key or session would let its holder pass for the
 * peer; it would also not help the costly case, a mesh forming, where every pair meets once.
 */
export function tlsClientOptions(identity: Identity): tls.ConnectionOptions {
  return {
    ...commonOptions(identity),
    checkServerIdentity: () => undefined,
  };
}

function contextOptions(identity: Identity): tls.SecureContextOptions {
  return {
    key: identity.keyPem,
    cert: identity.certPem,
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    // Every meshwire node offers and accepts X25519 (OpenSSL's default key share), so listing it
    // alone changes nothing on the wire between meshwire nodes but rules out a HelloRetryRequest.
    ecdhCurve: 'X25519',
    // No stateless session tickets. By default an OpenSSL TLS 1.3 server sends two
    // NewSessionTickets after every handshake, each the whole session (the client's certificate
    // included) serialized and encrypted, and the client parses both: ~0.3 ms of CPU per link
    // (bench/README.md, "Cheaper secure links") for resumption meshwire never uses (see
    // tlsClientOptions). With this option OpenSSL 3 sends stateful tickets instead, which only
    // name a server-side cache entry; Node's contexts keep no internal cache and meshwire sets
    // no session callbacks, so nothing is stored and no ticket can resume a session (tested).
    secureOptions: constants.SSL_OP_NO_TICKET,
  };
}

function commonOptions(identity: Identity): tls.SecureContextOptions & tls.CommonConnectionOptions {
  return {
    ...contextOptions(identity),
    secureContext: secureContextFor(identity),
    // There is no CA to check against; authentication happens in verifyPeer.
    rejectUnauthorized: false,
    ALPNProtocols: [MESHWIRE_ALPN],
  };
}
