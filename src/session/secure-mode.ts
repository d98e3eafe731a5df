import tls from 'node:tls';
import type { CodecLimits } from '../codec/codec.js';
import { NativeDecoder, NativeEncoder } from '../codec/native.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { AttemptLimiter } from '../secure/attempt-limiter.js';
import { createIdentity, loadOrCreateIdentity, type Identity } from '../secure/identity.js';
import { loadCpace } from '../secure/cpace.js';
import { deriveNetworkKeyAsync } from '../secure/network-key.js';
import {
  MESHWIRE_ALPN,
  tlsClientOptions,
  tlsServerOptions,
  withoutBufferPool,
} from '../secure/tls-options.js';
import { verifyPeer } from '../secure/verify.js';
import type { Transport } from '../transport/transport.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { nativeInbound, nativeOutbound } from './handshake.js';
import { HelloFirstDecoder } from './hello-first.js';
import type { SessionMode } from './session-mode.js';

const PLAINTEXT_TLS_ERRORS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_HTTPS_PROXY_REQUEST',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
]);

/**
 * BYTES payloads of at least this size are written to the TLS socket on their own
 * (`Connection`'s `soloBytes`): node:tls would otherwise copy each one into a new buffer together
 * with its header before encrypting. Below it, that copy costs less than the extra event-loop turn.
 */
export const SOLO_WRITE_BYTES = 256 * 1024;

/** OpenSSL's errors for a handshake whose ALPN lists have nothing in common (server, client side). */
const NO_COMMON_ALPN_ERRORS = new Set([
  'ERR_SSL_NO_APPLICATION_PROTOCOL',
  'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL',
]);

