/**
 * Drives the sans-IO gossip overlay (`src/overlay/`) from the real node (option `overlay`,
 * secure mode only): connections, frames and the clock go in as events, and the core's actions
 * (send, dial, disconnect, deliver, timers, reports) are performed here, in order, as README
 * "Driving the overlay" specifies. The mesh owns the sockets; this file owns the overlay's view
 * of them.
 */
import { performance } from 'node:perf_hooks';
import { NATIVE_HEADER_BYTES } from '../codec/native.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import type { MeshMessage, SendReport, WithoutTime } from '../messages.js';
import {
  decodeOverlayMessage,
  DEFAULT_MAX_PAYLOAD_BYTES,
  encodeOverlayMessage,
  Overlay,
} from '../overlay/index.js';
import type { OverlayAction, OverlayMessage, OverlayOptions, OverlayTimer } from '../overlay/index.js';
import { deliveryMessage } from './overlay-delivery.js';
import { GossipFramer } from './gossip-framer.js';
import { timerSpread } from './overlay-pacing.js';
import { OverlayGuard, type NodeOverlayStats } from './overlay-guard.js';
import { signBroadcast, verifyBroadcast } from './overlay-signature.js';
import type { OverlayTestHook } from './overlay-test-hook.js';
import { peerRef as ref, type Peer } from '../peers/peer.js';

export { verifyBroadcast } from './overlay-signature.js';
export { overlayTestHooks, type OverlayTestHook } from './overlay-test-hook.js';
export type { NodeOverlayStats, OverlayCounters } from './overlay-guard.js';

/** The hello feature a node advertises when it speaks the overlay (PROTOCOL.md O1). */
export const OVERLAY_FEATURE = 'overlay-1';

/** Most peer-book addresses offered to the overlay as learned candidates per sweep. */
const LEARN_PER_SWEEP = 32;

/** Non-neighbour connections (answers to joins and shuffles, refused requests) live at most this long. */
const IDLE_NON_NEIGHBOR_MS = 15_000;

/** What the driver needs from the mesh. */
export interface OverlayDriverHost {
  /** The connected peer with this ID, if any. */
  peer(id: string): Peer | undefined;
  /** Every connected peer (for the sweep of idle non-neighbour connections). */
  peers(): Iterable<Peer>;
  /** Dials `address`, proving `expectedId`; resolves once the peer is online. */
  dial(address: string, expectedId: string): Promise<unknown>;
  /** Closes the connection to `id` politely (goodbye after the queued frames). */
  disconnect(id: string): void;
  /** Closes the connection to `peer`: a write failed, or (`malformed`) it sent a bad frame. */
  dropPeer(peer: Peer, error: MeshwireError, malformed: boolean): void;
  report(message: WithoutTime<MeshMessage>): void;
  /** Addresses with IDs from the peer book (verified ones first): learned candidates. */
  knownPeers(): { id: string; address: string; verified: boolean }[];
}

/** Construction parameters of {@link OverlayDriver}. */
export interface OverlayDriverOptions {
  selfId: string;
  /** The address other nodes should dial (`self.address` of the core). */
  selfAddress: string;
  /** Signs with the node's Ed25519 identity. */
  signer: { readonly publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array };
  /** Active view size: the node's `maxPeers`. */
  maxPeers: number;
  /** `maxBytesPerMessage`: broadcast payloads are bounded by it and by 256 KiB (the core's default). */
  maxPayloadBytes: number;
  /** Extra core options (tests). */
  core?: Partial<OverlayOptions>;
  /** Test-only misbehaviour (src/internal.ts). */
  testHook?: OverlayTestHook;
}

/** One node's overlay, wired to its connections. */
export class OverlayDriver {
  readonly #host: OverlayDriverHost;
  readonly #overlay: Overlay;
  readonly #maxPayloadBytes: number;
  /** Encoded messages waiting for a dial the overlay asked for, per peer ID. */
  readonly #waiting = new Map<string, Uint8Array[]>();
  readonly #timers = new Set<NodeJS.Timeout>();
  /** Peers we dialled for the overlay (not to join through). */
  readonly #overlayDials = new Set<string>();
  /** Peers the core asked to disconnect while their dial was in flight. */
  readonly #closeAfterFlush = new Set<string>();
  #sweep: NodeJS.Timeout | undefined;
  readonly #framer = new GossipFramer();
  #closed = false;
  readonly #hook: OverlayTestHook | undefined;
  readonly #guard = new OverlayGuard();
  readonly #selfId: string;

