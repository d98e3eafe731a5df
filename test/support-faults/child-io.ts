/**
 * The stdout / stdin conventions of the child scripts in this folder (see child.ts, the parent
 * side): one JSON line per event on stdout, and an exit as soon as stdin ends (the parent died or
 * is done), so no child outlives its test.
 */

/** Prints one event as a JSON line. */
export function print(event: string, fields: Record<string, unknown> = {}): void {
  console.log(JSON.stringify({ event, ...fields }));
}

/** Exits (code 0) when stdin ends. */
export function exitWhenStdinEnds(): void {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
