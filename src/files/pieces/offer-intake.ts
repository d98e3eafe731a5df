/**
 * What a pushed offer (a peer sends us a file) goes through before its download begins: the
 * limits at once (size, disk, slots), then the application's `accept` hook (at most a few
 * questions per peer at a time), then the per-peer slots again, since they may have filled while
 * the hook thought. A refusal at any step answers the offering peer with a nope and is reported.
 */
import { MeshwireError } from '../../errors.js';
import type { PeerRef } from '../../messages.js';
import type { Admission } from './admission.js';
import type { Download } from './download.js';
import { ConsentGate } from './known-roots.js';
import type { FileOffer } from './offer.js';

/** Questions to the accept hook one peer may have open at a time; more are refused at once. */
const MAX_PENDING_ACCEPTS_PER_PEER = 4;

/** What the intake needs from its share. */
export interface OfferIntakeHost {
  readonly admission: Admission;
  /** The application's consent hook (may be async; anything but `true` refuses). */
  accept(offer: FileOffer, from: PeerRef): boolean | Promise<boolean>;
  /** Whether the share is closing (no new downloads). */
  closing(): boolean;
  /** Creates (or joins) the download of `offer`. */
  begin(offer: FileOffer): Promise<Download>;
  /** The download of `offer` began because `from` pushed it. */
  begun(offer: FileOffer, from: PeerRef, download: Download): void;
  /** Answers `from` with a refusal and reports `error` (`'offer-declined'`). */
  refuse(from: PeerRef, offer: FileOffer, error: MeshwireError): void;
  /** Reports a failure to begin a download that was accepted. */
  warn(error: MeshwireError, rootHex: string): void;
}

/** Consent and admission of pushed offers. */
export class OfferIntake {
  readonly #h: OfferIntakeHost;
  readonly #consent = new ConsentGate(MAX_PENDING_ACCEPTS_PER_PEER);

  constructor(host: OfferIntakeHost) {
    this.#h = host;
  }

  /** `from` pushed `offer`, which we neither download nor share yet. */
  consider(from: PeerRef, offer: FileOffer): void {
    const { admission } = this.#h;
    const early = this.#consent.hasRoom(from.id)
      ? (admission.limitError(offer) ?? admission.perPeerError(from.id))
      : new MeshwireError('ERR_TOO_MANY_PENDING', `${from.id} has too many offers awaiting consent`);
    if (early) {
      this.#h.refuse(from, offer, early);
      return;
    }
    void this.#ask(from, offer);
  }

  async #ask(from: PeerRef, offer: FileOffer): Promise<void> {
    const ok = await this.#consent.ask(from.id, () => this.#h.accept(offer, from));
    const late = !ok
      ? new MeshwireError('ERR_FILE_REFUSED', `${offer.name} refused by the accept hook`)
      : this.#h.closing()
        ? new MeshwireError('ERR_CLOSED', 'the share is closing')
        : this.#h.admission.perPeerError(from.id);
    if (late) {
      this.#h.refuse(from, offer, late);
      return;
    }
    try {
      const d = await this.#h.begin(offer);
      this.#h.begun(offer, from, d);
    } catch (err) {
      this.#h.refuse(from, offer, err as MeshwireError);
      this.#h.warn(err as MeshwireError, offer.rootHex);
    }
  }
}
