/**
 * Command-line parsing for `meshwire`: node:util parseArgs in strict mode, then validation of
 * every value, so that a bad argument is a usage error (exit code 2) before anything starts.
 * Pure apart from reading nothing: the environment is passed in.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { suggestFlag } from './usage.js';

/** Everything the CLI needs to run a node, validated. */
export interface CliConfig {
  port: number;
  /** `host:port` to bootstrap through. */
  bootstrap?: string;
  name?: string;
  debug: boolean;
  compat: boolean;
  json: boolean;
  /** Never read standard input (`--no-input`): run until SIGINT / SIGTERM, as a service. */
  noInput: boolean;
  /** Things to tell the user before starting (a secret on the command line). */
  warnings: string[];
  /** Network key passphrase given inline (flag or environment), already trimmed. */
  networkKey?: string;
  /** Where the network key passphrase is to be read from. */
  networkKeyFile?: string;
  /** Identity key file (absolute); `undefined` for an ephemeral identity. */
  keyFile?: string;
  /** Downloads directory (absolute). */
  downloads: string;
  maxPeers?: number;
  host: string;
  advertiseHost?: string;
  /** Consent for files peers push (`--accept-files`, secure mode): all, none, or ask on the terminal. */
  acceptFiles: AcceptFiles;
  /** Upload rate limit for `/send`, in bytes per second. */
  rateLimit?: number;
  maxFileSize?: number;
  discoveryIntervalMs?: number;
  maintenanceIntervalMs?: number;
  peerTimeoutMs?: number;
  connectionTimeoutMs?: number;
  bootstrapRetryMs?: number[];
  /** Gossip overlay (`--overlay`, secure mode): broadcasts reach the whole network past `--max-peers`. */
  overlay: boolean;
  /** LAN discovery (`--lan`), limited to these interfaces if given. */
  lan: boolean;
  lanInterfaces?: string[];
  /** Persisted peer book (absolute); `undefined` with `--no-peer-book` or port 0. */
  peerBookFile?: string;
  /** Port of the web dashboard (`--web`; 0 picks one). */
  webPort?: number;
  /** Port of the metrics-only listener (`--metrics`; 0 picks one). */
  metricsPort?: number;
}

/** The `--accept-files` policies. */
export type AcceptFiles = 'ask' | 'all' | 'none';

/** What the command line asks for. */
export type ParsedArgs =
  | { kind: 'run'; config: CliConfig }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'keygen' }
  | { kind: 'error'; message: string };

/** The environment variable that supplies the network key when no flag does. */
export const NETWORK_KEY_ENV = 'MESHWIRE_NETWORK_KEY';

/** Default persisted peer book for a port, relative to the working directory. */
export function defaultPeerBookFile(port: number): string {
  return path.join('.meshwire', `peers-${port}.json`);
}

/** Default identity key file for a port, relative to the working directory. */
export function defaultKeyFile(port: number): string {
  return path.join('.meshwire', `node-${port}.key`);
}

const OPTIONS = {
  name: { type: 'string' },
  debug: { type: 'boolean' },
  compat: { type: 'boolean' },
  'network-key': { type: 'string' },
  'network-key-file': { type: 'string' },
  'key-file': { type: 'string' },
  downloads: { type: 'string' },
  json: { type: 'boolean' },
  'no-input': { type: 'boolean' },
  'max-peers': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  host: { type: 'string' },
  'advertise-host': { type: 'string' },
  'rate-limit': { type: 'string' },
  'accept-files': { type: 'string' },
  'max-file-size': { type: 'string' },
  'discovery-interval': { type: 'string' },
  'maintenance-interval': { type: 'string' },
  'peer-timeout': { type: 'string' },
  'connection-timeout': { type: 'string' },
  'bootstrap-retry': { type: 'string' },
  lan: { type: 'boolean' },
  'lan-interface': { type: 'string', multiple: true },
  overlay: { type: 'boolean' },
  'peer-book': { type: 'string' },
  'no-peer-book': { type: 'boolean' },
  web: { type: 'string' },
  metrics: { type: 'string' },
} as const;

class UsageError extends Error {}

function fail(message: string): never {
  throw new UsageError(message);
}

