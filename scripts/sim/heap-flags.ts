/**
 * The V8 heap flags `npm run sim` runs with (read when a heap is set up, so `scripts/sim.ts`
 * re-executes Node when some are missing):
 *
 * - a larger young generation: every event allocates (actions, relayed copies) while the
 *   cores' state is old, so each scavenge also walks the old-to-new pointers, and fewer, larger
 *   scavenges cost less (7 % less CPU at 4,000 nodes with 64 MB semi-spaces than with V8's
 *   default 16 MB). With worker threads (`--threads`), each worker's young generation is three
 *   semi-spaces of this size (`parallel.ts`), and 96 MB did best: 10,000 nodes × 1,000
 *   broadcasts on two threads took 91–101 s with it against 125 s with 32 MB (README
 *   "Simulation");
 * - with worker threads, no parallel scavenging: every core already runs a worker, and helper
 *   threads for a scavenge only compete with the other worker (185 s of CPU with them, 166 s
 *   without, on that run).
 *
 * Flags already given are kept as they are.
 */

/** The flags to add to `execArgv` for a run with these command-line `args` (empty: none). */
export function missingHeapFlags(execArgv: readonly string[], args: readonly string[]): string[] {
  const at = args.findIndex((a) => a === '--threads' || a.startsWith('--threads='));
  const text = at < 0 ? '1' : args[at]!.startsWith('--threads=') ? args[at]!.slice(10) : args[at + 1];
  const workers = Number(text) > 1;
  const flags: string[] = [];
  if (!execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
    flags.push(`--max-semi-space-size=${workers ? 96 : 64}`);
  }
  if (workers && !execArgv.some((a) => a === '--parallel-scavenge' || a === '--no-parallel-scavenge')) {
    flags.push('--no-parallel-scavenge');
  }
  return flags;
}
