/** What every benchmark suite gets from the runner, and the row format they return. */
import type { NodeOptions } from '../../src/index.js';
import { Child } from './child.js';
import type { Summary } from './stats.js';

/** The two protocol modes measured. */
export const MODES = ['secure', 'compat'] as const;
export type Mode = (typeof MODES)[number];

/** Runner settings and shared state. */
export interface Context {
  /** `--quick`: smaller volumes, fewer runs. */
  quick: boolean;
  /** Measured runs per configuration (after a warm-up). */
  runs: number;
  /** Extra `node` flags for every child (e.g. `--cpu-prof`). */
  execArgv: string[];
  /** Progress output (stderr, so the table on stdout stays clean). */
  log(line: string): void;
  /** Results shared between suites (e.g. the raw-TCP bulk baseline), keyed by name. */
  cache: Map<string, Promise<unknown>>;
}

/** Runs `fn` once per context and key; later calls share its promise. */
export function memo<T>(ctx: Context, key: string, fn: () => Promise<T>): Promise<T> {
  let hit = ctx.cache.get(key) as Promise<T> | undefined;
  if (!hit) {
    hit = fn();
    ctx.cache.set(key, hit);
  }
  return hit;
}

/** A pass / miss verdict against one of the targets. */
export interface Target {
  /** Human-readable, e.g. `>= 0.65x raw`. */
  text: string;
  pass: boolean;
}

/** One line of the results table. */
export interface Row {
  /** Suite name (`throughput`, `chat`, ...). */
  bench: string;
  /** What was measured, e.g. `bulk BYTES 64 KiB`. */
  name: string;
  mode: Mode | 'raw TCP' | 'raw TLS' | 'iperf3' | PeerStack;
  unit: string;
  /** `null` when the benchmark could not run (see `note`). */
  value: Summary | null;
  /** `value.median / baseline median`, where the row has a raw-TCP baseline. */
  ratio?: number;
  target?: Target;
  /** Printed below the table. */
  note?: string;
  /** Extra numbers stored in the JSON (e.g. the mesh connection counters). */
  details?: Record<string, number | string | boolean>;
}

/** The alternatives the `peers` suite measures (bench/workers/peer.ts). */
export type PeerStack = 'libp2p' | 'secret-stream';

/** What a pair of processes talks over. */
export type Setup =
  /** No processes: the configuration measures something external (iperf3). */
  | { kind: 'none'; label: string }
  | { kind: 'tcp' }
  /** js-libp2p (TCP + Noise + Yamux) or @hyperswarm/secret-stream over TCP. */
  | { kind: 'peer'; stack: PeerStack }
  /** node:tls with meshwire's TLS 1.3 settings and certificates, no framing: secure mode's ceiling. */
  | { kind: 'tls' }
  | {
      kind: 'node';
      mode: Mode;
      /** Nodes in the receiving process (they dial the sender when more than one). */
      receivers?: number;
      rxOptions?: NodeOptions;
      txOptions?: NodeOptions;
    };

/** Human label of a setup. */
export function setupLabel(setup: Setup): string {
  switch (setup.kind) {
    case 'none':
      return setup.label;
    case 'tcp':
      return 'raw TCP';
    case 'tls':
      return 'raw TLS';
    case 'peer':
      return setup.stack;
    default:
      return setup.mode;
  }
}

/** A connected receiver / sender pair of processes. */
export interface Pair {
  rx: Child;
  tx: Child;
  close(): Promise<void>;
}

/**
 * Starts a receiver and a sender process and connects them (raw TCP, raw TLS or meshwire
 * nodes), waiting until both sides see the connection. On failure both are torn down.
 */
export async function openPair(ctx: Context, label: string, setup: Setup, lifetimeMs: number): Promise<Pair> {
  if (setup.kind === 'none') {
    const absent = new Proxy({} as Child, {
      get: () => {
        throw new Error(`${label}: this configuration has no processes`);
      },
    });
    return { rx: absent, tx: absent, close: async () => undefined };
  }
  const worker = setup.kind === 'node' ? 'node' : setup.kind === 'peer' ? 'peer' : 'tcp';
  const options = (role: string) => ({
    name: `${label} ${role} (${setupLabel(setup)})`,
    lifetimeMs,
    execArgv: ctx.execArgv,
  });
  const children: Child[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(children.map((c) => c.close()));
  };
  try {
    const rx = await Child.spawn(worker, options('receiver'));
    children.push(rx);
    const tx = await Child.spawn(worker, options('sender'));
    children.push(tx);
    if (setup.kind === 'peer') {
      const { stack } = setup;
      const { port, address } = await rx.call<{ port: number; address: string }>('listen', { stack });
      await tx.call('connect', { stack, port, address });
      await rx.call('waitSocket');
    } else if (setup.kind !== 'node') {
      const tls = setup.kind === 'tls';
      const { port } = await rx.call<{ port: number }>('listen', { tls });
      await tx.call('connect', { port, tls });
      await rx.call('waitSocket');
    } else {
      const receivers = setup.receivers ?? 1;
      const mode = setup.mode;
      const rxNodes = await rx.call<{ port: number; id: string }[]>('start', {
        count: receivers,
        options: { mode, ...setup.rxOptions },
      });
      const [txNode] = await tx.call<{ port: number; id: string }[]>('start', {
        options: { mode, ...setup.txOptions },
      });
      if (!txNode || !rxNodes[0]) throw new Error('nodes did not start');
      if (receivers === 1) await tx.call('connect', { address: `127.0.0.1:${rxNodes[0].port}` });
      else await rx.call('connect', { address: `127.0.0.1:${txNode.port}` });
      await rx.call('waitPeers', { count: 1 });
      await tx.call('waitPeers', { count: receivers });
    }
    return { rx, tx, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** {@link openPair}, run `body`, and always close the pair. */
export async function withPair<T>(
  ctx: Context,
  label: string,
  setup: Setup,
  lifetimeMs: number,
  body: (rx: Child, tx: Child) => Promise<T>,
): Promise<T> {
  const pair = await openPair(ctx, label, setup, lifetimeMs);
  try {
    return await body(pair.rx, pair.tx);
  } finally {
    await pair.close();
  }
}

/** CPU time (user + system) a child used between two `cpu` readings, as % of one core. */
export function cpuPercent(before: NodeJS.CpuUsage, after: NodeJS.CpuUsage, wallMs: number): number {
  return ((after.user - before.user + after.system - before.system) / 1000 / wallMs) * 100;
}
