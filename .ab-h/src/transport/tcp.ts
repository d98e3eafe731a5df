import net, { isIP } from 'node:net';
import { formatAddress, normalizeHost } from '../address.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import { limitedLookup } from './lookup-limit.js';
import type { Listener, Transport, TransportConnection } from './transport.js';

/** Options of an outbound TCP connection. */
export interface DialOptions {
  host: string;
  port: number;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Opens a TCP connection, failing with `ERR_CONNECT_TIMEOUT` or `ERR_ABORTED` instead of hanging. */
export function dialTcp({ host, port, timeoutMs, signal }: DialOptions): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MeshwireError('ERR_ABORTED', `dial ${host}:${port} aborted`));
    const socket = net.connect(
      isIP(host)
        ? { host, port, noDelay: true }
        : { host, port, noDelay: true, lookup: limitedLookup(signal) },
    );
    const finish = (err?: MeshwireError): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.off('connect', onConnect);
      socket.off('error', onError);
      if (err) {
        socket.destroy();
        reject(err);
      } else resolve(socket);
    };
    const onConnect = (): void => finish();
    const onError = (err: Error): void => finish(dialError(err, host, port));
    const onAbort = (): void => finish(new MeshwireError('ERR_ABORTED', `dial ${host}:${port} aborted`));
    const timer = setTimeout(
      () =>
        finish(
          new MeshwireError(
            'ERR_CONNECT_TIMEOUT',
            `connect to ${host}:${port} timed out after ${timeoutMs} ms`,
          ),
        ),
      timeoutMs,
    );
    socket.once('connect', onConnect);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A dial failure as a MeshwireError. A name that DNS says does not exist (`ENOTFOUND`) is
 * `ERR_HOST_NOT_FOUND`, which callers do not retry; a temporary DNS failure (`EAI_AGAIN`) stays
 * retryable.
 */
export function dialError(err: Error, host: string, port: number): MeshwireError {
  if ((err as NodeJS.ErrnoException).code === 'ENOTFOUND') {
    return new MeshwireError(
      'ERR_HOST_NOT_FOUND',
      `host ${JSON.stringify(host)} not found (DNS has no address for it); check the spelling of ${host}:${port}`,
      { cause: err },
    );
  }
  return toMeshwireError(err, 'ERR_CONNECTION_CLOSED');
}

/**
 * A listen failure as a MeshwireError with words a person can act on: a port in use is
 * `ERR_ADDRESS_IN_USE`; a bind address that is not this machine's, or a port we may not use,
 * is the caller's option (`ERR_INVALID_OPTION`).
 */
export function listenError(err: Error, host: string, port: number): MeshwireError {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EADDRINUSE':
      return new MeshwireError(
        'ERR_ADDRESS_IN_USE',
        `port ${port} is already in use${host === '0.0.0.0' || host === '::' ? '' : ` on ${host}`}; pick another port or 0 (any free port)`,
        { cause: err },
      );
    case 'EACCES':
      return new MeshwireError(
        'ERR_INVALID_OPTION',
        `invalid option port: not allowed to listen on port ${port} (ports below 1024 need privileges); pick another port or 0`,
        { cause: err },
      );
    case 'ENOTFOUND':
    case 'EADDRNOTAVAIL':
      return new MeshwireError(
        'ERR_INVALID_OPTION',
        `invalid option host: ${host} is not an address of this machine`,
        { cause: err },
      );
    default:
      return toMeshwireError(err, 'ERR_INVALID_OPTION');
  }
}

/** Starts `server` listening and resolves with the bound port. */
export function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(listenError(err, host, port));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

function tcpConnection(socket: net.Socket): TransportConnection {
  return {
    stream: socket,
    remoteAddress: formatAddress(normalizeHost(socket.remoteAddress ?? 'unknown'), socket.remotePort ?? 0),
    localHost: normalizeHost(socket.localAddress ?? '127.0.0.1'),
    bytesRead: () => socket.bytesRead,
  };
}

/** Largest delay setTimeout honours: the caller's signal bounds a dial, not a timer of ours. */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * TCP, the default transport: Nagle off (frames are small and latency matters), host names
 * resolved through the bounded lookup queue.
 */
export const tcpTransport: Transport = {
  async listen({ host, port }, onConnection): Promise<Listener> {
    const server = net.createServer({ noDelay: true }, (socket) => onConnection(tcpConnection(socket)));
    const bound = await listenOn(server, host, port);
    return {
      port: bound,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
  async dial({ host, port, signal }) {
    const socket = await dialTcp({ host, port, timeoutMs: NO_TIMEOUT_MS, ...(signal ? { signal } : {}) });
    return tcpConnection(socket);
  },
};
