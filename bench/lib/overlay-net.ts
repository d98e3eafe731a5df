/**
 * Parent side of the `overlay` suite: an overlay network of N nodes spread over several worker
 * processes (bench/workers/overlay.ts), its formation measured from the active views, and
 * helpers that read the whole network's state.
 */
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../test/helpers/random.js';
import { Child } from './child.js';

/** How long every node is given to receive the probe broadcast. */
const PROBE_WAIT_MS = 30_000;

/** How a network is laid out. */
export interface NetworkPlan {
  nodes: number;
  processes: number;
  maxPeers: number;
  /** Seed of the join contacts and of the broadcast schedule. */
  seed: number;
}

/** One node's view, as the worker reports it. */
export interface NodeView {
  active: string[];
  passive: number;
  joined: boolean;
}

/** Formation of the overlay: milestones in ms after the joins were started (null: not reached). */
export interface Formation {
  /** Every node has a neighbour and the active views connect all nodes. */
  connectedMs: number | null;
  /**
   * Formed: connected, symmetric, and every view full or one short of full (`maxPeers - 1`), or
   * as full as the network allows (see `maximalMs`). The probe is sent at this moment.
   */
  formedMs: number | null;
  /**
   * The views are as full as the network allows: every view is full, or the nodes with room are
   * all neighbours of each other already, so no link can be added without evicting one
   * (HyParView adds a link only when both ends have room; the last free slots fill when two
   * nodes with room happen to pick each other, one random backup per node and tick).
   */
  maximalMs: number | null;
  /** The probe broadcast reached every other node, counted from the start of the joins. */
  probeReachedAllMs: number | null;
  /** From the probe's send to its last arrival. */
  probeMs: number | null;
  probeMissing: number;
  /** Neighbours of the probe's sender that took its payload (the rest are told by IHAVE). */
  probeSentTo: number;
  /**
   * The views connected every node at the last look before the probe was sent. If not, or if
   * they changed while it spread, a node may miss it by design (README "Guarantees": everyone
   * in the sender's connected component while the message spreads).
   */
  connectedAtProbe: boolean;
  /** At the last look: active view sizes (min, mean), full views, one-sided links. */
  minActive: number;
  meanActive: number;
  fullNodes: number;
  asymmetric: number;
  /** CPU seconds of each process from the start of the joins to the probe's last arrival. */
  cpuS: number[];
  /** Overlay reports and error events of all nodes until the end, by kind / code, and the first few in words. */
  reports: Record<string, number>;
  errors: Record<string, number>;
  reportSamples: string[];
}

type Counts = { reports: Record<string, number>; errors: Record<string, number>; reportSamples: string[] };

