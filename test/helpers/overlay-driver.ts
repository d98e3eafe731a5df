/**
 * A tiny deterministic driver for the overlay cores in unit tests: messages are delivered in
 * FIFO order after a fixed latency, timers fire at their time, everything on a virtual clock.
 * Tests can drop or tamper with messages in flight (`filter`), and inspect what each node
 * delivered and reported. No sockets: these tests are about the state machines.
 */
import { Overlay } from '../../src/overlay/index.js';
import type {
  GossipMessage,
  OverlayAction,
  OverlayMessage,
  OverlayOptions,
  OverlayReport,
  OverlayTimer,
  SignedFields,
} from '../../src/overlay/index.js';

/** A signer whose signature is a checksum of the signed fields (the stand-in of the simulator). */
export function checksum(f: SignedFields): Uint8Array {
  let h = 0x811c9dc5;
  const mix = (v: number): void => {
    h = Math.imul(h ^ v, 0x01000193);
  };
  for (let i = 0; i < f.sender.length; i++) mix(f.sender.charCodeAt(i));
  mix(f.epoch);
  mix(f.seq);
  mix(f.kind);
  for (const b of f.payload) mix(b);
  const sig = new Uint8Array(4);
  new DataView(sig.buffer).setUint32(0, h >>> 0);
  return sig;
}

export const testSigner = { sign: checksum };
export const testVerifier = {
  verify: (f: SignedFields, sig: Uint8Array): boolean => Buffer.from(checksum(f)).equals(Buffer.from(sig)),
};

interface Pending {
  at: number;
  seq: number;
  kind: 'message' | 'timer';
  node: string;
  from?: string;
  message?: OverlayMessage;
  timer?: OverlayTimer;
}

/** A deterministic seeded random source for tests. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** What the filter may do with a message in flight. */
export type FilterResult = 'deliver' | 'drop' | OverlayMessage;

/** A network of overlay cores on a virtual clock. */
export class TestNet {
  readonly nodes = new Map<string, Overlay>();
  readonly delivered = new Map<string, GossipMessage[]>();
  readonly reports = new Map<string, OverlayReport[]>();
  readonly sent: { from: string; to: string; message: OverlayMessage }[] = [];
  readonly down = new Set<string>();
  now = 0;
  latency = 1;
  filter: (from: string, to: string, m: OverlayMessage) => FilterResult = () => 'deliver';
  #queue: Pending[] = [];
  #seq = 0;

  constructor(readonly defaults: Partial<OverlayOptions> = {}) {}

  /** Adds a node (started) named `id`. */
  add(id: string, options: Partial<OverlayOptions> = {}): Overlay {
    const node = new Overlay({
      signer: testSigner,
      verifier: testVerifier,
      random: seeded(this.nodes.size + 1),
      tickMs: 1000,
      ...this.defaults,
      ...options,
      self: { id, address: `${id}.test:1` },
    });
    this.nodes.set(id, node);
    this.delivered.set(id, []);
    this.reports.set(id, []);
    const out: OverlayAction[] = [];
    node.start(this.now, out);
    this.perform(id, out);
    return node;
  }

  node(id: string): Overlay {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** `id` joins through `contact`. */
  join(id: string, contact: string): void {
    const out: OverlayAction[] = [];
    this.node(id).join({ id: contact, address: `${contact}.test:1` }, this.now, out);
    this.perform(id, out);
  }

  /** `id` broadcasts `text`; returns what `broadcast` returned. */
  broadcast(id: string, text: string): ReturnType<Overlay['broadcast']> {
    const out: OverlayAction[] = [];
    const r = this.node(id).broadcast(0, new TextEncoder().encode(text), this.now, out);
    this.perform(id, out);
    return r;
  }

  /** Feeds any event to a node. */
  event(id: string, event: Parameters<Overlay['handle']>[0]): void {
    const out: OverlayAction[] = [];
    this.node(id).handle(event, this.now, out);
    this.perform(id, out);
  }

  /** Kills `id`: its neighbours see the connection drop (after the latency). */
  kill(id: string): void {
    this.down.add(id);
    for (const [other, node] of this.nodes) {
      if (other === id || this.down.has(other)) continue;
      const s = node.stats();
      if (s.active.includes(id) || s.pending.includes(id)) this.#schedulePeerDown(other, id);
    }
  }

  /** Texts delivered at `id`, in order. */
  texts(id: string): string[] {
    return this.delivered.get(id)!.map((m) => `${m.sender}:${new TextDecoder().decode(m.payload)}`);
  }

  /** Processes everything due up to `until` (virtual ms). */
  run(until: number): void {
    while (this.#queue.length > 0) {
      this.#queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#queue[0]!;
      if (next.at > until) break;
      this.#queue.shift();
      this.now = Math.max(this.now, next.at);
      if (this.down.has(next.node)) {
        if (next.kind === 'message' && next.from && !this.down.has(next.from)) {
          this.#schedulePeerDown(next.from, next.node);
        }
        continue;
      }
      if (next.kind === 'message') {
        this.event(next.node, { type: 'message', from: next.from!, message: next.message! });
      } else {
        this.event(next.node, { type: 'timer', timer: next.timer! });
      }
    }
    this.now = Math.max(this.now, until);
  }

  /** The connection from `at` to `peer` is gone: tell `at` at once. */
  #schedulePeerDown(at: string, peer: string): void {
    this.event(at, { type: 'peer-down', peer });
  }

  perform(id: string, out: OverlayAction[]): void {
    for (const a of out) {
      switch (a.type) {
        case 'send': {
          this.sent.push({ from: id, to: a.to, message: a.message });
          const verdict = this.filter(id, a.to, a.message);
          if (verdict === 'drop') break;
          const message = verdict === 'deliver' ? a.message : verdict;
          if (!this.nodes.has(a.to)) break;
          this.#queue.push({
            at: this.now + this.latency,
            seq: this.#seq++,
            kind: 'message',
            node: a.to,
            from: id,
            message,
          });
          break;
        }
        case 'timer':
          this.#queue.push({
            at: Math.max(a.at, this.now),
            seq: this.#seq++,
            kind: 'timer',
            node: id,
            timer: a.timer,
          });
          break;
        case 'deliver':
          this.delivered.get(id)!.push(a.message);
          break;
        case 'report':
          this.reports.get(id)!.push(a.report);
          break;
        default:
          break;
      }
    }
  }
}