/** Waits for a TLS socket's handshake; turns failures into clear, coded errors. */
function secured(
  socket: tls.TLSSocket,
  event: 'secure' | 'secureConnect',
  address: string,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: MeshwireError): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err instanceof MeshwireError) {
        // Our own reason for destroying the socket (e.g. the handshake deadline): keep it.
        fail(err);
      } else if (err.code && PLAINTEXT_TLS_ERRORS.has(err.code)) {
        fail(
          new MeshwireError(
            'ERR_PLAINTEXT_REJECTED',
            `${address}: sent plaintext to a secure port (a compat-mode node?); connection closed`,
            { cause: err },
          ),
        );
      } else if (err.code && NO_COMMON_ALPN_ERRORS.has(err.code)) {
        fail(
          new MeshwireError(
            'ERR_TLS',
            `${address}: the peer speaks another revision of the meshwire protocol (we speak ALPN '${MESHWIRE_ALPN}'; is one side an older release?)`,
            { cause: err },
          ),
        );
      } else if (event === 'secureConnect' && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        fail(
          new MeshwireError(
            'ERR_MODE_MISMATCH',
            `${address}: connection closed during the TLS handshake: it is probably a node in compat mode, and this one is in secure mode (both sides must use the same mode)`,
            { cause: err },
          ),
        );
      } else {
        fail(
          new MeshwireError('ERR_TLS', `${address}: TLS handshake failed: ${err.message}`, { cause: err }),
        );
      }
    };
    const onClose = (): void =>
      fail(
        new MeshwireError(
          'ERR_TLS',
          event === 'secure'
            ? `${address}: connection closed during the TLS handshake (the dialer gave up; if it is another node started with this node's key file, give each node its own key file)`
            : `${address}: connection closed during the TLS handshake`,
        ),
      );
    const onAbort = (): void =>
      fail(toMeshwireError(signal?.reason ?? new MeshwireError('ERR_ABORTED', 'aborted')));
    const onSecure = (): void => {
      cleanup();
      resolve();
    };
    const cleanup = (): void => {
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.off(event, onSecure);
      signal?.removeEventListener('abort', onAbort);
    };
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once(event, onSecure);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * TLS 1.3 with Ed25519 identities, native binary frames, network key, allow-list and firewall,
 * over any transport (TLS runs on the transport's stream).
 */
export function secureMode(limits: CodecLimits, options: ResolvedOptions, transport: Transport): SessionMode {
  const encoder = new NativeEncoder(limits);
  let identity: Identity | undefined;
  let networkKey: Buffer | undefined;
  let serverOptions: tls.TLSSocketOptions | undefined;
  let clientOptions: tls.ConnectionOptions | undefined;
  const allow = options.allowList ? new Set(options.allowList) : undefined;
  // One per node: failed network-key attempts by source address, across all connections.
  const networkKeyAttempts = new AttemptLimiter({
    maxFailures: options.networkKeyMaxFailures,
    windowMs: options.networkKeyFailureWindowMs,
    maxSources: options.networkKeyMaxSources,
  });
  const me = (): Identity => {
    if (!identity) throw new MeshwireError('ERR_NOT_STARTED', 'identity not loaded');
    return identity;
  };
  const wrap = (socket: tls.TLSSocket, connectionLimits: ConnectionLimits, localHost: string): Connection =>
    new Connection(
      socket,
      new HelloFirstDecoder(new NativeDecoder(limits), limits.maxLineBytes),
      encoder,
      connectionLimits,
      localHost,
      SOLO_WRITE_BYTES,
    );
  return {
    mode: 'secure',
    async init() {
      identity ??= options.keyFile ? await loadOrCreateIdentity(options.keyFile) : await createIdentity();
      if (options.networkKey !== undefined && !networkKey) {
        networkKey = await deriveNetworkKeyAsync(options.networkKey);
        await loadCpace();
      }
      serverOptions = { ...tlsServerOptions(identity), isServer: true };
      clientOptions = tlsClientOptions(identity);
      return identity.id;
    },
    identity: me,
    networkKey: () => networkKey,
    async connect(target) {
      const raw = await transport.dial({ host: target.host, port: target.port, signal: target.signal });
      const socket = withoutBufferPool(() => tls.connect({ ...clientOptions, socket: raw.stream }));
      await secured(socket, 'secureConnect', target.address, target.signal);
      let certifiedId: string;
      try {
        certifiedId = verifyPeer(socket, target.expectedId);
      } catch (err) {
        socket.destroy();
        throw err;
      }
      if (certifiedId === me().id) {
        socket.destroy();
        throw new MeshwireError('ERR_SELF_CONNECTION', `${target.address} is this node itself`);
      }
      return {
        connection: wrap(socket, target.limits, raw.localHost),
        direction: 'outbound',
        address: target.address,
        remoteAddress: raw.remoteAddress,
        certifiedId,
      };
    },
    async accept(raw, connectionLimits, onWrap) {
      const address = raw.remoteAddress;
      const socket = withoutBufferPool(() => new tls.TLSSocket(raw.stream, serverOptions));
      onWrap(socket);
      await secured(socket, 'secure', address);
      // A server TLSSocket made by hand (not accepted by a tls.Server) reports TLS errors after
      // the handshake, such as a tampered record (bad record MAC), only through the internal
      // '_tlsError' event and then stays open (nodejs/node#8803): a man in the middle who swallows
      // our alert would keep a dead connection alive until the peer timeout. Turn them into
      // 'error' (the Connection's handler drops the peer with that error).
      socket.on('_tlsError', (err: Error) => socket.destroy(err));
      let certifiedId: string;
      try {
        certifiedId = verifyPeer(socket);
      } catch (err) {
        socket.destroy();
        throw err;
      }
      return {
        connection: wrap(socket, connectionLimits, raw.localHost),
        direction: 'inbound',
        address,
        remoteAddress: address,
        certifiedId,
      };
    },
    outbound: nativeOutbound,
    inbound: nativeInbound,
    context: (base) => ({
      ...base,
      ...(networkKey ? { networkKey, networkKeyAttempts } : {}),
      selfId: me().id,
      authorize: async (id, address, direction) => {
        if (allow && !allow.has(id)) return false;
        return options.firewall ? (await options.firewall({ id, address, direction })) === true : true;
      },
    }),
    encode: (frame) => encoder.encode(frame),
  };
}