/** Parses a whole decimal number in [min, max]; `what` names it in the error. */
export function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text)) fail(`${what} must be a whole number, got ${JSON.stringify(text)}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    fail(`${what} must be from ${min} to ${max}, got ${text}`);
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** Parses a byte size: `1048576`, `512K`, `2M`, `1.5G`, `4GiB` (binary units). */
export function parseSize(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) fail(`${what} must be a size such as 65536, 512K or 2M, got ${JSON.stringify(text)}`);
  const value = Math.floor(Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1));
  if (!Number.isSafeInteger(value) || value < 1) fail(`${what} must be at least 1 byte, got ${text}`);
  return value;
}

/**
 * What is wrong with a `host:port` address typed by the user, or `undefined` when it looks
 * right (the node validates hosts precisely when it dials).
 */
export function addressProblem(text: string): string | undefined {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d+)$/.exec(text);
  if (!match) return `not a host:port address: ${JSON.stringify(text)}`;
  const port = Number(match[1]);
  if (!(port >= 1 && port <= 65535)) return `port out of range (1-65535) in ${JSON.stringify(text)}`;
  return undefined;
}

/** Loose `host:port` check: {@link addressProblem} finds nothing wrong. */
export function looksLikeAddress(text: string): boolean {
  return addressProblem(text) === undefined;
}

/** The byte limit of a node name (the node enforces the same rule). */
const MAX_NAME_BYTES = 64;

/** What is wrong with a `--name`, in the flag's terms, or `undefined`. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'invalid --name: it is empty';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `invalid --name: longer than ${MAX_NAME_BYTES} bytes`;
  if (/[:|]/.test(name)) return `invalid --name ${JSON.stringify(name)}: names cannot contain ':' or '|'`;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'invalid --name: control characters are not allowed';
  return undefined;
}

const DAY_MS = 86_400_000;

/**
 * Parses `argv` (without node and script). `env` supplies MESHWIRE_NETWORK_KEY; `cwd` anchors
 * the default key file and downloads directory.
 */
export function parseCli(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
  cwd = process.cwd(),
): ParsedArgs {
  try {
    if (argv[0] === 'keygen') return parseKeygen(argv.slice(1));
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
      const unknown = /^Unknown option '(-{1,2}[^']*)'/.exec(message)?.[1];
      if (unknown !== undefined) {
        const guess = suggestFlag(unknown, Object.keys(OPTIONS));
        fail(`unknown option ${unknown}${guess ? `; did you mean ${guess}?` : ''}`);
      }
      fail(message);
    }
    const { values, positionals } = parsed;
    if (values.help) return { kind: 'help' };
    if (values.version) return { kind: 'version' };

    if (positionals.length === 0) fail('missing <port>');
    if (positionals.length > 2) fail(`too many arguments: ${positionals.slice(2).join(' ')}`);
    const port = parseInteger(positionals[0] as string, '<port>', 0, 65535);
    const bootstrap = positionals[1];
    const problem = bootstrap !== undefined ? addressProblem(bootstrap) : undefined;
    if (problem !== undefined) fail(`bootstrap address: ${problem}`);

    const compat = values.compat ?? false;
    if (values['network-key'] !== undefined && values['network-key-file'] !== undefined) {
      fail('give either --network-key or --network-key-file, not both');
    }
    let networkKey = values['network-key'];
    if (networkKey !== undefined) {
      networkKey = networkKey.trim();
      if (networkKey === '') fail('--network-key is empty');
    }
    const networkKeyFile =
      values['network-key-file'] !== undefined ? path.resolve(cwd, values['network-key-file']) : undefined;
    const envKey = env[NETWORK_KEY_ENV]?.trim();
    if (networkKey === undefined && networkKeyFile === undefined && envKey) networkKey = envKey;
    if (compat) {
      if (networkKey !== undefined || networkKeyFile !== undefined) {
        fail(
          `--compat has no authentication and cannot use a network key` +
            (values['network-key'] === undefined && networkKeyFile === undefined
              ? ` (unset ${NETWORK_KEY_ENV})`
              : ''),
        );
      }
      if (values['key-file'] !== undefined)
        fail('--key-file is only used in secure mode (not with --compat)');
    }

    const keyFile = compat
      ? undefined
      : values['key-file'] !== undefined
        ? path.resolve(cwd, values['key-file'])
        : port === 0
          ? undefined
          : path.resolve(cwd, defaultKeyFile(port));

    const badName = values.name !== undefined ? nameProblem(values.name) : undefined;
    if (badName !== undefined) fail(badName);
    const warnings: string[] = [];
    if (values['network-key'] !== undefined) {
      warnings.push(
        `--network-key on the command line is visible to other users of this machine (ps, /proc); ` +
          `put the key in ${NETWORK_KEY_ENV} or a file for --network-key-file instead`,
      );
    }
    if (values.downloads !== undefined && values.downloads.length === 0) fail('--downloads is empty');
    if (values.host !== undefined && values.host.length === 0) fail('--host is empty');

    const ms = (flag: keyof typeof OPTIONS): number | undefined => {
      const text = values[flag];
      return typeof text === 'string' ? parseInteger(text, `--${flag}`, 10, DAY_MS) : undefined;
    };
    const retry = values['bootstrap-retry'];
    const bootstrapRetryMs =
      retry === undefined
        ? undefined
        : retry.split(',').map((part) => parseInteger(part.trim(), '--bootstrap-retry', 0, DAY_MS));

    const acceptFiles = values['accept-files'] ?? 'all';
    if (acceptFiles !== 'ask' && acceptFiles !== 'all' && acceptFiles !== 'none') {
      fail(`--accept-files must be ask, all or none, got ${JSON.stringify(acceptFiles)}`);
    }
    if (acceptFiles !== 'all' && compat) {
      // The original's push frames have no refusal; consent exists only for secure-mode offers.
      fail('--accept-files ask|none needs secure mode (not with --compat)');
    }
    if (values.overlay && compat) {
      // Go nodes would print the overlay's frames as chat: compat stays the original full mesh.
      fail('--overlay needs secure mode (not with --compat)');
    }
    if (acceptFiles === 'ask' && values['no-input']) {
      fail('--accept-files ask needs input to answer (not with --no-input)');
    }

    const config: CliConfig = {
      port,
      acceptFiles,
      debug: values.debug ?? false,
      compat,
      json: values.json ?? false,
      noInput: values['no-input'] ?? false,
      warnings,
      downloads: path.resolve(cwd, values.downloads ?? 'downloads'),
      host: values.host ?? '0.0.0.0',
      lan: values.lan ?? false,
      overlay: values.overlay ?? false,
    };
    if (values['peer-book'] !== undefined && values['no-peer-book'])
      fail('give either --peer-book or --no-peer-book, not both');
    if (values['peer-book'] === '') fail('--peer-book is empty');
    const peerBookFile = values['no-peer-book']
      ? undefined
      : values['peer-book'] !== undefined
        ? path.resolve(cwd, values['peer-book'])
        : port === 0
          ? undefined
          : path.resolve(cwd, defaultPeerBookFile(port));
    const lanInterfaces = values['lan-interface'];
    if (lanInterfaces !== undefined && !config.lan) fail('--lan-interface needs --lan');
    if (lanInterfaces?.some((name) => name === '')) fail('--lan-interface is empty');
    const optional: Partial<CliConfig> = {
      bootstrap,
      name: values.name,
      networkKey,
      networkKeyFile,
      keyFile,
      maxPeers:
        values['max-peers'] !== undefined
          ? parseInteger(values['max-peers'], '--max-peers', 1, 10_000)
          : undefined,
      advertiseHost: values['advertise-host'],
      rateLimit:
        values['rate-limit'] !== undefined ? parseSize(values['rate-limit'], '--rate-limit') : undefined,
      maxFileSize:
        values['max-file-size'] !== undefined
          ? parseSize(values['max-file-size'], '--max-file-size')
          : undefined,
      discoveryIntervalMs: ms('discovery-interval'),
      maintenanceIntervalMs: ms('maintenance-interval'),
      peerTimeoutMs: ms('peer-timeout'),
      connectionTimeoutMs: ms('connection-timeout'),
      bootstrapRetryMs,
      lanInterfaces,
      peerBookFile,
      webPort: values.web !== undefined ? parseInteger(values.web, '--web', 0, 65_535) : undefined,
      metricsPort:
        values.metrics !== undefined ? parseInteger(values.metrics, '--metrics', 0, 65_535) : undefined,
    };
    for (const [key, value] of Object.entries(optional)) {
      if (value !== undefined) (config as unknown as Record<string, unknown>)[key] = value;
    }
    return { kind: 'run', config };
  } catch (err) {
    if (err instanceof UsageError) return { kind: 'error', message: err.message };
    throw err;
  }
}

/** `meshwire keygen --network`: the only key a user generates by hand (identities are made on first run). */
function parseKeygen(args: readonly string[]): ParsedArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { network: { type: 'boolean' } }, strict: true });
  } catch (err) {
    fail(`keygen: ${(err as Error).message.replace(/\. To specify a positional argument.*$/s, '')}`);
  }
  if (!parsed.values.network) {
    fail('keygen needs --network (identity keys are created by the node on first run, see --key-file)');
  }
  return { kind: 'keygen' };
}
