/**
 * Parent side of the `overlay` suite: an overlay network of N nodes spread over several worker
 * processes (bench/workers/overlay.ts), its formation measured from the active views, and
 * helpers that read the whole network's state.
 */
import { performance } from 'node:perf_hooks';
import { mulberry32 } from '../../test/helpers/random.js';
import { Child } from './child.js';

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

/** Formation of the overlay: milestones in ms after the joins were started. */
export interface Formation {
  /** Every node has a neighbour and the active views connect all nodes. */
  connectedMs: number | null;
  /**
   * Additionally the active views are symmetric and as full as the network allows: every view
   * is full (`maxPeers`), or the nodes with room are all neighbours of each other already (no
   * link can be added without evicting one; HyParView only adds a link when both ends have room).
   */
  fullMs: number | null;
  /** The probe broadcast reached every other node, counted from the start of the joins. */
  probeReachedAllMs: number | null;
  /** From the probe's send to its last arrival. */
  probeMs: number | null;
  probeMissing: number;
  /** Active view sizes at the end: min, mean, and how many nodes are full. */
  minActive: number;
  meanActive: number;
  fullNodes: number;
  /** Links seen by one side only at the end (a view being changed). */
  asymmetric: number;
  /** CPU seconds of each process from the start of the joins to the probe's last arrival. */
  cpuS: number[];
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
    const per = await Promise.all(this.children.map((c) => c.call<NodeView[]>('views', {}, 30_000)));
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
   * Starts every join at once (node g > 0 dials a random earlier node, seeded: a network that
   * boots together), polls the views every `pollMs` until they are full and connected (or
   * `timeoutMs`), then broadcasts a probe chat from a random node and waits until all have it.
   */
  async form(timeoutMs: number, pollMs = 50): Promise<Formation> {
    const { nodes, maxPeers } = this.plan;
    const random = mulberry32(this.plan.seed);
    const contacts = this.perProcess((g) =>
      g === 0 ? null : `127.0.0.1:${this.ports[Math.floor(random() * g)]!}`,
    );
    const cpu0 = await Promise.all(this.children.map((c) => c.call<number>('cpu')));
    const t0 = clock();
    await Promise.all(this.children.map((c, p) => c.call('join', { contacts: contacts[p] })));
    let connectedMs: number | null = null;
    let fullMs: number | null = null;
    let views: NodeView[] = [];
    const deadline = t0 + timeoutMs;
    for (;;) {
      views = await this.views();
      const at = clock() - t0;
      const shape = viewShape(this.ids, views, maxPeers);
      if (connectedMs === null && shape.connected) connectedMs = at;
      if (shape.connected && shape.maximal && shape.asymmetric === 0) {
        fullMs = at;
        break;
      }
      if (clock() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    const sender = Math.floor(random() * nodes);
    const [sp, sl] = this.where[sender]!;
    const text = `probe ${nodes}`;
    const sentAt = await this.children[sp]!.call<number>('probe', { local: sl, text });
    const arrivals = await Promise.all(
      this.children.map((c, p) =>
        c.call<{ complete: boolean; lastAt: number; missing: number }>(
          'waitProbe',
          { text, except: p === sp ? sl : -1, timeoutMs: 10_000 },
          20_000,
        ),
      ),
    );
    const cpu1 = await Promise.all(this.children.map((c) => c.call<number>('cpu')));
    const missing = arrivals.reduce((a, r) => a + r.missing, 0);
    const lastAt = Math.max(...arrivals.map((r) => r.lastAt));
    const end = viewShape(this.ids, views, maxPeers);
    return {
      connectedMs,
      fullMs,
      probeReachedAllMs: missing === 0 ? lastAt - t0 : null,
      probeMs: missing === 0 ? lastAt - sentAt : null,
      probeMissing: missing,
      minActive: end.minActive,
      meanActive: end.meanActive,
      fullNodes: end.fullNodes,
      asymmetric: end.asymmetric,
      cpuS: cpu1.map((c, p) => c - cpu0[p]!),
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
