/**
 * The simulator's event queue: a binary min-heap ordered by (time, insertion number), so events
 * at the same virtual time run in the order they were scheduled and every run is reproducible.
 */

/** Anything with a time and a tie-breaking sequence number. */
export interface Timed {
  t: number;
  s: number;
}

/** A min-heap of {@link Timed} items. */
export class EventHeap<T extends Timed> {
  readonly #a: T[] = [];

  get size(): number {
    return this.#a.length;
  }

  push(item: T): void {
    const a = this.#a;
    let i = a.length;
    a.push(item);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p]!;
      if (parent.t < item.t || (parent.t === item.t && parent.s < item.s)) break;
      a[i] = parent;
      i = p;
    }
    a[i] = item;
  }

  /** Removes and returns the earliest item. */
  pop(): T | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    const n = a.length;
    let i = 0;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      let child = a[l]!;
      if (r < n) {
        const right = a[r]!;
        if (right.t < child.t || (right.t === child.t && right.s < child.s)) {
          c = r;
          child = right;
        }
      }
      if (last.t < child.t || (last.t === child.t && last.s < child.s)) break;
      a[i] = child;
      i = c;
    }
    a[i] = last;
    return top;
  }

  /** The earliest item's time, or Infinity when empty. */
  peekTime(): number {
    return this.#a[0]?.t ?? Infinity;
  }
}
