/**
 * Roots this node has heard of (from offers and haves), with the peers that hold them: where
 * `fetchFile(root)` looks first, and where a new download finds its sources. Bounded in roots
 * (oldest forgotten first) and in holders per root, so announces cannot grow memory.
 */
import type { FileOffer } from './offer.js';

const MAX_KNOWN_ROOTS = 1024;
const MAX_HOLDERS_PER_ROOT = 64;

export class KnownRoots {
  readonly #roots = new Map<string, { offer: FileOffer; holders: Set<string> }>();

  /** Records that `holder` has the file of `offer`. */
  remember(offer: FileOffer, holder: string): void {
    let entry = this.#roots.get(offer.rootHex);
    if (!entry) {
      if (this.#roots.size >= MAX_KNOWN_ROOTS) this.#roots.delete(this.#roots.keys().next().value!);
      this.#roots.set(offer.rootHex, (entry = { offer, holders: new Set() }));
    }
    if (entry.holders.size < MAX_HOLDERS_PER_ROOT) entry.holders.add(holder);
  }

  /** `holder` said it does not have `rootHex`. */
  forget(rootHex: string, holder: string): void {
    this.#roots.get(rootHex)?.holders.delete(holder);
  }

  offer(rootHex: string): FileOffer | undefined {
    return this.#roots.get(rootHex)?.offer;
  }

  holders(rootHex: string): ReadonlySet<string> | undefined {
    return this.#roots.get(rootHex)?.holders;
  }
}

/**
 * Asks the application's `accept` hook about pushed offers, at most `maxPerPeer` questions per
 * peer at a time (more are refused at once), so a peer cannot queue up unbounded prompts.
 */
export class ConsentGate {
  readonly #pending = new Map<string, number>();
  readonly #maxPerPeer: number;

  constructor(maxPerPeer: number) {
    this.#maxPerPeer = maxPerPeer;
  }

  /** Whether `peerId` may ask one more question now. */
  hasRoom(peerId: string): boolean {
    return (this.#pending.get(peerId) ?? 0) < this.#maxPerPeer;
  }

  /** Runs `ask` counted against `peerId`; a throw or anything but `true` is a refusal. */
  async ask(peerId: string, ask: () => boolean | Promise<boolean>): Promise<boolean> {
    this.#pending.set(peerId, (this.#pending.get(peerId) ?? 0) + 1);
    try {
      return (await ask()) === true;
    } catch {
      return false;
    } finally {
      const n = (this.#pending.get(peerId) ?? 1) - 1;
      if (n > 0) this.#pending.set(peerId, n);
      else this.#pending.delete(peerId);
    }
  }
}