  constructor(host: OverlayDriverHost, options: OverlayDriverOptions) {
    this.#host = host;
    this.#maxPayloadBytes = Math.min(options.maxPayloadBytes, DEFAULT_MAX_PAYLOAD_BYTES);
    const { signer } = options;
    this.#hook = options.testHook;
    this.#selfId = options.selfId;
    this.#overlay = new Overlay({
      ...options.core,
      ...options.testHook?.core,
      self: { id: options.selfId, address: options.selfAddress },
      maxPeers: options.maxPeers,
      // The epoch grows across restarts, so a restarted sender's sequence numbers are new (O-guarantees).
      epoch: Date.now(),
      signer: {
        sign: (fields) => signBroadcast(signer, fields),
      },
      verifier: { verify: verifyBroadcast },
    });
    this.#perform((out) => this.#overlay.start(now(), out));
    this.#sweep = setInterval(() => this.#sweepIdle(), IDLE_NON_NEIGHBOR_MS / 3);
    this.#sweep.unref();
    this.#learnFromBook();
    this.#hook?.attach?.({
      send: (to, message) => {
        const peer = this.#host.peer(to);
        if (peer) this.#write(peer, encodeOverlayMessage(message));
      },
    });
  }

  /** Views and counters (for `/peers`, the application and tests). */
  stats(): NodeOverlayStats {
    return { ...this.#overlay.stats(), ...this.#guard.counters() };
  }

  /**
   * A connection to an overlay-speaking peer is online: flush what waited for it, and join
   * through it when it is a connection the user asked for (connect, bootstrap) and we have not
   * joined yet.
   */
  peerUp(peer: Peer): void {
    if (this.#closed) return;
    if (this.#guard.isBlocked(peer.id)) {
      queueMicrotask(() => this.#host.disconnect(peer.id));
      return;
    }
    const waiting = this.#waiting.get(peer.id);
    this.#waiting.delete(peer.id);
    const overlayDial = this.#overlayDials.delete(peer.id);
    if (waiting) for (const body of waiting) this.#write(peer, body);
    if (this.#closeAfterFlush.delete(peer.id)) queueMicrotask(() => this.#closeUnwanted(peer.id));
    if (peer.direction !== 'outbound' || overlayDial) return;
    const stats = this.#overlay.stats();
    if (stats.active.includes(peer.id) || stats.pending.includes(peer.id)) return;
    if (!stats.joined || stats.active.length === 0) {
      this.#perform((out) => this.#overlay.join({ id: peer.id, address: peer.address }, now(), out));
    }
  }

  /** The connection to `id` closed or could not be opened (any reason). */
  peerDown(id: string): void {
    if (this.#closed) return;
    this.#waiting.delete(id);
    this.#overlayDials.delete(id);
    this.#closeAfterFlush.delete(id);
    this.#perform((out) => this.#overlay.handle({ type: 'peer-down', peer: id }, now(), out));
  }

  /** An `overlay` frame from a connected peer; a malformed one ends the connection (rule 8). */
  frame(peer: Peer, body: Uint8Array): void {
    if (this.#closed || this.#guard.isBlocked(peer.id)) return;
    let message: OverlayMessage;
    try {
      message = decodeOverlayMessage(body, { maxPayloadBytes: this.#maxPayloadBytes });
    } catch (err) {
      this.#host.dropPeer(peer, toMeshwireError(err, 'ERR_MALFORMED_FRAME'), true);
      return;
    }
    // The address a peer claims in JOIN / NEIGHBOR is replaced by the one its hello advertised on
    // this connection: that one is reachable from here (a node bound to 0.0.0.0 cannot know).
    if ((message.type === 'join' || message.type === 'neighbor') && peer.advertised) {
      message = { ...message, address: peer.address };
    }
    // A payload's relays reuse its received bytes (a tampering test hook sees fresh encodings).
    if (message.type === 'gossip' && !this.#hook) this.#framer.received(message, body);
    try {
      this.#perform((out) => this.#overlay.handle({ type: 'message', from: peer.id, message }, now(), out));
    } finally {
      this.#framer.done();
    }
  }

  /** Broadcasts through the overlay; the report names the neighbours that got the payload. */
  broadcast(kind: 0 | 1, payload: Uint8Array): SendReport {
    if (this.#closed) throw new MeshwireError('ERR_CLOSED', 'node is closed');
    if (payload.length > this.#maxPayloadBytes) {
      // Every node relays and caches a broadcast (up to 1024 of them for GRAFTs): bounded well
      // below maxBytesPerMessage, the limit of a direct message.
      throw new MeshwireError(
        'ERR_FRAME_TOO_LARGE',
        `overlay broadcast of ${payload.length} bytes exceeds ${this.#maxPayloadBytes}`,
      );
    }
    const report: SendReport = { sent: [], failed: [] };
    const actions: OverlayAction[] = [];
    this.#overlay.broadcast(kind, payload, now(), actions);
    for (const a of actions) {
      if (a.type === 'send' && a.message.type === 'gossip') report.sent.push(a.to);
    }
    this.#run(actions);
    return report;
  }

  /** Tells the neighbours we leave, then stops every timer. */
  close(): void {
    if (this.#closed) return;
    this.#perform((out) => this.#overlay.leave(out));
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#sweep) clearInterval(this.#sweep);
    this.#waiting.clear();
  }

  #perform(step: (out: OverlayAction[]) => void): void {
    const out: OverlayAction[] = [];
    step(out);
    this.#run(out);
  }

  /** Performs the core's actions in order (README "Driving the overlay"). */
  #run(actions: OverlayAction[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'send':
          this.#send(a.to, a.address, a.message);
          break;
        case 'disconnect':
          // After the frames queued before it (they are in the socket's queue already), unless the
          // peer became a neighbour (or a pending one) again meanwhile.
          // A dial still in flight closes once its queued frames are written (see peerUp).
          if (this.#waiting.has(a.peer)) this.#closeAfterFlush.add(a.peer);
          else queueMicrotask(() => this.#closeUnwanted(a.peer));
          break;
        case 'neighbor-up':
        case 'neighbor-down':
          // The connection itself is what the mesh keeps; `stats()` shows the views.
          break;
        case 'deliver':
          this.#host.report(
            deliveryMessage(
              a.message.sender,
              a.message.kind,
              a.message.payload,
              this.#host.peer(a.message.sender),
            ),
          );
          break;
        case 'timer':
          this.#timer(a.at, a.timer);
          break;
        case 'report': {
          const r = a.report;
          this.#guard.count(r);
          const from = 'from' in r ? this.#host.peer(r.from) : undefined;
          this.#host.report({ type: 'overlay-report', report: r, ...(from ? { peer: ref(from) } : {}) });
          if (r.kind === 'join-failed') queueMicrotask(() => this.#retryJoin(r.contact));
          if (r.kind === 'bad-signature') this.#block(r.from);
          break;
        }
      }
    }
  }

  /** A join got no answer: try once more through another connected overlay peer, if any. */
  #retryJoin(failed: string): void {
    if (this.#closed) return;
    const stats = this.#overlay.stats();
    if (stats.joined || stats.pending.length > 0) return;
    for (const peer of this.#host.peers()) {
      if (peer.id === failed || !peer.features?.includes(OVERLAY_FEATURE)) continue;
      this.#perform((out) => this.#overlay.join({ id: peer.id, address: peer.address }, now(), out));
      return;
    }
  }

  #closeUnwanted(id: string): void {
    if (this.#closed || this.#wanted(id) || this.#waiting.has(id)) return;
    if (this.#host.peer(id)) this.#host.disconnect(id);
  }

  #wanted(id: string): boolean {
    const s = this.#overlay.stats();
    return s.active.includes(id) || s.pending.includes(id);
  }

  /** A neighbour relayed a broadcast with a bad signature: cut it off (overlay-guard.ts says why). */
  #block(id: string): void {
    if (id === this.#selfId) return;
    this.#guard.block(id);
    queueMicrotask(() => {
      const peer = this.#host.peer(id);
      if (peer) {
        this.#host.dropPeer(
          peer,
          new MeshwireError('ERR_BAD_SIGNATURE', 'relayed an overlay broadcast with a bad signature'),
          true,
        );
      }
    });
  }

  /** Peer-book addresses become learned candidates of the overlay (bounded there). */
  #learnFromBook(): void {
    const known = this.#host
      .knownPeers()
      .filter((p) => p.id !== this.#selfId && !this.#guard.isBlocked(p.id));
    // A random sample each sweep (verified entries come first in `known`, so they fill it first
    // when they are many), so a big book is offered in turn, not always its first entries.
    const verified = known.filter((p) => p.verified);
    const pool = verified.length >= LEARN_PER_SWEEP ? verified : known;
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    }
    const peers = pool.slice(0, LEARN_PER_SWEEP).map((p) => ({ id: p.id, address: p.address }));
    if (peers.length > 0)
      this.#perform((out) => this.#overlay.handle({ type: 'learned', peers }, now(), out));
  }

  #send(to: string, address: string, message: OverlayMessage): void {
    if (this.#closed) return;
    if (this.#guard.isBlocked(to)) {
      queueMicrotask(() => this.peerDown(to));
      return;
    }
    if (this.#hook?.outgoing) {
      const altered = this.#hook.outgoing(to, message);
      if (!altered) return;
      message = altered;
    }
    if (message.type === 'gossip' && message.sender !== this.#selfId) this.#guard.relayed++;
    const peer = this.#host.peer(to);
    if (message.type === 'gossip' && peer) {
      // The core relays one (immutable) gossip object to several neighbours in a row: framed once.
      this.#writeFrame(peer, this.#framer.frame(message));
      return;
    }
    const body =
      message.type === 'gossip'
        ? this.#framer.frame(message).subarray(NATIVE_HEADER_BYTES)
        : encodeOverlayMessage(message);
    if (peer) {
      this.#write(peer, body);
      return;
    }
    const waiting = this.#waiting.get(to);
    if (waiting) {
      waiting.push(body);
      return;
    }
    if (address === '') {
      // Nowhere to dial: the core learns at once (on the next turn, as from a failed dial).
      queueMicrotask(() => this.peerDown(to));
      return;
    }
    this.#waiting.set(to, [body]);
    this.#overlayDials.add(to);
    this.#host.dial(address, to).then(
      () => {
        // peerUp flushed the queue when the peer came online; an already connected peer (a
        // dial answered by an existing connection) is flushed here.
        const peer = this.#host.peer(to);
        if (peer && this.#waiting.has(to)) this.peerUp(peer);
      },
      () => {
        if (this.#waiting.has(to)) this.peerDown(to);
      },
    );
  }

  #write(peer: Peer, body: Uint8Array): void {
    try {
      // Membership and control messages may use the control slack; payloads obey the queue limit.
      peer.connection.write({ type: 'overlay', body }, body[0] !== 0x10);
    } catch (err) {
      this.#host.dropPeer(peer, toMeshwireError(err), false);
    }
  }

  /** A whole gossip frame (payloads obey the queue limit: no control slack). */
  #writeFrame(peer: Peer, frame: Buffer): void {
    try {
      peer.connection.writeEncoded([frame]);
    } catch (err) {
      this.#host.dropPeer(peer, toMeshwireError(err), false);
    }
  }

  #timer(at: number, timer: OverlayTimer): void {
    if (this.#closed) return;
    const handle = setTimeout(
      () => {
        this.#timers.delete(handle);
        if (this.#closed) return;
        this.#perform((out) => this.#overlay.handle({ type: 'timer', timer }, Math.max(at, now()), out));
      },
      Math.max(0, at - now()) + timerSpread(timer, at - now()),
    );
    handle.unref();
    this.#timers.add(handle);
  }

  /**
   * Connections the overlay opened for a join, a shuffle reply or a refused request are closed by
   * its `disconnect` actions; this catches any left over (e.g. an inbound one whose peer went
   * silent), so connections beyond the active view stay short-lived.
   */
  #sweepIdle(): void {
    if (this.#closed) return;
    this.#learnFromBook();
    const cutoff = Date.now() - IDLE_NON_NEIGHBOR_MS;
    for (const peer of [...this.#host.peers()]) {
      if (!peer.features?.includes(OVERLAY_FEATURE)) continue;
      if (peer.connectedAt < cutoff && !this.#wanted(peer.id) && !this.#waiting.has(peer.id)) {
        this.#host.disconnect(peer.id);
      }
    }
  }
}

function now(): number {
  return performance.now();
}
