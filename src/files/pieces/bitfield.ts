/** Bitfields of pieces, most significant bit first (as the state file stores them). */

/** Whether bit `index` is set. */
export function isSet(bits: Uint8Array, index: number): boolean {
  return ((bits[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0;
}
