import { isIP } from 'node:net';
import { MeshwireError } from './errors.js';

/** A parsed `host:port` address. IPv6 hosts are kept without brackets. */
export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/**
 * Parses `host:port`, `[v6]:port` or `v4:port`. Returns `undefined` for anything else, so
 * addresses read from the network can be validated without try/catch.
 */
export function tryParseAddress(text: string): HostPort | undefined {
  if (text.length === 0 || text.length > 300) return undefined;
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']:');
    if (end < 0) return undefined;
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (isIP(host) !== 6) return undefined;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon <= 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return undefined;
    if (isIP(host) !== 4 && !HOSTNAME.test(host)) return undefined;
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  return { host, port };
}

/** Like {@link tryParseAddress} but throws `ERR_INVALID_ARGUMENT` naming the bad input. */
export function parseAddress(text: string): HostPort {
  const parsed = tryParseAddress(text);
  if (!parsed) {
    throw new MeshwireError(
      'ERR_INVALID_ARGUMENT',
      `invalid address ${JSON.stringify(text)}: expected host:port`,
    );
  }
  return parsed;
}

/** Formats host and port as an address string, bracketing IPv6 hosts. */
export function formatAddress(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Normalizes an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) as Node reports it to plain IPv4. */
export function normalizeHost(host: string): string {
  return host.startsWith('::ffff:') && isIP(host.slice(7)) === 4 ? host.slice(7) : host;
}

/** True for loopback hosts: `localhost`, 127.0.0.0/8 and ::1. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** True for the wildcard addresses a server can bind to. */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}
