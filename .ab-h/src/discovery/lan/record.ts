/**
 * The LAN announcement: what a node puts in its DNS-SD TXT record, how it is signed (secure
 * mode) or sealed (secure mode with a network key), and the stateless checks a receiver makes.
 * Pure: no sockets, no timers; the time is passed in. See PROTOCOL.md, "LAN discovery".
 */
import { isIP } from 'node:net';
import { peerIdFromPublicKey, isPeerId } from '../../secure/identity.js';
import type { LanSigner } from './signer.js';
import { openSealed, seal, privateTag, type LanKeys } from './private-keys.js';

/** The DNS-SD service type meshwire nodes announce and browse. */
export const SERVICE_TYPE = '_meshwire._tcp.local';

/** Version of the announcement format (TXT `v`). */
export const RECORD_VERSION = 1;

/** At most this many addresses in one announcement (one interface's addresses). */
export const MAX_ADDRESSES = 8;

/** At most this many TXT strings are read from one record. */
export const MAX_TXT_STRINGS = 16;

/** Compat node IDs in announcements: short, DNS-label-safe. */
const COMPAT_ID = /^[A-Za-z0-9_-]{1,56}$/;

/** Domain separation of the signed bytes, so a signature here can mean nothing elsewhere. */
const SIGNING_CONTEXT = 'meshwire-lan-announcement-v1';

/** Which protocol the announcing node speaks. */
export type LanMode = 'secure' | 'compat';

/** One node's announcement, decoded. */
export interface Announcement {
  mode: LanMode;
  /** Peer ID (secure: derived from `publicKey`; compat: the node's claimed ID). */
  id: string;
  /** TCP port the node accepts connections on. */
  port: number;
  /** IP literals the node is reachable on (the announcing interface's). */
  addresses: string[];
  /** When it was made (ms since the epoch, the sender's clock). */
  issuedAt: number;
  /** After this (ms since the epoch) it must not be accepted. */
  expiresAt: number;
  /** A goodbye: the node is leaving. */
  goodbye: boolean;
  /** Secure mode: raw Ed25519 public key. */
  publicKey?: Uint8Array;
  /** Secure mode: Ed25519 signature over {@link signingPayload}. */
  signature?: Uint8Array;
}

/** Why an announcement was ignored (counted per reason). */
export type RejectReason =
  | 'malformed'
  | 'version'
  | 'other-mode'
  | 'wrong-id'
  | 'signature'
  | 'expired'
  | 'replay'
  | 'not-member'
  | 'private'
  | 'full';

/** Result of {@link openAnnouncement}. */
export type OpenResult = { ok: true; announcement: Announcement } | { ok: false; reason: RejectReason };

/** What a receiver checks announcements against. */
export interface OpenContext {
  /** The receiver's mode: announcements of the other mode are ignored. */
  mode: LanMode;
  /** Secure mode: verifies signatures (and that the ID derives from the key). */
  signer?: LanSigner;
  /** Secure mode with a network key: only sealed announcements of members are accepted. */
  keys?: LanKeys;
  /** Receiver's clock, ms since the epoch. */
  now: number;
  /** Tolerated clock difference between hosts, ms. */
  clockSkewMs: number;
}

/** The exact bytes an announcement's signature covers. */
export function signingPayload(a: Announcement): Buffer {
  return Buffer.from(
    [
      SIGNING_CONTEXT,
      `m=${a.mode}`,
      `id=${a.id}`,
      `pk=${a.publicKey ? Buffer.from(a.publicKey).toString('base64url') : ''}`,
      `p=${a.port}`,
      `a=${a.addresses.join(',')}`,
      `ia=${a.issuedAt}`,
      `ex=${a.expiresAt}`,
      `g=${a.goodbye ? 1 : 0}`,
    ].join('\n'),
    'utf8',
  );
}

/** Signs an announcement with the node's identity (secure mode). */
export function signAnnouncement(
  a: Omit<Announcement, 'publicKey' | 'signature'>,
  signer: LanSigner,
): Announcement {
  const unsigned: Announcement = { ...a, publicKey: signer.publicKey };
  return { ...unsigned, signature: signer.sign(signingPayload(unsigned)) };
}

/** The announcement's own fields as TXT strings (without `v` and `m`). */
function fieldStrings(a: Announcement): string[] {
  const out = [`id=${a.id}`];
  if (a.publicKey) out.push(`pk=${Buffer.from(a.publicKey).toString('base64url')}`);
  out.push(`p=${a.port}`, `a=${a.addresses.join(',')}`, `ia=${a.issuedAt}`, `ex=${a.expiresAt}`);
  if (a.goodbye) out.push('g=1');
  if (a.signature) out.push(`sg=${Buffer.from(a.signature).toString('base64url')}`);
  return out;
}

/** Length of one sealed chunk in a TXT string (`x0=` + 240 base64url characters < 255 bytes). */
const SEALED_CHUNK = 240;

/**
 * Encodes an announcement as TXT strings. With `keys` (a network key), everything but the
 * version, the mode and a keyed tag is sealed, so strangers learn no ID.
 */
export function encodeTxt(a: Announcement, keys?: LanKeys): string[] {
  const head = [`v=${RECORD_VERSION}`, `m=${a.mode === 'secure' ? 's' : 'c'}`];
  if (!keys) return [...head, ...fieldStrings(a)];
  const tag = privateTag(keys, a.id, a.issuedAt).toString('base64url');
  head.push(`t=${tag}`);
  const sealed = seal(keys, Buffer.from(fieldStrings(a).join('\n'), 'utf8'), aad(head)).toString('base64url');
  const chunks: string[] = [];
  for (let i = 0; i < sealed.length; i += SEALED_CHUNK)
    chunks.push(`x${chunks.length}=${sealed.slice(i, i + SEALED_CHUNK)}`);
  return [...head, ...chunks];
}

