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
