/**
 * The HTTP rules shared by the dashboard and the metrics listener: the access token, `Host` and
 * `Origin` checks against the bound address (no DNS rebinding), and the security headers.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import os from 'node:os';

/** Bytes of randomness in a generated token (256 bits). */
export const TOKEN_BYTES = 32;

/** A fresh random token, URL-safe. */
export function generateToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/**
 * The strict Content-Security-Policy of every response: scripts and styles only from this
 * origin (no inline script or style), no plugins, no framing, fetches only to this origin.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Headers sent with every response, data or not. */
export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
  };
}

/** True for 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

function hostWithPort(host: string, port: number): string {
  const h = host.toLowerCase();
  return net.isIPv6(h) ? `[${h}]:${port}` : `${h}:${port}`;
}

/**
 * The `Host` header values this server answers to: the bound address with its port, `localhost`
 * when bound to loopback, every local interface address when bound to a wildcard, and any extra
 * names the caller allows (e.g. a DNS name behind which the node is reached on purpose).
 */
export function allowedHosts(boundHost: string, port: number, extra: readonly string[] = []): Set<string> {
  const out = new Set<string>();
  const add = (h: string): void => void out.add(hostWithPort(h, port));
  add(boundHost);
  if (isLoopbackHost(boundHost)) {
    add('localhost');
    add('127.0.0.1');
  }
  if (boundHost === '0.0.0.0' || boundHost === '::') {
    add('localhost');
    for (const addrs of Object.values(os.networkInterfaces())) {
      for (const a of addrs ?? []) add(a.address);
    }
  }
  for (const h of extra) add(h);
  return out;
}

/** Why a request was refused, or undefined when it may proceed. */
export type Refusal = { status: 401 | 403 };

/** Checks `Host` and, when present, `Origin` against the allowed set. */
export function checkHostAndOrigin(req: IncomingMessage, allowed: ReadonlySet<string>): Refusal | undefined {
  const host = req.headers.host?.toLowerCase();
  if (!host || !allowed.has(host)) return { status: 403 };
  const origin = req.headers.origin;
  if (origin !== undefined) {
    // A page on another origin (or an opaque one) must not drive this API, even with a token.
    if (!origin.startsWith('http://') || !allowed.has(origin.slice('http://'.length).toLowerCase()))
      return { status: 403 };
  }
  return undefined;
}

/** The token a request carries as `Authorization: Bearer`, or as `?token=` when `allowQuery`. */
export function requestToken(req: IncomingMessage, url: URL, allowQuery: boolean): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length).trim();
  if (allowQuery) return url.searchParams.get('token') ?? undefined;
  return undefined;
}

/** Constant-time comparison of a presented token with the expected one. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Ends `res` with `status`, the security headers and an empty body: nothing else leaks. */
export function refuse(res: ServerResponse, status: number): void {
  res.writeHead(status, {
    ...securityHeaders(),
    'content-length': '0',
    'cache-control': 'no-store',
    ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
  });
  res.end();
}

/** Writes a JSON body with no-store caching. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...securityHeaders(),
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
  });
  res.end(text);
}
