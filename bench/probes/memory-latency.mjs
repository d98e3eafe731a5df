/**
 * How long one dependent random memory read takes on this machine, within working sets of 4 MB,
 * 128 MB, 512 MB and 1 GB: a pointer chase through a typed array, one cache line per step, in a
 * random cyclic order (so neither the prefetcher nor a shorter cycle helps).
 *
 *   node bench/probes/memory-latency.mjs [--steps 5000000]
 *
 * Why: the simulator's big runs are bound by memory latency (every event reads another node's
 * state in a heap of ~1 GB), and this project's machines differ in it by up to 5x between
 * sessions (README "Simulation", session 8). Run this next to a simulation to tell a slower
 * machine from slower code.
 */
const args = process.argv.slice(2);
const at = args.indexOf('--steps');
const steps = at >= 0 ? Number(args[at + 1]) : 5_000_000;
if (!Number.isInteger(steps) || steps <= 0) {
  console.error('usage: node bench/probes/memory-latency.mjs [--steps N]');
  process.exit(2);
}

/** Nanoseconds per dependent read within `mb` megabytes. */
function chase(mb) {
  const ints = (mb * 1024 * 1024) / 4;
  const perLine = 16; // 64-byte cache lines of 4-byte entries
  const lines = ints / perLine;
  const next = new Int32Array(ints);
  const order = new Int32Array(lines);
  for (let i = 0; i < lines; i++) order[i] = i;
  for (let i = lines - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  // One cycle through every line: each line's first entry holds the index of the next line's.
  for (let i = 0; i < lines; i++) next[order[i] * perLine] = order[(i + 1) % lines] * perLine;
  let p = 0;
  for (let s = 0; s < 100_000; s++) p = next[p]; // warm the page tables and the JIT
  const started = process.hrtime.bigint();
  for (let s = 0; s < steps; s++) p = next[p];
  const ns = Number(process.hrtime.bigint() - started) / steps;
  return { ns, sink: p };
}

const results = {};
let sink = 0;
for (const mb of [4, 128, 512, 1024]) {
  const { ns, sink: p } = chase(mb);
  sink ^= p;
  results[`${mb}MB`] = Number(ns.toFixed(1));
}
// `sink` keeps the chase from being optimised away; it is 0 or a line index, never printed alone.
console.log(JSON.stringify({ probe: 'memory-latency', ns_per_read: results, steps, sink: sink >= 0 }));
