/**
 * From the command line to the library: the node's options, and the library's option errors
 * in the CLI's terms (`invalid --name: ...`).
 */
import type { NodeOptions } from '../index.js';
import type { CliConfig } from './args.js';
import type { ErrorLike } from './cli-events.js';

/** The command-line flag behind each node option, for errors in the user's terms. */
const OPTION_FLAGS: Record<string, string> = {
  name: '--name',
  port: '<port>',
  host: '--host',
  advertiseHost: '--advertise-host',
  maxPeers: '--max-peers',
  bootstrap: '[host:port]',
  keyFile: '--key-file',
  networkKey: '--network-key',
  lan: '--lan',
  overlay: '--overlay',
  lanInterfaces: '--lan-interface',
  peerBookFile: '--peer-book',
};

/** `invalid option name: ...` (the library's words) as `invalid --name: ...` (the CLI's). */
export function cliOptionMessage(message: string): string {
  return message.replace(/^invalid option (\w+):/, (all, option: string) => {
    const flag = OPTION_FLAGS[option];
    return flag ? `invalid ${flag}:` : all;
  });
}

/** An unknown thrown value as `{ code?, message }`. */
export function errorLike(err: unknown): ErrorLike {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? { code, message: err.message } : { message: err.message };
  }
  return { message: String(err) };
}

/** The node's options from the command line (bootstrap is run by the CLI itself). */
export function nodeOptions(config: CliConfig, networkKey: string | undefined): NodeOptions {
  const options: NodeOptions = {
    port: config.port,
    host: config.host,
    mode: config.compat ? 'compat' : 'secure',
    debug: config.debug,
  };
  const optional: Partial<NodeOptions> = {
    name: config.name,
    maxPeers: config.maxPeers,
    keyFile: config.keyFile,
    networkKey,
    advertiseHost: config.advertiseHost,
    discoveryIntervalMs: config.discoveryIntervalMs,
    maintenanceIntervalMs: config.maintenanceIntervalMs,
    peerTimeoutMs: config.peerTimeoutMs,
    connectionTimeoutMs: config.connectionTimeoutMs,
    bootstrapRetryMs: config.bootstrapRetryMs,
    lan: config.lan || undefined,
    overlay: config.overlay || undefined,
    lanInterfaces: config.lanInterfaces,
    peerBookFile: config.peerBookFile,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  }
  return options;
}
