/**
 * The V8 heap flags `npm run sim` runs with (read when a heap is set up, so `scripts/sim.ts`
 * re-executes Node when some are missing). Flags already given are kept as they are.
 *
 * - A larger young generation: every event allocates (actions, relayed copies) while the
 *   cores' state is old, so each scavenge also walks the old-to-new pointers, and fewer, larger
 *   scavenges cost less (7 % less CPU at 4,000 nodes with 64 MB semi-spaces than with V8's
 *   default 16 MB). With worker threads (`--threads`), each worker's young generation is three
 *   semi-spaces of this size (`parallel.ts`): 96 MB.
 * - With worker threads, no parallel scavenging: every core already runs a worker, and helper
 *   threads for a scavenge only compete with the other worker.
 * - No allocation-site pretenuring: V8 then allocates objects from sites whose objects often
 *   survived straight in the old space, and here those are mostly payload copies and queued
 *   announcements that die within a second, so the old space fills with garbage for the
 *   mark-compacts. One thread: same CPU, ~10 % less RSS.
 *
 * 10,000 nodes × 1,000 broadcasts on two threads, in the same half hour (README "Simulation"):
 * 99.6 and 100.8 s with 32 MB semi-spaces and V8's defaults, 92.6 s with the first two flags,
 * 87.7 and 88.9 s with all three.
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
  if (!execArgv.some((a) => a.endsWith('allocation-site-pretenuring'))) {
    flags.push('--no-allocation-site-pretenuring');
  }
  return flags;
}