/** The private instance label: the tag in hex (it changes every tag window, and names nobody). */
export function instanceLabel(a: Announcement, keys?: LanKeys): string {
  return keys ? `mw-${privateTag(keys, a.id, a.issuedAt).toString('hex')}` : `mw-${a.id}`;
}

function aad(head: string[]): Buffer {
  return Buffer.from(head.join('\n'), 'utf8');
}

/** Splits TXT strings into a key → value map; `undefined` if malformed (bounded, keys unique). */
export function parseTxt(strings: readonly (string | Uint8Array)[]): Map<string, string> | undefined {
  if (strings.length === 0 || strings.length > MAX_TXT_STRINGS) return undefined;
  const fields = new Map<string, string>();
  for (const raw of strings) {
    if (raw.length > 255) return undefined;
    const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    const eq = text.indexOf('=');
    if (eq <= 0) return undefined;
    const key = text.slice(0, eq);
    if (fields.has(key)) return undefined;
    fields.set(key, text.slice(eq + 1));
  }
  return fields;
}

const DECIMAL = /^\d{1,15}$/;

/** Reads the announcement's own fields (see {@link fieldStrings}); `undefined` if malformed. */
function readFields(fields: Map<string, string>, mode: LanMode): Announcement | undefined {
  const id = fields.get('id');
  const port = fields.get('p');
  const addresses = fields.get('a');
  const ia = fields.get('ia');
  const ex = fields.get('ex');
  const g = fields.get('g');
  if (
    id === undefined ||
    port === undefined ||
    addresses === undefined ||
    ia === undefined ||
    ex === undefined
  )
    return undefined;
  if (mode === 'secure' ? !isPeerId(id) : !COMPAT_ID.test(id)) return undefined;
  if (!DECIMAL.test(port) || !DECIMAL.test(ia) || !DECIMAL.test(ex)) return undefined;
  const portNumber = Number(port);
  if (portNumber < 1 || portNumber > 65535) return undefined;
  if (g !== undefined && g !== '1') return undefined;
  const list = addresses === '' ? [] : addresses.split(',');
  if (list.length === 0 || list.length > MAX_ADDRESSES || list.some((addr) => isIP(addr) === 0))
    return undefined;
  const a: Announcement = {
    mode,
    id,
    port: portNumber,
    addresses: list,
    issuedAt: Number(ia),
    expiresAt: Number(ex),
    goodbye: g === '1',
  };
  if (mode === 'secure') {
    const pk = fields.get('pk');
    const sg = fields.get('sg');
    if (pk === undefined || sg === undefined) return undefined;
    a.publicKey = Buffer.from(pk, 'base64url');
    a.signature = Buffer.from(sg, 'base64url');
    if (a.publicKey.length !== 32 || a.signature.length !== 64) return undefined;
  }
  return a;
}

/**
 * Decodes and checks one TXT record: format, mode, membership (network key), ID derivation,
 * signature and expiry. Replays of older announcements are caught later, by the receiver's
 * per-peer state, because that needs memory.
 */
export function openAnnouncement(strings: readonly (string | Uint8Array)[], ctx: OpenContext): OpenResult {
  const fields = parseTxt(strings);
  if (!fields) return { ok: false, reason: 'malformed' };
  if (fields.get('v') !== String(RECORD_VERSION)) return { ok: false, reason: 'version' };
  const m = fields.get('m');
  if (m !== 's' && m !== 'c') return { ok: false, reason: 'malformed' };
  const mode: LanMode = m === 's' ? 'secure' : 'compat';
  if (mode !== ctx.mode) return { ok: false, reason: 'other-mode' };

  let inner = fields;
  const tag = fields.get('t');
  if (ctx.keys) {
    if (tag === undefined) return { ok: false, reason: 'not-member' };
    let sealed = '';
    for (let i = 0; fields.has(`x${i}`); i++) sealed += fields.get(`x${i}`);
    const head = [`v=${RECORD_VERSION}`, `m=${m}`, `t=${tag}`];
    const plain = openSealed(ctx.keys, Buffer.from(sealed, 'base64url'), aad(head));
    if (!plain) return { ok: false, reason: 'not-member' };
    const parsed = parseTxt(plain.toString('utf8').split('\n'));
    if (!parsed) return { ok: false, reason: 'malformed' };
    inner = parsed;
  } else if (tag !== undefined) {
    // A private network's announcement: without its key there is nothing to learn from it.
    return { ok: false, reason: 'private' };
  }

  const a = readFields(inner, mode);
  if (!a) return { ok: false, reason: 'malformed' };
  if (mode === 'secure') {
    if (!ctx.signer) return { ok: false, reason: 'signature' };
    if (peerIdFromPublicKey(a.publicKey!) !== a.id) return { ok: false, reason: 'wrong-id' };
    if (!ctx.signer.verify(a.id, a.publicKey, signingPayload(a), a.signature!))
      return { ok: false, reason: 'signature' };
    // The tag is bound to the ID and the time window: a member's tag cannot front another's record.
    if (ctx.keys && tag !== privateTag(ctx.keys, a.id, a.issuedAt).toString('base64url'))
      return { ok: false, reason: 'not-member' };
  }
  if (
    a.expiresAt + ctx.clockSkewMs < ctx.now ||
    a.issuedAt > ctx.now + ctx.clockSkewMs ||
    a.expiresAt < a.issuedAt
  )
    return { ok: false, reason: 'expired' };
  return { ok: true, announcement: a };
}
