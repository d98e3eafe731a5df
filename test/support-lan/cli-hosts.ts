/**
 * Real `meshwire` CLI nodes inside namespace hosts (test/helpers/netns.ts), each in its own
 * working directory so its key file and peer book persist across restarts. Thin glue over the
 * CLI harness (test/cli-harness.ts): its `--json` events are what the tests wait for.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { Cli, type JsonEvent } from '../cli-harness.js';
import type { NetnsHost } from '../helpers/netns.js';

/** The port every CLI node listens on in its host (each host has its own address). */
export const NODE_PORT = 7000;

/** Flags every namespaced node gets: JSON events, quick retries on loopback-free hosts. */
export const BASE_ARGS = ['--json', '--bootstrap-retry', '100,200,400,800'] as const;

/** One CLI node running in a host, with the directory it runs in. */
export interface HostNode {
  host: NetnsHost;
  cli: Cli;
  /** The node's working directory (`.meshwire/` key and peer book live here). */
  cwd: string;
  /** `ip:port` other hosts reach it at. */
  address: string;
}

/**
 * Starts `meshwire <args> 7000 [bootstrap]` in `host`, in `dir/h<index>` (created if needed). The child is
 * killed by `cleanup` if the test has not ended it; the LAN's own cleanup removes the host.
 */
export async function startHostNode(
  host: NetnsHost,
  dir: string,
  args: readonly string[],
  cleanup: (fn: () => unknown) => void,
  options: { name?: string; bootstrap?: string; env?: Record<string, string | undefined> } = {},
): Promise<HostNode> {
  const cwd = path.join(dir, `h${host.index}`);
  await mkdir(cwd, { recursive: true });
  const name = options.name ?? `h${host.index}`;
  const positional = [String(NODE_PORT), ...(options.bootstrap ? [options.bootstrap] : [])];
  const cli = new Cli([...BASE_ARGS, '--name', name, ...args, ...positional], {
    cwd,
    cleanup,
    label: `h${host.index}`,
    wrap: ['ip', 'netns', 'exec', host.ns],
    ...(options.env ? { env: options.env } : {}),
  });
  return { host, cli, cwd, address: `${host.ip}:${NODE_PORT}` };
}

/** The node's own peer ID, from its `system-start` event. */
export async function nodeId(node: HostNode, timeoutMs = 20_000): Promise<string> {
  const start = await node.cli.waitFor((e) => e.type === 'system-start', {
    timeoutMs,
    what: 'system-start',
  });
  return start.id as string;
}

/** IDs of the peers `node` is connected to now, replayed from its connect / disconnect events. */
export function connectedIds(node: HostNode): Set<string> {
  const ids = new Set<string>();
  for (const e of node.cli.events) {
    const id = (e.peer as { id?: string } | undefined)?.id;
    if (id === undefined) continue;
    if (e.type === 'peer-connected') ids.add(id);
    else if (e.type === 'peer-disconnected') ids.delete(id);
  }
  return ids;
}

/**
 * Waits until every node is connected to every other one (by ID), re-checking on each event,
 * bounded by `timeoutMs`. Rejects with each node's view when it does not happen.
 */
export async function waitFullMesh(nodes: HostNode[], ids: string[], timeoutMs: number): Promise<void> {
  const full = () =>
    nodes.every((n, i) => {
      const have = connectedIds(n);
      return ids.every((id, j) => i === j || have.has(id));
    });
  // Every node's events are checked (past ones first): any connect or disconnect may complete it.
  await Promise.any(nodes.map((n) => n.cli.waitFor(() => full(), { timeoutMs, what: 'a full mesh' }))).catch(
    () => {
      const views = nodes.map((n, i) => `h${i} sees ${[...connectedIds(n)].map((id) => ids.indexOf(id))}`);
      throw new Error(`no full mesh after ${timeoutMs} ms: ${views.join('; ')}`);
    },
  );
}

/** Chat events `node` received with exactly `text`. */
export function chatsWith(node: HostNode, text: string): JsonEvent[] {
  return node.cli.events.filter((e) => e.type === 'chat' && e.text === text);
}
