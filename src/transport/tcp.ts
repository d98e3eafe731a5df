import net from 'node:net';
import { MeshwireError, toMeshwireError } from '../errors.js';
import { limitedLookup } from './lookup-limit.js';

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
    const socket = net.connect({ host, port, noDelay: true, lookup: limitedLookup(signal) });
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
    const onError = (err: Error): void => finish(toMeshwireError(err, 'ERR_CONNECTION_CLOSED'));
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

/** Starts `server` listening and resolves with the bound port. */
export function listenOn(server: net.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(toMeshwireError(err, 'ERR_INVALID_OPTION'));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}
