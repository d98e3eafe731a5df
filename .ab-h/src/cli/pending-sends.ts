/**
 * Secure-mode `/send` offers the CLI follows until every peer offered the file has it (its
 * `have` announcement after the download) or refused it, so that it can say "sent".
 */
import type { FileOffer } from '../files/index.js';

/** Offers followed at once; the oldest is forgotten first (a peer that never answers). */
export const MAX_PENDING_SENDS = 64;

/** A `/send` every peer answered. */
export interface FinishedSend {
  offer: FileOffer;
  delivered: string[];
  refused: string[];
  started: number;
}

/** Offers waiting for their peers' answers, by root. */
export class PendingSends {
  readonly #sends = new Map<string, FinishedSend & { waiting: Set<string> }>();

  /** Follows `offer`, sent to `peerIds` at `started` (performance.now()). */
  add(offer: FileOffer, peerIds: readonly string[], started: number): void {
    if (peerIds.length === 0) return;
    if (this.#sends.size >= MAX_PENDING_SENDS && !this.#sends.has(offer.rootHex)) {
      const oldest = this.#sends.keys().next().value;
      if (oldest !== undefined) this.#sends.delete(oldest);
    }
    this.#sends.set(offer.rootHex, { offer, waiting: new Set(peerIds), delivered: [], refused: [], started });
  }

  /** Records a peer's answer; returns the send once every peer answered. */
  answered(rootHex: string, peerId: string, delivered: boolean): FinishedSend | undefined {
    const send = this.#sends.get(rootHex);
    if (!send?.waiting.delete(peerId)) return undefined;
    (delivered ? send.delivered : send.refused).push(peerId);
    if (send.waiting.size > 0) return undefined;
    this.#sends.delete(rootHex);
    return send;
  }
}
