/**
 * What the node counts and refuses on top of the overlay core: every report by kind (so drops
 * are visible in `overlayStats()`, not only as events), the payloads relayed for others, and
 * the relays caught with a bad signature.
 *
 * Why a relay with a bad signature is cut off, not merely pruned: honest relays verify before
 * relaying and forward the signed bytes unchanged (only the unsigned hop count changes), so a
 * bad signature from a neighbour means it tampered or forged (or is broken), and TLS proved who
 * it is. A pruned link still carries IHAVEs, and the next GRAFT would make it eager again; a
 * disconnected and refused one carries nothing, and HyParView replaces it from the passive view.
 */
import type { OverlayReport, OverlayStats } from '../overlay/index.js';

/** A relay caught with a bad signature is refused this long. */
const BLOCK_MS = 10 * 60_000;
/** Most relays blocked at once (oldest forgotten first). */
const MAX_BLOCKED = 256;

/** Counters of {@link NodeOverlayStats}. */
export interface OverlayCounters {
  /** Reports raised, by kind (`bad-signature`, `rate-limited`, `gap`, …): every drop is counted. */
  reports: Partial<Record<OverlayReport['kind'], number>>;
  /** Broadcast payloads this node relayed for other senders (copies sent, its own not counted). */
  relayed: number;
  /** Neighbours currently refused for having relayed a forged or altered broadcast. */
  blocked: string[];
}

/** What `P2PNode.overlayStats()` returns: the core's views plus the node's counters. */
export type NodeOverlayStats = OverlayStats & OverlayCounters;

/** The counters and the bounded block list of one node. */
export class OverlayGuard {
  readonly #reports: OverlayCounters['reports'] = {};
  /** Relay ID → time it may come back. */
  readonly #blocked = new Map<string, number>();
  relayed = 0;

  /** Counts one report. */
  count(report: OverlayReport): void {
    this.#reports[report.kind] = (this.#reports[report.kind] ?? 0) + 1;
  }

  /** Refuses `id` for BLOCK_MS (the oldest entry goes when MAX_BLOCKED are held). */
  block(id: string, now = Date.now()): void {
    this.#blocked.delete(id);
    if (this.#blocked.size >= MAX_BLOCKED) this.#blocked.delete(this.#blocked.keys().next().value!);
    this.#blocked.set(id, now + BLOCK_MS);
  }

  /** Whether `id` is refused now. */
  isBlocked(id: string, now = Date.now()): boolean {
    const until = this.#blocked.get(id);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#blocked.delete(id);
    return false;
  }

  /** A snapshot of the counters. */
  counters(now = Date.now()): OverlayCounters {
    for (const id of [...this.#blocked.keys()]) this.isBlocked(id, now);
    return { reports: { ...this.#reports }, relayed: this.relayed, blocked: [...this.#blocked.keys()] };
  }
}
