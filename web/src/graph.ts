/**
 * The mesh as an SVG graph with a small force layout (repulsion, springs, a pull to the centre):
 * a few dozen lines instead of a graph library, which keeps the bundle a few KB. This node sits
 * in the middle; edges to its peers are coloured by RTT; links that peers reported are dashed.
 * Nodes fade in when they join and out when they leave.
 */
import type { Link, PeerRow } from '../../src/web/live-types.js';
import { rttClass, svg } from './dom.js';

interface GNode {
  id: string;
  x: number;
  y: number;
  vx: number;
  vy: number;
  g: SVGGElement;
  label: SVGTextElement;
  self: boolean;
}

interface GEdge {
  a: string;
  b: string;
  line: SVGLineElement;
  reported: boolean;
}

const LEAVE_MS = 400;
const SELF_EDGE_LENGTH = 150;
const REPORTED_EDGE_LENGTH = 140;
const MAX_LABEL = 24;

function shortLabel(text: string): string {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

export class MeshGraph {
  readonly #nodesLayer: SVGGElement;
  readonly #edgesLayer: SVGGElement;
  readonly #nodes = new Map<string, GNode>();
  readonly #edges = new Map<string, GEdge>();
  #frame = 0;
  #selfId = '';

  constructor(nodesLayer: SVGGElement, edgesLayer: SVGGElement) {
    this.#nodesLayer = nodesLayer;
    this.#edgesLayer = edgesLayer;
  }

  /** Shows exactly these nodes and edges, animating the difference. */
  update(self: { id: string; name: string }, peers: readonly PeerRow[], links: readonly Link[]): void {
    this.#selfId = self.id;
    const wanted = new Map<string, string>([[self.id, self.name]]);
    for (const p of peers) wanted.set(p.id, p.name);
    for (const [id, name] of wanted) this.#ensureNode(id, name, id === self.id);
    for (const id of [...this.#nodes.keys()]) if (!wanted.has(id)) this.#removeNode(id);

    const edges = new Map<string, { a: string; b: string; cls: string; reported: boolean }>();
    for (const p of peers)
      edges.set(`${self.id}|${p.id}`, { a: self.id, b: p.id, cls: rttClass(p.rttMs), reported: false });
    for (const [a, b] of links) {
      // Links to this node are drawn from its own peer list, with their RTT; links to nodes
      // that are not (or no longer) peers are not drawn.
      if (a === self.id || b === self.id || !wanted.has(a) || !wanted.has(b)) continue;
      const key = a < b ? `${a}|${b}` : `${b}|${a}`;
      edges.set(key, { a, b, cls: 'reported', reported: true });
    }
    for (const [key, e] of edges) {
      let edge = this.#edges.get(key);
      if (!edge) {
        const line = svg('line');
        this.#edgesLayer.append(line);
        edge = { a: e.a, b: e.b, line, reported: e.reported };
        this.#edges.set(key, edge);
      }
      edge.line.setAttribute('class', `edge ${e.cls}`);
    }
    for (const [key, edge] of this.#edges) {
      if (!edges.has(key)) {
        edge.line.remove();
        this.#edges.delete(key);
      }
    }
    this.#kick();
  }

  #ensureNode(id: string, name: string, self: boolean): void {
    const existing = this.#nodes.get(id);
    if (existing) {
      existing.label.textContent = shortLabel(name);
      return;
    }
    const g = svg('g', `node${self ? ' self' : ''} entering`);
    g.dataset.id = id;
    const circle = svg('circle');
    circle.setAttribute('r', self ? '14' : '10');
    const title = svg('title');
    title.textContent = `${name} (${id})`;
    const label = svg('text');
    label.setAttribute('dy', '26');
    label.textContent = shortLabel(name);
    g.append(circle, title, label);
    this.#nodesLayer.append(g);
    const angle = Math.random() * Math.PI * 2;
    const node: GNode = {
      id,
      x: self ? 0 : Math.cos(angle) * 60,
      y: self ? 0 : Math.sin(angle) * 60,
      vx: 0,
      vy: 0,
      g,
      label,
      self,
    };
    this.#nodes.set(id, node);
    this.#place(node);
    // Let the browser paint the entering state once, so the transition to visible runs.
    requestAnimationFrame(() => requestAnimationFrame(() => g.classList.remove('entering')));
  }

  #removeNode(id: string): void {
    const node = this.#nodes.get(id);
    if (!node) return;
    this.#nodes.delete(id);
    node.g.classList.add('leaving');
    delete node.g.dataset.id;
    node.g.dataset.left = id;
    setTimeout(() => node.g.remove(), LEAVE_MS);
  }

  #place(n: GNode): void {
    n.g.setAttribute('transform', `translate(${n.x.toFixed(1)},${n.y.toFixed(1)})`);
  }

  #kick(): void {
    let steps = 0;
    const tick = (): void => {
      const moved = this.#step();
      this.#draw();
      steps++;
      this.#frame = moved > 0.3 && steps < 600 ? requestAnimationFrame(tick) : 0;
    };
    if (this.#frame) cancelAnimationFrame(this.#frame);
    this.#frame = requestAnimationFrame(tick);
  }

  /** One step of the layout; returns the largest move. */
  #step(): number {
    const nodes = [...this.#nodes.values()];
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const dx = a.x - b.x;
        const dy = a.y - b.y;
        const d2 = Math.max(dx * dx + dy * dy, 25);
        const f = 5000 / d2;
        const d = Math.sqrt(d2);
        a.vx += (dx / d) * f;
        a.vy += (dy / d) * f;
      }
    }
    for (const e of this.#edges.values()) {
      const a = this.#nodes.get(e.a);
      const b = this.#nodes.get(e.b);
      if (!a || !b) continue;
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const d = Math.max(Math.sqrt(dx * dx + dy * dy), 1);
      const f = ((d - (e.reported ? REPORTED_EDGE_LENGTH : SELF_EDGE_LENGTH)) * 0.02) / d;
      a.vx += dx * f;
      a.vy += dy * f;
      b.vx -= dx * f;
      b.vy -= dy * f;
    }
    let moved = 0;
    for (const n of nodes) {
      if (n.id === this.#selfId) {
        n.x = n.y = n.vx = n.vy = 0;
        continue;
      }
      n.vx = (n.vx - n.x * 0.005) * 0.8;
      n.vy = (n.vy - n.y * 0.005) * 0.8;
      n.x = Math.max(-280, Math.min(280, n.x + n.vx));
      n.y = Math.max(-180, Math.min(170, n.y + n.vy));
      moved = Math.max(moved, Math.abs(n.vx) + Math.abs(n.vy));
    }
    return moved;
  }

  #draw(): void {
    for (const n of this.#nodes.values()) this.#place(n);
    for (const e of this.#edges.values()) {
      const a = this.#nodes.get(e.a);
      const b = this.#nodes.get(e.b);
      if (!a || !b) continue;
      e.line.setAttribute('x1', a.x.toFixed(1));
      e.line.setAttribute('y1', a.y.toFixed(1));
      e.line.setAttribute('x2', b.x.toFixed(1));
      e.line.setAttribute('y2', b.y.toFixed(1));
    }
  }
}
