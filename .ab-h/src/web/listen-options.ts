/**
 * Validation of the listener options shared by the dashboard and the metrics server, and the
 * warning for a listener reachable from other machines.
 */
import http from 'node:http';
import type net from 'node:net';
import { MeshwireError } from '../errors.js';
import { isLoopbackHost } from './http-guard.js';

/** The default bind address: loopback only. */
export const DEFAULT_WEB_HOST = '127.0.0.1';

/** Options common to both listeners. */
export interface ListenOptions {
  /** TCP port; 0 picks a free one. @default 0 */
  port?: number;
  /**
   * Address to bind. Anything but loopback exposes the node's data to the network (still behind
   * the token) and triggers a warning. @default '127.0.0.1'
   */
  host?: string;
  /** Extra `Host` header names to accept (e.g. a DNS name you reach the node by). @default [] */
  allowedHosts?: readonly string[];
  /** Where warnings go. @default process.emitWarning */
  onWarning?: (message: string) => void;
}

/** Validated listener options. */
export interface ResolvedListen {
  port: number;
  host: string;
  allowedHosts: readonly string[];
  onWarning: (message: string) => void;
}

function invalid(name: string, detail: string): MeshwireError {
  return new MeshwireError('ERR_INVALID_OPTION', `${name} ${detail}`);
}

/** Validates `options`; throws `ERR_INVALID_OPTION` naming the bad one. */
export function resolveListen(options: ListenOptions, what: string): ResolvedListen {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalid(`${what} port`, `must be an integer from 0 to 65535, got ${String(options.port)}`);
  const host = options.host ?? DEFAULT_WEB_HOST;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255)
    throw invalid(`${what} host`, `must be a non-empty address, got ${String(options.host)}`);
  const allowedHosts = options.allowedHosts ?? [];
  if (!Array.isArray(allowedHosts) || allowedHosts.some((h) => typeof h !== 'string' || h.length === 0))
    throw invalid(`${what} allowedHosts`, 'must be an array of host names');
  const onWarning =
    options.onWarning ??
    ((message: string) => process.emitWarning(message, { code: 'MESHWIRE_WEB_EXPOSED' }));
  if (typeof onWarning !== 'function') throw invalid(`${what} onWarning`, 'must be a function');
  return { port, host, allowedHosts, onWarning };
}

/** Starts `server` on the resolved address, warning first when it is not loopback. */
export async function listenHttp(server: http.Server, opts: ResolvedListen, what: string): Promise<number> {
  if (!isLoopbackHost(opts.host)) {
    opts.onWarning(
      `the ${what} listens on ${opts.host}, reachable from other machines: anyone with the token ` +
        'can read this node and act as it; traffic is plain HTTP',
    );
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as net.AddressInfo).port;
}

/** Closes `server` and every connection still open on it (live streams never end by themselves). */
export function closeHttp(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** `http://host:port` for a bound host (IPv6 in brackets). */
export function httpUrl(host: string, port: number): string {
  return host.includes(':') ? `http://[${host}]:${port}` : `http://${host}:${port}`;
}
