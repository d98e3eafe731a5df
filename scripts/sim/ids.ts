/** The simulator's node IDs. */

/**
 * `n0` … `n<count-1>`, each an *internalized* string (the one V8 keeps for property names, got
 * back from `Object.keys`). The cores compare and look up peer IDs all the time; two different
 * internalized strings are unequal by pointer alone, where two plain strings of one length need
 * their hashes or characters read, one more cache miss with 10,000 nodes in one heap.
 */
export function simIds(count: number): string[] {
  const ids = new Array<string>(count);
  for (let i = 0; i < count; i++) ids[i] = Object.keys({ [`n${i}`]: 0 })[0]!;
  return ids;
}

/** Node index of a simulator ID (`n<i>`), or -1: cheaper than a Map lookup on every frame. */
export function indexOfId(id: string): number {
  if (id.charCodeAt(0) !== 110 /* n */ || id.length < 2 || id.length > 9) return -1;
  let v = 0;
  for (let c = 1; c < id.length; c++) {
    const d = id.charCodeAt(c) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}
