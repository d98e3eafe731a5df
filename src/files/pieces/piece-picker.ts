/**
 * Which piece a download asks for next: pieces handed back (by a lost, stalled or busy source)
 * first, then in file order, skipping what is verified or already requested or being written.
 */
export class PiecePicker {
  /** index -> the source it is requested from, or '' while it is being written. */
  readonly busy = new Map<number, string>();
  readonly #pieces: number;
  readonly #has: (index: number) => boolean;
  readonly #requeued: number[] = [];
  #cursor = 0;

  /** `has(index)`: whether the piece is verified and written. */
  constructor(pieces: number, has: (index: number) => boolean) {
    this.#pieces = pieces;
    this.#has = has;
  }

  /** The next piece nobody has or is fetching, or undefined. */
  next(): number | undefined {
    while (this.#requeued.length > 0) {
      const index = this.#requeued.pop()!;
      if (!this.#has(index) && !this.busy.has(index)) return index;
    }
    while (this.#cursor < this.#pieces) {
      const index = this.#cursor++;
      if (!this.#has(index) && !this.busy.has(index)) return index;
    }
    return undefined;
  }

  /** `index` is no longer requested from anyone: picked again before the cursor moves on. */
  giveBack(index: number): void {
    this.busy.delete(index);
    this.#requeued.push(index);
  }
}
