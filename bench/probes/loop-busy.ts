/**
 * How long the event loop ran without a break, from a V8 CPU profile (`.cpuprofile`, e.g. from
 * `bench/probes/overlay-cpu.ts --profile` or `npm run bench -- --profile`): every stretch of
 * consecutive samples that are not `(idle)` is one busy stretch, the time during which a due timer
 * (such as the event-loop delay monitor's) had to wait. Prints how many stretches exceed 1, 2, 5,
 * 10, 20 and 50 ms and what the longest ones ran (by top-level entry: I/O callbacks, timers, GC).
 *
 *   node --import tsx bench/probes/loop-busy.ts <file.cpuprofile> [--last-s 20] [--top 8]
 *
 * The profiler samples wall time: on a shared machine a stretch also holds the time the process
 * waited for a CPU, so compare runs made under the same load, or read it with the suite's
 * run-queue wait.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} takes a positive number`);
  return value;
}

const file = process.argv[2];
if (!file || file.startsWith('--')) {
  console.error('usage: loop-busy.ts <file.cpuprofile> [--last-s S] [--top N]');
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const lastS = process.argv.includes('--last-s') ? option('--last-s', 0) : Infinity;
const top = option('--top', 8);

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));

/** The entry below the root that `id` was sampled under: what the loop was running. */
function entry(id: number): string {
  let current = id;
  for (;;) {
    const up = parent.get(current);
    if (up === undefined || parent.get(up) === undefined) break;
    current = up;
  }
  const node = byId.get(current)!;
  return node.callFrame.functionName || '(anonymous)';
}

// Sample i lasted until sample i + 1: timeDeltas[i + 1] (µs).
const { samples, timeDeltas } = profile;
let total = 0;
for (let i = 1; i < timeDeltas.length; i++) total += timeDeltas[i]!;
const from = Number.isFinite(lastS) ? total - lastS * 1e6 : -Infinity;
const stretches: { ms: number; what: Map<string, number> }[] = [];
let at = 0;
let busy = 0;
let what = new Map<string, number>();
for (let i = 0; i < samples.length; i++) {
  const us = timeDeltas[i + 1] ?? 0;
  at += us;
  if (at < from) continue;
  const id = samples[i]!;
  if (idle.has(id)) {
    if (busy > 0) stretches.push({ ms: busy / 1000, what });
    busy = 0;
    what = new Map();
    continue;
  }
  busy += us;
  const e = entry(id);
  what.set(e, (what.get(e) ?? 0) + us / 1000);
}
if (busy > 0) stretches.push({ ms: busy / 1000, what });
stretches.sort((a, b) => b.ms - a.ms);

const busyMs = stretches.reduce((a, s) => a + s.ms, 0);
const windowS = Number.isFinite(lastS) ? Math.min(lastS, total / 1e6) : total / 1e6;
console.log(
  `${file}: ${windowS.toFixed(1)} s, busy ${(busyMs / 1000).toFixed(2)} s in ${stretches.length} stretches`,
);
for (const limit of [1, 2, 5, 10, 20, 50]) {
  console.log(`  >= ${String(limit).padStart(2)} ms: ${stretches.filter((s) => s.ms >= limit).length}`);
}
console.log('  longest (ms: what ran, ms each):');
for (const s of stretches.slice(0, top)) {
  const parts = [...s.what]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([k, v]) => `${k} ${v.toFixed(1)}`);
  console.log(`  ${s.ms.toFixed(1).padStart(7)}: ${parts.join(', ')}`);
}
