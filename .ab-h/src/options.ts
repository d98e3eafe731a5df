import { MeshwireError } from './errors.js';
import { tryParseAddress } from './address.js';
import type { Transport } from './transport/transport.js';
import {
  DEFAULT_NETWORK_KEY_FAILURE_WINDOW_MS,
  DEFAULT_NETWORK_KEY_MAX_FAILURES,
  DEFAULT_NETWORK_KEY_MAX_SOURCES,
} from './secure/attempt-limiter.js';

/** The protocol a node speaks. `secure` (default): TLS 1.3 + native frames. `compat`: the original's plaintext lines. */
export type Mode = 'secure' | 'compat';

/** Options of a {@link P2PNode}. Durations are in milliseconds; sizes in bytes. */
export interface NodeOptions {
  /** TCP port to listen on; 0 picks a free one (read it back from `node.port`). @default 0 */
  port?: number;
  /** Address to bind. @default '0.0.0.0' */
  host?: string;
  /** Host other peers should dial to reach this node; by default the local address of each connection. */
  advertiseHost?: string;
  /** Display name; defaults to the node's ID. */
  name?: string;
  /** `host:port` of a peer to join through at start, retried on the bootstrap schedule. */
  bootstrap?: string;
  /** Protocol mode. @default 'secure' */
  mode?: Mode;
  /** Most connected peers (MaxPeers). @default 10 */
  maxPeers?: number;
  /**
   * Secure mode: broadcasts travel through the gossip overlay (HyParView + Plumtree, README "How
   * big networks work") and reach every node of the connected network, not only direct peers;
   * `maxPeers` bounds the overlay's neighbours. Invalid with compat. @default false
   */
  overlay?: boolean;
  /** How often to ask every peer for its peers and redial known ones (DiscoveryInterval). @default 30000 */
  discoveryIntervalMs?: number;
  /** How often to ping peers and drop stale ones (MaintenanceInterval). @default 15000 */
  maintenanceIntervalMs?: number;
  /** Time allowed for a TCP connect plus the handshake (ConnectionTimeout). @default 10000 */
  connectionTimeoutMs?: number;
  /** A peer not heard from for this long is dropped at the next maintenance tick (PeerTimeout). @default 60000 */
  peerTimeoutMs?: number;
  /** Largest BYTES message sent or accepted (MaxBytesPerMessage). @default 16 MiB */
  maxBytesPerMessage?: number;
  /** Longest chat / control frame accepted. @default 256 KiB */
  maxLineBytes?: number;
  /** Report ping, pong, peer-request and peer-response messages. @default false */
  debug?: boolean;
  /** Delays before each bootstrap attempt. @default [1000, 2000, 4000, 8000, 16000] */
  bootstrapRetryMs?: number[];
  /** Most known peers dialled after each peer exchange. @default 3 (as the original) */
  autoConnectMax?: number;
  /** Upper bound of the random delay before each such dial. @default 250 */
  autoConnectJitterMs?: number;
  /** A peer whose socket accepts no bytes for this long while data waits is dropped. @default 20000 */
  writeTimeoutMs?: number;
  /** Bytes buffered for one peer above which sends wait (backpressure). @default 1 MiB */
  sendHighWaterMark?: number;
  /** Bytes buffered for one peer above which sends are refused with `ERR_SEND_QUEUE_FULL`. @default 64 MiB */
  maxSendQueueBytes?: number;
  /**
   * Inbound handshakes allowed in progress at once. A new connection beyond it closes the oldest
   * pending one that has sent nothing (else the oldest), so idle sockets cannot lock peers out. @default 64
   */
  maxPendingHandshakes?: number;
  /** Most addresses kept in the peer book. @default 1000 */
  maxKnownPeers?: number;
  /** Secure mode: path of the identity key file (created with mode 0600 if missing). Without it the identity is ephemeral. */
  keyFile?: string;
  /** Secure mode: shared network key (passphrase or bytes); peers without it are refused. */
  networkKey?: string | Uint8Array;
  /**
   * Secure mode, with a network key: failed network-key attempts one source address (an IPv4
   * address, or an IPv6 /64) may make in a burst before its connections are refused with
   * `reject(rate-limited)`; failures are forgiven at this many per `networkKeyFailureWindowMs`.
   * Other sources are served as usual. @default 5
   */
  networkKeyMaxFailures?: number;
  /** Secure mode: the time in which `networkKeyMaxFailures` failures are forgiven. @default 60000 */
  networkKeyFailureWindowMs?: number;
  /** Secure mode: most source addresses whose failures are remembered at once. @default 4096 */
  networkKeyMaxSources?: number;
  /** Secure mode: only these peer IDs may connect or be connected to. */
  allowList?: string[];
  /**
   * How bytes move: listen and dial. @default TCP (`tcpTransport`). A `MemoryNetwork`'s
   * transport runs nodes in one process without sockets.
   */
  transport?: Transport;
  /**
   * Find and announce peers on the local network with mDNS / DNS-SD (`_meshwire._tcp.local`).
   * Off by default: it sends multicast on every multicast-capable interface (or `lanInterfaces`).
   * @default false
   */
  lan?: boolean;
  /** Interface names LAN discovery uses. @default every up, multicast-capable, non-loopback IPv4 interface */
  lanInterfaces?: string[];
  /**
   * File that remembers addresses proven by successful dials (atomic writes, bounded); at start
   * they are redialled, so a group whose every node restarts reforms by itself. @default none
   */
  peerBookFile?: string;
  /** Secure mode: async hook deciding whether a peer may connect; return false to refuse. */
  firewall?: (peer: {
    id: string;
    address: string;
    direction: 'inbound' | 'outbound';
  }) => boolean | Promise<boolean>;
}

