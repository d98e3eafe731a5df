import { MeshwireError } from '../../errors.js';
import type { LanMode } from './record.js';
import type { LanSigner } from './signer.js';

/** A peer address found on the LAN, handed to the node (the lead's `addCandidate`). */
export interface LanCandidate {
  /** `ip:port` or `[ipv6]:port`. */
  address: string;
  /** The announcing peer's ID. */
  id: string;
  source: 'lan';
  /**
   * Secure mode: true, because the ID, the addresses and the port are signed by the key the ID
   * derives from, so the address cannot have been paired with someone else's ID. (The address
   * may still be unreachable; only a dial proves that.) Compat: false, nothing is signed.
   */
  verified: boolean;
}

/** Why a peer was dropped: it said goodbye, or its record's TTL ran out. */
export type LanGoneReason = 'goodbye' | 'expired';

/** Options of {@link LanDiscovery}. */
export interface LanDiscoveryOptions {
  /** Which protocol this node speaks; only nodes of the same mode are announced to and found. */
  mode: LanMode;
  /** The TCP port the node accepts connections on. */
  port: number;
  /** Secure mode (required): the node's identity, for signing and checking announcements. */
  signer?: LanSigner;
  /** Compat mode (required): the node's ID, announced unsigned. */
  id?: string;
  /** Secure mode: the 32-byte network key; announcements become private (see README). */
  networkKey?: Uint8Array;
  /** Interface names to use. @default every up, multicast-capable, non-loopback IPv4 interface */
  interfaces?: readonly string[];
  /** Called for each new address of a peer, at most at the rate limit. */
  onCandidate: (candidate: LanCandidate) => void;
  /** Called when a known peer says goodbye or its record expires. */
  onGone?: (id: string, reason: LanGoneReason) => void;
  /** Socket trouble that does not stop discovery (a send failing while a link is down). */
  onWarning?: (error: Error) => void;
  /** DNS TTL of our records, ms; a peer not heard from for this long is dropped. @default 120000 */
  ttlMs?: number;
  /** First query interval, ms; it doubles after each query. @default 1000 */
  queryIntervalMs?: number;
  /** Cap of the query interval, ms. @default 60000 */
  maxQueryIntervalMs?: number;
  /** Candidates per second handed on at most. @default 20 */
  maxCandidatesPerSecond?: number;
  /** Candidates handed on at once before the rate applies. @default 64 */
  candidateBurst?: number;
  /** Peers remembered at most; announcements from more are ignored and counted. @default 512 */
  maxPeers?: number;
  /** Tolerated clock difference between hosts for expiry checks, ms. @default 30000 */
  clockSkewMs?: number;
  /** UDP port (tests only; every mDNS host uses 5353). @default 5353 */
  mdnsPort?: number;
}

/** Defaults of {@link LanDiscoveryOptions}. */
export const LAN_DEFAULTS = {
  ttlMs: 120_000,
  queryIntervalMs: 1_000,
  maxQueryIntervalMs: 60_000,
  maxCandidatesPerSecond: 20,
  candidateBurst: 64,
  maxPeers: 512,
  clockSkewMs: 30_000,
  mdnsPort: 5353,
} as const;

/** Options after defaults and validation. */
export type ResolvedLanOptions = LanDiscoveryOptions & { [K in keyof typeof LAN_DEFAULTS]: number };

function invalid(option: string, why: string): MeshwireError {
  return new MeshwireError('ERR_INVALID_OPTION', `invalid option ${option}: ${why}`);
}

function checkInt(options: Record<string, unknown>, key: string, min: number, max: number): void {
  const value = options[key];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw invalid(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
}

/** Applies defaults and validates; throws `ERR_INVALID_OPTION` naming the bad option. */
export function resolveLanOptions(options: LanDiscoveryOptions): ResolvedLanOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'expected an object');
  const raw = options as unknown as Record<string, unknown>;
  if (options.mode !== 'secure' && options.mode !== 'compat')
    throw invalid('mode', "expected 'secure' or 'compat'");
  checkInt(raw, 'port', 1, 65535);
  if (options.port === undefined) throw invalid('port', 'required');
  if (typeof options.onCandidate !== 'function') throw invalid('onCandidate', 'expected a function');
  if (options.onGone !== undefined && typeof options.onGone !== 'function')
    throw invalid('onGone', 'expected a function');
  if (options.mode === 'secure') {
    const s = options.signer;
    if (!s || typeof s.sign !== 'function' || typeof s.verify !== 'function' || typeof s.id !== 'string')
      throw invalid('signer', 'secure mode needs a signer { id, publicKey, sign, verify }');
    if (options.id !== undefined && options.id !== s.id) throw invalid('id', "differs from the signer's ID");
  } else {
    if (typeof options.id !== 'string' || !/^[A-Za-z0-9_-]{1,56}$/.test(options.id))
      throw invalid('id', 'compat mode needs the node ID (1-56 characters A-Z a-z 0-9 _ -)');
    if (options.networkKey !== undefined) throw invalid('networkKey', 'only available in secure mode');
  }
  if (
    options.networkKey !== undefined &&
    !(options.networkKey instanceof Uint8Array && options.networkKey.length >= 16)
  )
    throw invalid('networkKey', 'expected the derived network key (at least 16 bytes)');
  if (
    options.interfaces !== undefined &&
    (!Array.isArray(options.interfaces) ||
      options.interfaces.length === 0 ||
      options.interfaces.length > 32 ||
      options.interfaces.some((n) => typeof n !== 'string' || n.length === 0))
  )
    throw invalid('interfaces', 'expected a non-empty array of interface names');
  checkInt(raw, 'ttlMs', 1_000, 3_600_000);
  checkInt(raw, 'queryIntervalMs', 100, 600_000);
  checkInt(raw, 'maxQueryIntervalMs', 100, 3_600_000);
  checkInt(raw, 'maxCandidatesPerSecond', 1, 10_000);
  checkInt(raw, 'candidateBurst', 1, 10_000);
  checkInt(raw, 'maxPeers', 1, 100_000);
  checkInt(raw, 'clockSkewMs', 0, 3_600_000);
  checkInt(raw, 'mdnsPort', 1, 65535);
  const resolved = { ...LAN_DEFAULTS, ...stripUndefined(options) } as ResolvedLanOptions;
  if (resolved.maxQueryIntervalMs < resolved.queryIntervalMs)
    throw invalid('maxQueryIntervalMs', 'must not be below queryIntervalMs');
  return resolved;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
