/**
 * Command-line parsing for `meshwire`: node:util parseArgs in strict mode, then validation of
 * every value, so that a bad argument is a usage error (exit code 2) before anything starts.
 * Pure apart from reading nothing: the environment is passed in.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

/** Everything the CLI needs to run a node, validated. */
export interface CliConfig {
  port: number;
  /** `host:port` to bootstrap through. */
  bootstrap?: string;
  name?: string;
  debug: boolean;
  compat: boolean;
  json: boolean;
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
  /** Upload rate limit for `/send`, in bytes per second. */
  rateLimit?: number;
  maxFileSize?: number;
  discoveryIntervalMs?: number;
  maintenanceIntervalMs?: number;
  peerTimeoutMs?: number;
  connectionTimeoutMs?: number;
  bootstrapRetryMs?: number[];
}

/** What the command line asks for. */
export type ParsedArgs =
  | { kind: 'run'; config: CliConfig }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'error'; message: string };

/** The environment variable that supplies the network key when no flag does. */
export const NETWORK_KEY_ENV = 'MESHWIRE_NETWORK_KEY';

/** Default identity key file for a port, relative to the working directory. */
export function defaultKeyFile(port: number): string {
  return path.join('.meshwire', `node-${port}.key`);
}

export const USAGE = `Usage: meshwire [options] <port> [host:port]

Runs a meshwire node listening on <port> (0 picks a free one) and, if [host:port] is
given, joins the network through that peer. Type chat messages or commands on stdin.

Options:
  --name <name>               display name shown to peers (default: the short ID)
  --debug                     also show heartbeat and peer-exchange traffic
  --compat                    speak the original Go protocol: plaintext, no authentication
  --network-key <key>         shared secret; peers without it are refused (secure mode)
  --network-key-file <file>   read the network key from a file (must be mode 0600)
  --key-file <file>           identity key file (default: .meshwire/node-<port>.key;
                              with port 0 the identity is ephemeral)
  --downloads <dir>           where received files are stored (default: ./downloads)
  --max-peers <n>             most connected peers (default: 10)
  --json                      print one JSON object per line per event, for scripts
  -h, --help                  show this help and exit
  -v, --version               print the version and exit

Advanced:
  --host <addr>               address to listen on (default: 0.0.0.0)
  --advertise-host <host>     host other peers should dial to reach this node
  --rate-limit <size>         cap the /send upload rate, bytes per second (e.g. 512K, 2M)
  --max-file-size <size>      refuse incoming files larger than this (default: 4G)
  --discovery-interval <ms>   peer discovery period (default: 30000)
  --maintenance-interval <ms> heartbeat and stale-peer check period (default: 15000)
  --peer-timeout <ms>         drop a peer silent for this long (default: 60000)
  --connection-timeout <ms>   connect + handshake time limit (default: 10000)
  --bootstrap-retry <ms,...>  delays between bootstrap attempts (default: 1000,2000,4000,8000,16000)

Commands (type them while the node runs):
  /peers                      connected peers (name, ID, address, last seen, RTT) and known peers
  /connect <host:port>        connect to a peer
  /discover                   ask every peer for its peers now
  /send <file> [peer]         send a file to all peers, or to one (by name or ID prefix)
  /quit                       leave the network and exit (also Ctrl-C, Ctrl-D)
  /help                       list the commands
  <text>                      chat with every peer (start with // to send a line beginning with /)

Environment:
  MESHWIRE_NETWORK_KEY        network key, when neither --network-key nor --network-key-file is given
  NO_COLOR                    disable colours

Examples:
  meshwire --name alice 8001
  meshwire --name bob 8002 localhost:8001
  MESHWIRE_NETWORK_KEY='correct horse' meshwire 8003 localhost:8002
`;

const OPTIONS = {
  name: { type: 'string' },
  debug: { type: 'boolean' },
  compat: { type: 'boolean' },
  'network-key': { type: 'string' },
  'network-key-file': { type: 'string' },
  'key-file': { type: 'string' },
  downloads: { type: 'string' },
  json: { type: 'boolean' },
  'max-peers': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  host: { type: 'string' },
  'advertise-host': { type: 'string' },
  'rate-limit': { type: 'string' },
  'max-file-size': { type: 'string' },
  'discovery-interval': { type: 'string' },
  'maintenance-interval': { type: 'string' },
  'peer-timeout': { type: 'string' },
  'connection-timeout': { type: 'string' },
  'bootstrap-retry': { type: 'string' },
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

/** Loose `host:port` check (the node validates hosts precisely when it starts). */
export function looksLikeAddress(text: string): boolean {
  const match = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):(\d{1,5})$/.exec(text);
  if (!match) return false;
  const port = Number(match[1]);
  return port >= 1 && port <= 65535;
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
    let parsed;
    try {
      parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      fail((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const { values, positionals } = parsed;
    if (values.help) return { kind: 'help' };
    if (values.version) return { kind: 'version' };

    if (positionals.length === 0) fail('missing <port>');
    if (positionals.length > 2) fail(`too many arguments: ${positionals.slice(2).join(' ')}`);
    const port = parseInteger(positionals[0] as string, '<port>', 0, 65535);
    const bootstrap = positionals[1];
    if (bootstrap !== undefined && !looksLikeAddress(bootstrap)) {
      fail(`bootstrap address must be host:port, got ${JSON.stringify(bootstrap)}`);
    }

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

    if (values.name !== undefined && values.name.length === 0) fail('--name is empty');
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

    const config: CliConfig = {
      port,
      debug: values.debug ?? false,
      compat,
      json: values.json ?? false,
      downloads: path.resolve(cwd, values.downloads ?? 'downloads'),
      host: values.host ?? '0.0.0.0',
    };
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