/** Options that stay optional after resolution (no default: absent means "not used"). */
type OptionalOption =
  | 'name'
  | 'bootstrap'
  | 'advertiseHost'
  | 'keyFile'
  | 'networkKey'
  | 'allowList'
  | 'firewall'
  | 'transport'
  | 'lanInterfaces'
  | 'peerBookFile';

/** Option values after defaults and validation. */
export type ResolvedOptions = Required<Omit<NodeOptions, OptionalOption>> & Pick<NodeOptions, OptionalOption>;

export const DEFAULT_MAX_PEERS = 10;
export const DEFAULT_DISCOVERY_INTERVAL_MS = 30_000;
export const DEFAULT_MAINTENANCE_INTERVAL_MS = 15_000;
export const DEFAULT_CONNECTION_TIMEOUT_MS = 10_000;
export const DEFAULT_PEER_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_BYTES_PER_MESSAGE = 16 * 1024 * 1024;
export const DEFAULT_MAX_LINE_BYTES = 256 * 1024;
export const DEFAULT_BOOTSTRAP_RETRY_MS = [1000, 2000, 4000, 8000, 16000];
export const DEFAULT_AUTO_CONNECT_MAX = 3;
export const DEFAULT_AUTO_CONNECT_JITTER_MS = 250;
export const DEFAULT_WRITE_TIMEOUT_MS = 20_000;
export const DEFAULT_SEND_HIGH_WATER_MARK = 1024 * 1024;
export const DEFAULT_MAX_SEND_QUEUE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_PENDING_HANDSHAKES = 64;
export const DEFAULT_MAX_KNOWN_PEERS = 1000;

function invalid(option: string, why: string): MeshwireError {
  return new MeshwireError('ERR_INVALID_OPTION', `invalid option ${option}: ${why}`);
}

