/**
 * Overlay networks of real nodes on loopback for the overlay tests: start N nodes that join
 * through random earlier ones (optionally with a test hook each), check that their active views
 * connect them, and record what each delivers.
 */
import type { TestContext } from 'node:test';
import type { P2PNode } from '../../src/node.js';
import type { NodeOptions } from '../../src/options.js';
import { setOverlayTestHook, type OverlayTestHook } from '../../src/internal.js';
import { addressOf, createTestNode } from './nodes.js';
import { mulberry32 } from './random.js';
import { pollUntil } from './wait.js';

/** Options of {@link startOverlayNet}. */
export interface OverlayNetOptions {
  count: number;
  maxPeers: number;
  seed: number;
  /** The test hook of node i, if any (set before it starts). */
  hook?: (i: number) => OverlayTestHook | undefined;
  /** More node options. */
  node?: (i: number) => NodeOptions;
  /** How long to wait for one connected overlay. @default 20000 */
  timeoutMs?: number;
}

/** True when the active views of `nodes` (as undirected links) connect them all. */
export function overlayConnected(nodes: P2PNode[]): boolean {
  if (nodes.length === 0) return true;
  const ids = new Set(nodes.map((n) => n.id));
  const links = new Map<string, Set<string>>();
  for (const n of nodes) links.set(n.id, new Set());
  for (const n of nodes) {
    for (const other of n.overlayStats()!.active) {
      if (!ids.has(other)) continue;
      links.get(n.id)!.add(other);
      links.get(other)!.add(n.id);
    }
  }
  const reached = new Set([nodes[0]!.id]);
  const todo = [nodes[0]!.id];
  while (todo.length > 0) {
    for (const next of links.get(todo.pop()!)!) {
      if (!reached.has(next)) {
        reached.add(next);
        todo.push(next);
      }
    }
  }
  return reached.size === nodes.length;
}

/** One line per node: active / pending / joined, for failure messages. */
export function describeViews(nodes: P2PNode[]): string {
  return nodes
    .map((n) => {
      const s = n.overlayStats()!;
      return `${n.name}: active ${s.active.length} pending ${s.pending.length} joined ${s.joined}`;
    })
    .join('; ');
}

/** Starts the nodes one after the other, each joining through a random earlier one. */
export async function startOverlayNet(t: TestContext, o: OverlayNetOptions): Promise<P2PNode[]> {
  const random = mulberry32(o.seed);
  const nodes: P2PNode[] = [];
  for (let i = 0; i < o.count; i++) {
    const node = createTestNode(t, { overlay: true, maxPeers: o.maxPeers, name: `n${i}`, ...o.node?.(i) });
    const hook = o.hook?.(i);
    if (hook) setOverlayTestHook(node, hook);
    await node.start();
    if (i > 0) await node.connectToPeer(addressOf(nodes[Math.floor(random() * i)]!));
    nodes.push(node);
  }
  await pollUntil(
    () =>
      nodes.every((n) => {
        const s = n.overlayStats()!;
        return s.active.length >= 1 && s.active.length <= o.maxPeers;
      }) && overlayConnected(nodes),
    'the overlay connects every node',
    { timeoutMs: o.timeoutMs ?? 20_000, intervalMs: 50, describe: () => describeViews(nodes) },
  );
  return nodes;
}

/** Chats each node delivered, as `sender id|text`, in order. */
export function recordChats(nodes: P2PNode[]): Map<P2PNode, string[]> {
  const log = new Map<P2PNode, string[]>();
  for (const node of nodes) {
    const seen: string[] = [];
    log.set(node, seen);
    node.on('chat', (m) => seen.push(`${m.from.id}|${m.text}`));
  }
  return log;
}
