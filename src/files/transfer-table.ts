/**
 * The push transfers a receiver has in flight, keyed by (sender, name), and their limits: the file
 * size, and slots (how many run at once, in all and per sender). A slot is taken when a FILESTART is admitted (before its
 * `.part` exists, so the caps hold however the handling of several starts interleaves) and freed
 * when the transfer leaves the table.
 */
import { MeshwireError } from '../errors.js';
import type { Transfer } from './incoming-transfer.js';

/** Transfers in flight and the slots they hold. */
export class TransferTable {
  readonly #maxFileSize: number;
  readonly #maxConcurrent: number;
  readonly #maxPerPeer: number;
  /** sender ID -> name -> transfer */
  readonly #transfers = new Map<string, Map<string, Transfer>>();
  #active = 0;
  /** sender ID -> slots it holds (a slot may be taken before its transfer is added). */
  readonly #perPeer = new Map<string, number>();

  constructor(maxFileSize: number, maxConcurrent: number, maxPerPeer: number) {
    this.#maxFileSize = maxFileSize;
    this.#maxConcurrent = maxConcurrent;
    this.#maxPerPeer = maxPerPeer;
  }

  /** Slots taken. */
  get active(): number {
    return this.#active;
  }

  get(peerId: string, name: string): Transfer | undefined {
    return this.#transfers.get(peerId)?.get(name);
  }

  /** The transfers from `peerId` (a copy: the caller may remove them as it goes). */
  from(peerId: string): Transfer[] {
    return [...(this.#transfers.get(peerId)?.values() ?? [])];
  }

  /** Every transfer (a copy). */
  all(): Transfer[] {
    return [...this.#transfers.values()].flatMap((byName) => [...byName.values()]);
  }

  /** Why `peerId` may not start a transfer of `name` (`size` bytes) now (the limit, named), if so. */
  refusal(peerId: string, name: string, size: number): MeshwireError | undefined {
    if (size > this.#maxFileSize) {
      return new MeshwireError(
        'ERR_FILE_TOO_LARGE',
        `${name} is ${size} bytes, more than maxFileSize ${this.#maxFileSize}`,
      );
    }
    const held = this.#perPeer.get(peerId) ?? 0;
    if (held >= this.#maxPerPeer) {
      return new MeshwireError(
        'ERR_TOO_MANY_PENDING',
        `${peerId} already has ${held} transfers in flight (maxTransfersPerPeer ${this.#maxPerPeer})`,
      );
    }
    if (this.#active >= this.#maxConcurrent) {
      return new MeshwireError(
        'ERR_TOO_MANY_PENDING',
        `${this.#active} transfers already in flight (maxConcurrentTransfers ${this.#maxConcurrent})`,
      );
    }
    return undefined;
  }

  /** Takes a slot for `peerId` (check {@link refusal} first). */
  take(peerId: string): void {
    this.#active++;
    this.#perPeer.set(peerId, (this.#perPeer.get(peerId) ?? 0) + 1);
  }

  /** Frees a slot taken for a transfer that never started. */
  release(peerId: string): void {
    this.#active--;
    const n = (this.#perPeer.get(peerId) ?? 1) - 1;
    if (n > 0) this.#perPeer.set(peerId, n);
    else this.#perPeer.delete(peerId);
  }

  /** Adds a started transfer (its slot already taken). */
  add(t: Transfer): void {
    let byName = this.#transfers.get(t.from.id);
    if (!byName) this.#transfers.set(t.from.id, (byName = new Map()));
    byName.set(t.name, t);
  }

  /** Removes `t` and frees its slot; false when it was not in the table. */
  remove(t: Transfer): boolean {
    const byName = this.#transfers.get(t.from.id);
    if (byName?.get(t.name) !== t) return false;
    byName.delete(t.name);
    if (byName.size === 0) this.#transfers.delete(t.from.id);
    this.release(t.from.id);
    return true;
  }
}