function integer(
  options: NodeOptions,
  key: keyof NodeOptions,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = options[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(key, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

const DAY_MS = 86_400_000;

/** Applies defaults and validates every option; throws `ERR_INVALID_OPTION` naming the bad one. */
export function resolveOptions(options: NodeOptions = {}): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options', 'expected an object');
  const mode = options.mode ?? 'secure';
  if (mode !== 'secure' && mode !== 'compat')
    throw invalid('mode', `expected 'secure' or 'compat', got ${String(mode)}`);
  const host = options.host ?? '0.0.0.0';
  if (typeof host !== 'string' || host.length === 0) throw invalid('host', 'expected a non-empty string');
  if (options.name !== undefined) {
    if (
      typeof options.name !== 'string' ||
      options.name.length === 0 ||
      Buffer.byteLength(options.name) > 64
    ) {
      throw invalid('name', 'expected 1 to 64 bytes of text');
    }
    if (/[\p{Cc}:|]/u.test(options.name))
      throw invalid('name', 'must not contain control characters, ":" or "|"');
  }
  if (options.bootstrap !== undefined && !tryParseAddress(options.bootstrap)) {
    throw invalid('bootstrap', `expected host:port, got ${JSON.stringify(options.bootstrap)}`);
  }
  const retry = options.bootstrapRetryMs ?? DEFAULT_BOOTSTRAP_RETRY_MS;
  if (
    !Array.isArray(retry) ||
    retry.length === 0 ||
    retry.some((ms) => !Number.isInteger(ms) || ms < 0 || ms > DAY_MS)
  ) {
    throw invalid('bootstrapRetryMs', 'expected a non-empty array of delays in ms');
  }
  if (
    options.allowList !== undefined &&
    (!Array.isArray(options.allowList) || options.allowList.some((id) => typeof id !== 'string'))
  ) {
    throw invalid('allowList', 'expected an array of peer IDs');
  }
  if (options.firewall !== undefined && typeof options.firewall !== 'function')
    throw invalid('firewall', 'expected a function');
  if (
    options.transport !== undefined &&
    (typeof options.transport?.listen !== 'function' || typeof options.transport?.dial !== 'function')
  )
    throw invalid('transport', 'expected an object with listen() and dial()');
  if (options.lan !== undefined && typeof options.lan !== 'boolean')
    throw invalid('lan', 'expected a boolean');
  if (
    options.lanInterfaces !== undefined &&
    (!Array.isArray(options.lanInterfaces) ||
      options.lanInterfaces.some((name) => typeof name !== 'string' || name.length === 0 || name.length > 64))
  )
    throw invalid('lanInterfaces', 'expected an array of interface names');
  if (
    options.peerBookFile !== undefined &&
    (typeof options.peerBookFile !== 'string' || options.peerBookFile === '')
  )
    throw invalid('peerBookFile', 'expected a file path');
  if (options.overlay !== undefined && typeof options.overlay !== 'boolean')
    throw invalid('overlay', 'expected a boolean');
  if (mode === 'compat' && options.overlay === true)
    throw invalid('overlay', 'only available in secure mode (Go nodes would print overlay frames as chat)');
  if (mode === 'compat') {
    for (const key of ['keyFile', 'networkKey', 'allowList', 'firewall'] as const) {
      if (options[key] !== undefined)
        throw invalid(key, 'only available in secure mode (compat has no authentication)');
    }
  }
  const maxBytesPerMessage = integer(
    options,
    'maxBytesPerMessage',
    DEFAULT_MAX_BYTES_PER_MESSAGE,
    1,
    1024 ** 3,
  );
  return {
    port: integer(options, 'port', 0, 0, 65535),
    host,
    advertiseHost: options.advertiseHost,
    name: options.name,
    bootstrap: options.bootstrap,
    mode,
    maxPeers: integer(options, 'maxPeers', DEFAULT_MAX_PEERS, 1, 10_000),
    overlay: options.overlay ?? false,
    discoveryIntervalMs: integer(options, 'discoveryIntervalMs', DEFAULT_DISCOVERY_INTERVAL_MS, 10, DAY_MS),
    maintenanceIntervalMs: integer(
      options,
      'maintenanceIntervalMs',
      DEFAULT_MAINTENANCE_INTERVAL_MS,
      10,
      DAY_MS,
    ),
    connectionTimeoutMs: integer(options, 'connectionTimeoutMs', DEFAULT_CONNECTION_TIMEOUT_MS, 10, DAY_MS),
    peerTimeoutMs: integer(options, 'peerTimeoutMs', DEFAULT_PEER_TIMEOUT_MS, 10, DAY_MS),
    maxBytesPerMessage,
    maxLineBytes: integer(options, 'maxLineBytes', DEFAULT_MAX_LINE_BYTES, 1024, 64 * 1024 * 1024),
    debug: options.debug ?? false,
    bootstrapRetryMs: [...retry],
    autoConnectMax: integer(options, 'autoConnectMax', DEFAULT_AUTO_CONNECT_MAX, 0, 10_000),
    autoConnectJitterMs: integer(options, 'autoConnectJitterMs', DEFAULT_AUTO_CONNECT_JITTER_MS, 0, 60_000),
    writeTimeoutMs: integer(options, 'writeTimeoutMs', DEFAULT_WRITE_TIMEOUT_MS, 10, DAY_MS),
    sendHighWaterMark: integer(options, 'sendHighWaterMark', DEFAULT_SEND_HIGH_WATER_MARK, 1024, 1024 ** 3),
    maxSendQueueBytes: integer(
      options,
      'maxSendQueueBytes',
      Math.max(DEFAULT_MAX_SEND_QUEUE_BYTES, 2 * maxBytesPerMessage + 1024),
      1024,
      8 * 1024 ** 3,
    ),
    maxPendingHandshakes: integer(
      options,
      'maxPendingHandshakes',
      DEFAULT_MAX_PENDING_HANDSHAKES,
      1,
      100_000,
    ),
    maxKnownPeers: integer(options, 'maxKnownPeers', DEFAULT_MAX_KNOWN_PEERS, 1, 1_000_000),
    keyFile: options.keyFile,
    networkKey: options.networkKey,
    networkKeyMaxFailures: integer(
      options,
      'networkKeyMaxFailures',
      DEFAULT_NETWORK_KEY_MAX_FAILURES,
      1,
      1_000_000,
    ),
    networkKeyFailureWindowMs: integer(
      options,
      'networkKeyFailureWindowMs',
      DEFAULT_NETWORK_KEY_FAILURE_WINDOW_MS,
      1,
      DAY_MS,
    ),
    networkKeyMaxSources: integer(
      options,
      'networkKeyMaxSources',
      DEFAULT_NETWORK_KEY_MAX_SOURCES,
      1,
      1_000_000,
    ),
    allowList: options.allowList,
    firewall: options.firewall,
    transport: options.transport,
    lan: options.lan ?? false,
    lanInterfaces: options.lanInterfaces,
    peerBookFile: options.peerBookFile,
  };
}
