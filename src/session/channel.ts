import net from 'node:net';
import tls from 'node:tls';
import { formatAddress, normalizeHost } from '../address.js';
import type { CodecLimits } from '../codec/codec.js';
import { CompatDecoder, CompatEncoder } from '../codec/compat.js';
import type { Frame } from '../codec/frame.js';
import { NativeDecoder, NativeEncoder } from '../codec/native.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import type { ResolvedOptions } from '../options.js';
import { createIdentity, loadOrCreateIdentity, type Identity } from '../secure/identity.js';
import { deriveNetworkKeyAsync } from '../secure/network-key.js';
import { tlsClientOptions, tlsServerOptions } from '../secure/tls-options.js';
import { verifyPeer } from '../secure/verify.js';
import { dialTcp } from '../transport/tcp.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { HelloFirstDecoder } from './hello-first.js';
import {
  compatInbound,
  compatOutbound,
  nativeInbound,
  nativeOutbound,
  type Handshaken,
  type HandshakeContext,
  type Remote,
} from './handshake.js';

/** Where and how to dial. */
export interface OutboundTarget {
  host: string;
  port: number;
  address: string;
  /** Secure mode: the ID the peer must prove (learned from a PEERS list or an earlier connection). */
  expectedId?: string;
  signal: AbortSignal;
  limits: ConnectionLimits;
}

/**
 * The mode-specific part of a node: how a socket becomes an authenticated connection with the
 * right codec, and which handshake runs on it. Everything else is shared by both modes.
 */
export interface Channel {
  readonly mode: 'secure' | 'compat';
  /** Prepares keys; returns the node ID when the mode derives it (secure). */
  init(): Promise<string | undefined>;
  connect(target: OutboundTarget): Promise<Remote>;
  /**
   * Turns an accepted socket into a connection. `onWrap` receives the socket that must be
   * destroyed from then on (the TLS socket: destroying the raw socket under a live TLSSocket
   * can crash Node 20).
   */
  accept(socket: net.Socket, limits: ConnectionLimits, onWrap: (socket: net.Socket) => void): Promise<Remote>;
  outbound(ctx: HandshakeContext, remote: Remote): Promise<Handshaken>;
  inbound(ctx: HandshakeContext, remote: Remote): Promise<Handshaken>;
  /** Completes the handshake context with the mode's access control. */
  context(base: HandshakeContext): HandshakeContext;
  /** Encodes `frame` once for many peers; throws if this mode cannot carry it (e.g. compat chat that reads as a control line). */
  encode(frame: Frame): Buffer[];
}

function socketAddress(socket: net.Socket): string {
  return formatAddress(normalizeHost(socket.remoteAddress ?? 'unknown'), socket.remotePort ?? 0);
}

/** The original's plaintext line protocol. */
export function openCompat(limits: CodecLimits): Channel {
  const encoder = new CompatEncoder(limits);
  return {
    mode: 'compat',
    init: async () => undefined,
    async connect(target) {
      const socket = await dialTcp({
        host: target.host,
        port: target.port,
        timeoutMs: 2 ** 31 - 1,
        signal: target.signal,
      });
      const connection = new Connection(socket, new CompatDecoder('dialer', limits), encoder, target.limits);
      return {
        connection,
        direction: 'outbound',
        address: target.address,
        remoteAddress: socketAddress(socket),
      };
    },
    async accept(socket, connectionLimits) {
      const connection = new Connection(
        socket,
        new CompatDecoder('listener', limits),
        encoder,
        connectionLimits,
      );
      const address = socketAddress(socket);
      return { connection, direction: 'inbound', address, remoteAddress: address };
    },
    outbound: (ctx, remote) =>
      compatOutbound(ctx, remote).catch((err) => Promise.reject(explainCompatFailure(err, remote))),
    inbound: compatInbound,
    context: (base) => base,
    encode: (frame) => encoder.encode(frame),
  };
}

function explainCompatFailure(err: unknown, remote: Remote): MeshwireError {
  const error = toMeshwireError(err);
  if (error.code === 'ERR_CONNECTION_CLOSED' || error.code === 'ERR_MALFORMED_FRAME') {
    return new MeshwireError(
      'ERR_CONNECTION_CLOSED',
      `${remote.address} closed the connection during the compat handshake: it is probably a node in secure mode, and this one is in compat mode (both sides must use the same mode)`,
      { cause: error },
    );
  }
  return error;
}

const PLAINTEXT_TLS_ERRORS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_HTTPS_PROXY_REQUEST',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_UNKNOWN_PROTOCOL',
  'ERR_SSL_RECORD_LAYER_FAILURE',
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
      } else if (event === 'secureConnect' && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
        fail(
          new MeshwireError(
            'ERR_TLS',
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

/** TLS 1.3 with Ed25519 identities, native binary frames, network key, allow-list and firewall. */
export function openSecure(limits: CodecLimits, options: ResolvedOptions): Channel {
  const encoder = new NativeEncoder(limits);
  let identity: Identity | undefined;
  let networkKey: Buffer | undefined;
  let serverOptions: tls.TLSSocketOptions | undefined;
  let clientOptions: tls.ConnectionOptions | undefined;
  const allow = options.allowList ? new Set(options.allowList) : undefined;
  const me = (): Identity => {
    if (!identity) throw new MeshwireError('ERR_NOT_STARTED', 'identity not loaded');
    return identity;
  };
  const wrap = (socket: tls.TLSSocket, connectionLimits: ConnectionLimits): Connection =>
    new Connection(
      socket,
      new HelloFirstDecoder(new NativeDecoder(limits), limits.maxLineBytes),
      encoder,
      connectionLimits,
    );
  return {
    mode: 'secure',
    async init() {
      identity ??= options.keyFile ? await loadOrCreateIdentity(options.keyFile) : await createIdentity();
      if (options.networkKey !== undefined && !networkKey)
        networkKey = await deriveNetworkKeyAsync(options.networkKey);
      serverOptions = { ...tlsServerOptions(identity), isServer: true };
      clientOptions = tlsClientOptions(identity);
      return identity.id;
    },
    async connect(target) {
      const raw = await dialTcp({
        host: target.host,
        port: target.port,
        timeoutMs: 2 ** 31 - 1,
        signal: target.signal,
      });
      const socket = tls.connect({ ...clientOptions, socket: raw });
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
        connection: wrap(socket, target.limits),
        direction: 'outbound',
        address: target.address,
        remoteAddress: socketAddress(raw),
        certifiedId,
      };
    },
    async accept(raw, connectionLimits, onWrap) {
      const address = socketAddress(raw);
      const socket = new tls.TLSSocket(raw, serverOptions);
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
        connection: wrap(socket, connectionLimits),
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
      ...(networkKey ? { networkKey } : {}),
      authorize: async (id, address, direction) => {
        if (allow && !allow.has(id)) return false;
        return options.firewall ? (await options.firewall({ id, address, direction })) === true : true;
      },
    }),
    encode: (frame) => encoder.encode(frame),
  };
}
