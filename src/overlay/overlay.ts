/**
 * The overlay of one node: HyParView membership and Plumtree broadcast behind one sans-IO face.
 * The driver calls `start`, `join`, `broadcast` and `handle` with the current time and an action
 * sink, and performs the actions in order (see README "How big networks work" for what each one
 * means on a real connection). No sockets, timers or clocks in here: the simulator drives the
 * same code on a virtual clock.
 */
import { HyParView } from './hyparview.js';
import { resolveOverlayOptions } from './options.js';
import type { OverlayOptions, ResolvedOverlayOptions } from './options.js';
import { Plumtree } from './plumtree.js';
import type { BroadcastResult } from './plumtree.js';
import type { ActionSink, OverlayEvent, PeerId, PeerInfo } from './types.js';

/** A snapshot for `/peers` and tests. */
export interface OverlayStats {
  /** A contact accepted our join (see `HyParView.joined`). */
  joined: boolean;
  active: PeerId[];
  passive: PeerId[];
  pending: PeerId[];
  /** Candidates learned from peer exchange and the peer book (not yet proven by the overlay). */
  learned: PeerId[];
  /** Estimated number of nodes in this node's overlay, itself included (size-estimate.ts). */
  sizeEstimate: number;
  /** Senders whose broadcast tree this node keeps. */
  trees: number;
  senders: number;
  cached: number;
  missing: number;
}

/** One node's overlay state machine. */
export class Overlay {
  readonly options: ResolvedOverlayOptions;
  readonly membership: HyParView;
  readonly broadcaster: Plumtree;
  #started = false;
  /** `options.self.id`, kept here: every frame is checked against it (one object fewer to read). */
  readonly #selfId: PeerId;

  constructor(options: OverlayOptions) {
    this.options = resolveOverlayOptions(options);
    this.#selfId = this.options.self.id;
    this.broadcaster = new Plumtree(this.options, {
      isNeighbor: (id) => this.membership.active.has(id),
      neighborIds: () => this.membership.active.idList(),
    });
    this.membership = new HyParView(this.options, {
      neighborUp: (p, now, out) => this.broadcaster.neighborUp(p, now, out),
      neighborDown: (p) => this.broadcaster.neighborDown(p),
    });
  }

  /** This node's ID. */
  get id(): PeerId {
    return this.options.self.id;
  }

  /** Starts the maintenance timer. Idempotent. */
  start(now: number, out: ActionSink): void {
    if (this.#started) return;
    this.#started = true;
    out.push({ type: 'timer', at: now + this.options.tickMs, timer: { kind: 'tick' } });
  }

  /** Joins the overlay through `contact`, any member (it forwards the join if it is full). */
  join(contact: PeerInfo, now: number, out: ActionSink): void {
    this.start(now, out);
    this.membership.join(contact, now, out);
  }

  /**
   * Broadcasts `payload` (kind 0 = chat, 1 = bytes) to the whole overlay. Throws
   * `ERR_RATE_LIMITED` when this node is over its own `originRate`.
   */
  broadcast(kind: number, payload: Uint8Array, now: number, out: ActionSink): BroadcastResult {
    return this.broadcaster.broadcast(kind, payload, now, out);
  }

  /** Feeds one event. */
  handle(event: OverlayEvent, now: number, out: ActionSink): void {
    switch (event.type) {
      case 'message': {
        const { from, message: m } = event;
        if (from === this.#selfId) return;
        switch (m.type) {
          case 'gossip':
            return this.broadcaster.onGossip(from, m, now, out);
          case 'ihave':
            return this.broadcaster.onIHave(from, m.entries, now, out);
          case 'graft':
            return this.broadcaster.onGraft(from, m.ids, now, out);
          case 'prune':
            return this.broadcaster.onPrune(from, m.sender);
          default:
            return this.membership.handle(from, m, now, out);
        }
      }
      case 'peer-down':
        return this.membership.peerDown(event.peer, now, out);
      case 'learned':
        return this.membership.learn(event.peers);
      case 'timer': {
        const t = event.timer;
        switch (t.kind) {
          case 'tick':
            this.membership.tick(now, out);
            this.broadcaster.tick(now, out);
            out.push({ type: 'timer', at: now + this.options.tickMs, timer: t });
            return;
          case 'ihave':
            return this.broadcaster.flushIHave(out);
          case 'graft':
            return this.broadcaster.graftTimer(t.key, now, out);
          case 'gap':
            return this.broadcaster.order.gapTimer(t.sender, now, out);
        }
      }
    }
  }

  /** Leaves: neighbours drop us from both views. */
  leave(out: ActionSink): void {
    this.membership.leave(out);
  }

  /** Current views and counters. */
  stats(): OverlayStats {
    return {
      joined: this.membership.joined,
      active: this.membership.active.ids(),
      passive: this.membership.passive.ids(),
      pending: this.membership.pendingIds(),
      learned: this.membership.learned.ids(),
      sizeEstimate: this.membership.sizeEstimate(),
      trees: this.broadcaster.order.size,
      senders: this.broadcaster.order.size,
      cached: this.broadcaster.cache.size,
      missing: this.broadcaster.missingCount,
    };
  }
}
