/** Sharing of broadcast payloads among the copies a parallel simulator worker decodes. */

/**
 * One payload and one signature per broadcast in a worker, however often it arrives: in one
 * thread every copy of a broadcast shares its sender's two Uint8Arrays, and the nodes' caches
 * hold ~128 copies each, so 10,000 nodes would otherwise keep ~10^6 extra small ArrayBuffers
 * (each a backing store outside the V8 heap). A copy whose bytes differ is not shared. One
 * entry per broadcast of the run: bounded by `messages`.
 */
export class PayloadIntern {
  readonly #map = new Map<number, { epoch: number; payload: Uint8Array; signature: Uint8Array }>();

  /** The shared arrays of (sender, epoch, seq) if their bytes are these, else new shared ones. */
  get(
    sender: number,
    epoch: number,
    seq: number,
    bytes: Uint8Array,
    at: number,
    plen: number,
    slen: number,
  ): { payload: Uint8Array; signature: Uint8Array } | undefined {
    if (seq < 0 || seq >= 1 << 22 || sender < 0) return undefined;
    const key = sender * (1 << 22) + seq;
    const hit = this.#map.get(key);
    if (hit === undefined) {
      const fresh = {
        epoch,
        payload: bytes.slice(at, at + plen),
        signature: bytes.slice(at + plen, at + plen + slen),
      };
      this.#map.set(key, fresh);
      return fresh;
    }
    if (hit.epoch !== epoch || hit.payload.length !== plen || hit.signature.length !== slen) return undefined;
    for (let x = 0; x < plen; x++) if (hit.payload[x] !== bytes[at + x]) return undefined;
    for (let x = 0; x < slen; x++) if (hit.signature[x] !== bytes[at + plen + x]) return undefined;
    return hit;
  }
}
