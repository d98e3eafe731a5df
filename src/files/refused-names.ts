/**
 * (sender, name) pairs whose transfer the receiver refused or ended: their remaining chunks are
 * dropped without an event each. Bounded, oldest first out, so a peer announcing endless
 * refused names cannot grow memory.
 */

/** Refused keys kept at most. */
export const MAX_REFUSED_KEYS = 1024;

function key(peerId: string, name: string): string {
  return JSON.stringify([peerId, name]);
}

/** The refused (sender, name) pairs of a receiver. */
export class RefusedNames {
  readonly #keys = new Set<string>();

  /** Remembers the pair (as the newest), forgetting the oldest past the bound. */
  add(peerId: string, name: string): void {
    const k = key(peerId, name);
    this.#keys.delete(k);
    this.#keys.add(k);
    if (this.#keys.size > MAX_REFUSED_KEYS) {
      const oldest = this.#keys.values().next().value;
      if (oldest !== undefined) this.#keys.delete(oldest);
    }
  }

  has(peerId: string, name: string): boolean {
    return this.#keys.has(key(peerId, name));
  }

  /** Forgets the pair; true when it was there. */
  delete(peerId: string, name: string): boolean {
    return this.#keys.delete(key(peerId, name));
  }

  /** Forgets every pair of a peer (it disconnected). */
  forgetPeer(peerId: string): void {
    for (const k of [...this.#keys]) {
      if ((JSON.parse(k) as [string, string])[0] === peerId) this.#keys.delete(k);
    }
  }

  clear(): void {
    this.#keys.clear();
  }
}