function mergeCounts(list: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const counts of list) for (const [k, v] of Object.entries(counts)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** Shared clock of every process on this machine (see the worker). */
export function clock(): number {
  return performance.timeOrigin + performance.now();
}

/** A running network: its processes, which process hosts which global node, and the IDs. */
export class OverlayNetwork {
  readonly plan: NetworkPlan;
  readonly children: Child[];
  /** For global index g: [process, local index]. */
  readonly where: [number, number][] = [];
  ids: string[] = [];
  ports: number[] = [];

  private constructor(plan: NetworkPlan, children: Child[]) {
    this.plan = plan;
    this.children = children;
  }

  /** Spawns the processes and starts every node (identities and listeners exist before any clock). */
  static async open(plan: NetworkPlan, execArgv: string[], lifetimeMs: number): Promise<OverlayNetwork> {
    const children: Child[] = [];
    const net = new OverlayNetwork(plan, children);
    try {
      const spawned = await Promise.allSettled(
        Array.from({ length: plan.processes }, (_, p) =>
          Child.spawn('overlay', { name: `overlay ${plan.nodes} #${p}`, lifetimeMs, execArgv }),
        ),
      );
      for (const s of spawned) if (s.status === 'fulfilled') children.push(s.value);
      const failed = spawned.find((s) => s.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
      // Global indexes are dealt round-robin, so consecutive (joining) nodes live in different processes.
      const indexes = children.map((_, p) =>
        Array.from(
          { length: Math.ceil((plan.nodes - p) / plan.processes) },
          (_, i) => i * plan.processes + p,
        ),
      );
      const started = await Promise.all(
        children.map((c, p) =>
          c.call<{ id: string; port: number }[]>(
            'start',
            { indexes: indexes[p], maxPeers: plan.maxPeers },
            120_000,
          ),
        ),
      );
      for (let g = 0; g < plan.nodes; g++) {
        const p = g % plan.processes;
        const local = Math.floor(g / plan.processes);
        net.where.push([p, local]);
        net.ids.push(started[p]![local]!.id);
        net.ports.push(started[p]![local]!.port);
      }
      await Promise.all(children.map((c) => c.call('directory', { ids: net.ids })));
      return net;
    } catch (err) {
      await Promise.all(children.map((c) => c.close()));
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.children.map((c) => c.close()));
  }

  /** Every node's view, by global index. */
  async views(): Promise<NodeView[]> {
    const per = await Promise.all(this.children.map((c) => c.call<NodeView[]>('views', {}, 120_000)));
    return this.where.map(([p, local]) => per[p]![local]!);
  }

  /** Per-process list of local indexes -> value, built from a global-index function. */
  perProcess<T>(value: (g: number) => T): T[][] {
    const out: T[][] = this.children.map(() => []);
    for (let g = 0; g < this.plan.nodes; g++) {
      const [p, local] = this.where[g]!;
      out[p]![local] = value(g);
    }
    return out;
  }

  /**
   * Starts every join at once (node g > 0 bootstraps through a random earlier node, seeded: a network that
   * boots together) and polls the views every `pollMs`. Once formed (or at `timeoutMs`), a
   * random node broadcasts a probe chat and every other must get it; the views are watched
   * `graceMs` longer for the moment they are as full as the network allows.
   */
  async form(timeoutMs: number, graceMs: number, pollMs = 50): Promise<Formation> {
    const { nodes, maxPeers } = this.plan;
    const random = mulberry32(this.plan.seed);
    const contacts = this.perProcess((g) =>
      g === 0 ? null : `127.0.0.1:${this.ports[Math.floor(random() * g)]!}`,
    );
    const cpu0 = await Promise.all(this.children.map((c) => c.call<number>('cpu', {}, 120_000)));
    const t0 = clock();
    await Promise.all(this.children.map((c, p) => c.call('join', { contacts: contacts[p] }, 120_000)));
    let connectedMs: number | null = null;
    let formedMs: number | null = null;
    let maximalMs: number | null = null;
    let shape = viewShape(this.ids, [], maxPeers);
    const look = async (): Promise<void> => {
      shape = viewShape(this.ids, await this.views(), maxPeers);
      const at = clock() - t0;
      const settled = shape.connected && shape.asymmetric === 0;
      if (connectedMs === null && shape.connected) connectedMs = at;
      if (formedMs === null && settled && (shape.minActive >= maxPeers - 1 || shape.maximal)) formedMs = at;
      if (maximalMs === null && settled && shape.maximal) maximalMs = at;
    };
    const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, pollMs));
    const deadline = t0 + timeoutMs;
    for (;;) {
      await look();
      if (formedMs !== null || clock() >= deadline) break;
      await pause();
    }
    const connectedAtProbe = shape.connected;
    const sender = Math.floor(random() * nodes);
    const [sp, sl] = this.where[sender]!;
    const text = `probe ${nodes}`;
    const probe = await this.children[sp]!.call<{ at: number; sent: number }>(
      'probe',
      { local: sl, text },
      60_000,
    );
    const sentAt = probe.at;
    const arrived = Promise.all(
      this.children.map((c, p) =>
        c.call<{ complete: boolean; lastAt: number; missing: number }>(
          'waitProbe',
          { text, except: p === sp ? sl : -1, timeoutMs: PROBE_WAIT_MS },
          PROBE_WAIT_MS + 20_000,
        ),
      ),
    );
    const arrivals = await arrived;
    const cpu1 = await Promise.all(this.children.map((c) => c.call<number>('cpu', {}, 120_000)));
    const graceEnd = clock() + graceMs;
    while (maximalMs === null && clock() < graceEnd) {
      await pause();
      await look();
    }
    const counts = await Promise.all(this.children.map((c) => c.call<Counts>('counts', {}, 120_000)));
    const missing = arrivals.reduce((a, r) => a + r.missing, 0);
    const lastAt = Math.max(...arrivals.map((r) => r.lastAt));
    return {
      connectedMs,
      formedMs,
      maximalMs,
      probeReachedAllMs: missing === 0 ? lastAt - t0 : null,
      probeMs: missing === 0 ? lastAt - sentAt : null,
      probeMissing: missing,
      probeSentTo: probe.sent,
      connectedAtProbe,
      minActive: shape.minActive,
      meanActive: shape.meanActive,
      fullNodes: shape.fullNodes,
      asymmetric: shape.asymmetric,
      cpuS: cpu1.map((c, p) => c - cpu0[p]!),
      reports: mergeCounts(counts.map((c) => c.reports)),
      errors: mergeCounts(counts.map((c) => c.errors)),
      reportSamples: counts.flatMap((c) => c.reportSamples).slice(0, 8),
    };
  }
}

/** Connectivity and fullness of the active views (links taken as undirected). */
export function viewShape(
  ids: string[],
  views: NodeView[],
  maxPeers: number,
): {
  connected: boolean;
  /** The nodes whose views are not full are pairwise neighbours (no link can be added). */
  maximal: boolean;
  fullNodes: number;
  minActive: number;
  meanActive: number;
  asymmetric: number;
} {
  const index = new Map(ids.map((id, g) => [id, g]));
  const adj: number[][] = ids.map(() => []);
  const directed = new Set<string>();
  let asymmetric = 0;
  views.forEach((v, g) => {
    for (const id of v.active) {
      const h = index.get(id);
      if (h === undefined) continue;
      adj[g]!.push(h);
      adj[h]!.push(g);
      directed.add(`${g}>${h}`);
    }
  });
  for (const key of directed) {
    const [a, b] = key.split('>');
    if (!directed.has(`${b}>${a}`)) asymmetric++;
  }
  const seen = new Uint8Array(ids.length);
  const todo = [0];
  seen[0] = 1;
  let reached = 1;
  while (todo.length > 0) {
    for (const h of adj[todo.pop()!]!) {
      if (!seen[h]) {
        seen[h] = 1;
        reached++;
        todo.push(h);
      }
    }
  }
  const sizes = views.map((v) => v.active.length);
  if (sizes.length === 0) {
    return { connected: false, maximal: false, fullNodes: 0, minActive: 0, meanActive: 0, asymmetric: 0 };
  }
  const roomy = sizes.flatMap((s, g) => (s < maxPeers ? [g] : []));
  const maximal = roomy.every((g) => roomy.every((h) => h === g || adj[g]!.includes(h)));
  return {
    connected: reached === ids.length && sizes.every((s) => s >= 1),
    maximal,
    fullNodes: sizes.filter((s) => s >= maxPeers).length,
    minActive: Math.min(...sizes),
    meanActive: sizes.reduce((a, b) => a + b, 0) / sizes.length,
    asymmetric,
  };
}
