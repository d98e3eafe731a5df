/**
 * `npm run sim -- --nodes N --messages M [--kill F] [--latency a-b] [--loss p] [--seed S]
 * [--protocol plumtree|flood|direct|all] [--max-peers K] [--interval MS] [--senders K] [--cache N]
 * [--seed-trees] [--ihave-interval MS] [--threads N] [--partition modulo|range]`
 *
 * Runs the overlay simulator and prints one JSON object per line; the last line of each run is
 * its result. `--protocol all` runs plumtree, flood and direct with the same seed, one after the
 * other (the baselines: flooding over the same membership, and today's direct-only broadcast).
 * `--threads N` runs the nodes on N worker threads (the parallel engine; default 1).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import type { BroadcastMode } from '../src/overlay/index.js';
import { missingHeapFlags } from './sim/heap-flags.js';
import { simulate } from './sim/simulation.js';

// The heap flags of scripts/sim/heap-flags.ts (young generation, scavenger), read when the
// heap is set up: hence a re-exec when some are missing.
const heapFlags = missingHeapFlags(process.execArgv, process.argv.slice(2));
if (heapFlags.length > 0) {
  const child = spawnSync(
    process.execPath,
    [...heapFlags, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n`);
  process.exit(2);
}

function num(name: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isFinite(v) || v < min || v > max) fail(`--${name} must be a number in ${min}..${max}`);
  return v;
}

const USAGE = `usage: npm run sim -- --nodes N --messages M [options]

Runs the overlay simulator (README "Simulation") and prints one JSON object per line; the last
line of each run is its result.

  --nodes N             nodes (default 100)
  --messages M          broadcasts (default 100)
  --kill F              fraction of the nodes killed at once halfway through (default 0)
  --latency a-b         link latency range in ms (default 5-30)
  --loss p              fraction of broadcast frames dropped (default 0)
  --seed S              seed: same seed, same output (default 1)
  --protocol P          plumtree, flood, direct or all (the baselines too; default plumtree)
  --max-peers K         active view size (default 10)
  --interval MS         between two broadcasts (default 10)
  --settle MS           after the last broadcast (default 5000)
  --senders K           distinct senders (default min(N, 100))
  --cache N             payloads each node keeps for GRAFTs (default 1024)
  --ihave-interval MS   IHAVE batch interval (default 50)
  --seed-trees          seed new senders' trees from an existing one (no first flood)
  --threads N           worker threads (default 1)
  --partition P         modulo or range: how nodes are split among threads (default modulo)
  --help                this text
`;

let parsed;
try {
  parsed = parseArgs({
    options: {
      nodes: { type: 'string' },
      messages: { type: 'string' },
      kill: { type: 'string' },
      latency: { type: 'string' },
      loss: { type: 'string' },
      seed: { type: 'string' },
      protocol: { type: 'string' },
      'max-peers': { type: 'string' },
      interval: { type: 'string' },
      settle: { type: 'string' },
      senders: { type: 'string' },
      cache: { type: 'string' },
      'ihave-interval': { type: 'string' },
      'seed-trees': { type: 'boolean' },
      threads: { type: 'string' },
      partition: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
} catch (err) {
  // An unknown or malformed option: one line and the usual exit code, not a stack trace.
  fail(`${(err as Error).message} (see --help)`);
}
const { values } = parsed;
if (values.help === true) {
  process.stdout.write(USAGE);
  process.exit(0);
}

const nodes = Math.floor(num('nodes', values.nodes, 100, 2, 1_000_000));
const messages = Math.floor(num('messages', values.messages, 100, 1, 10_000_000));
const kill = num('kill', values.kill, 0, 0, 0.99);
const loss = num('loss', values.loss, 0, 0, 0.99);
const seed = Math.floor(num('seed', values.seed, 1, 0, 2 ** 32 - 1));
const maxPeers = Math.floor(num('max-peers', values['max-peers'], 10, 1, 1000));
const intervalMs = num('interval', values.interval, 10, 0.001, 60_000);
const senders = Math.floor(num('senders', values.senders, Math.min(nodes, 100), 1, nodes));
const cache =
  values.cache === undefined ? undefined : Math.floor(num('cache', values.cache, 1024, 1, 1_000_000));
const ihaveMs =
  values['ihave-interval'] === undefined
    ? undefined
    : num('ihave-interval', values['ihave-interval'], 50, 1, 60_000);
const settleMs = num('settle', values.settle, 5000, 0, 600_000);
let latency: [number, number] = [5, 30];
if (values.latency !== undefined) {
  const m = /^(\d+)-(\d+)$/.exec(values.latency);
  if (!m || Number(m[1]) > Number(m[2])) fail('--latency must look like 5-30 (ms, min-max)');
  latency = [Number(m[1]), Number(m[2])];
}
const threads = Math.floor(num('threads', values.threads, 1, 1, 64));
if (threads > 1 && latency[0] === 0)
  fail('--threads above 1 needs a latency minimum above 0 (e.g. --latency 5-30)');
const partition = values.partition ?? 'modulo';
if (partition !== 'modulo' && partition !== 'range') fail('--partition must be modulo or range');
const protocol = values.protocol ?? 'plumtree';
const protocols: BroadcastMode[] =
  protocol === 'all' ? ['plumtree', 'flood', 'direct'] : [protocol as BroadcastMode];
if (!protocols.every((p) => p === 'plumtree' || p === 'flood' || p === 'direct')) {
  fail('--protocol must be plumtree, flood, direct or all');
}

for (const p of protocols) {
  const result = await simulate({
    nodes,
    messages,
    kill,
    loss,
    seed,
    latency,
    protocol: p,
    maxPeers,
    senders,
    intervalMs,
    settleMs,
    threads,
    partition,
    // --cache N: payloads each node keeps for GRAFTs. One process holds every node's cache, so
    // a 10,000-node run needs a smaller one than a real node's 1024 to stay within 2 GB.
    // --seed-trees: a new sender's tree starts as a copy of an existing one (no first flood).
    overlay: {
      maxPeers,
      seedTrees: values['seed-trees'] === true,
      ...(cache === undefined ? {} : { maxCachedMessages: cache }),
      ...(ihaveMs === undefined ? {} : { ihaveIntervalMs: ihaveMs }),
    },
    progress: (record) => process.stdout.write(`${JSON.stringify({ protocol: p, ...record })}\n`),
  });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
