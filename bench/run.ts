/**
 * meshwire benchmark runner.
 *
 *   npm run bench                          # every suite, full size (~12 min on 2 cores)
 *   npm run bench -- --quick               # every suite, small (< 2 min)
 *   npm run bench -- throughput latency    # some suites
 *   npm run bench -- chat --profile        # CPU profiles of every child process
 *   node --import tsx bench/run.ts --help
 *
 * Prints a table (stdout; progress goes to stderr) and writes bench/results/<date>-<name>.json.
 * See bench/README.md for the methodology.
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Row } from './lib/context.js';
import { machineInfo } from './lib/machine.js';
import { renderTable, writeJson } from './lib/report.js';
import { chat } from './suites/chat.js';
import { dashboard } from './suites/dashboard.js';
import { discovery } from './suites/discovery.js';
import { files } from './suites/files.js';
import { handshake } from './suites/handshake.js';
import { latency } from './suites/latency.js';
import { memory } from './suites/memory.js';
import { mesh } from './suites/mesh.js';
import { overlay } from './suites/overlay.js';
import { peers } from './suites/peers.js';
import { throughput } from './suites/throughput.js';

const SUITES: Record<string, (ctx: Context) => Promise<Row[]>> = {
  throughput,
  files,
  chat,
  latency,
  peers,
  handshake,
  mesh,
  memory,
  dashboard,
  discovery,
  overlay,
};

const HELP = `usage: npm run bench -- [options] [suite ...]

suites (default: all, in this order): ${Object.keys(SUITES).join(', ')}

options:
  --quick          smaller volumes and 1 measured run per configuration (< 2 min in all)
  --runs N         measured runs per configuration (default 3, quick 1)
  --profile [DIR]  run every child with --cpu-prof, writing .cpuprofile files to DIR
                   (default: a new directory in the OS temp dir); summarize them with
                   node --import tsx bench/profile-summary.ts DIR
  --no-json        do not write bench/results/<date>-<name>.json
  --help           this text

MESHWIRE_BENCH_SRC=<dir> benchmarks another copy of src/ (for A/B comparisons).`;

interface Args {
  quick: boolean;
  runs: number;
  profile: string | undefined;
  json: boolean;
  suites: string[];
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, runs: 0, profile: undefined, json: true, suites: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(HELP);
      process.exit(0);
    } else if (arg === '--quick') args.quick = true;
    else if (arg === '--no-json') args.json = false;
    else if (arg === '--runs') {
      args.runs = Number(argv[++i]);
      if (!Number.isInteger(args.runs) || args.runs < 1 || args.runs > 20) fail('--runs takes 1..20');
    } else if (arg === '--profile') {
      const next = argv[i + 1];
      args.profile =
        next && !next.startsWith('-') && !(next in SUITES)
          ? path.resolve(argv[++i]!)
          : path.join(os.tmpdir(), `meshwire-bench-profiles-${Date.now()}`);
    } else if (arg in SUITES) args.suites.push(arg);
    else fail(`unknown argument ${arg}`);
  }
  if (args.runs === 0) args.runs = args.quick ? 1 : 3;
  if (args.suites.length === 0) args.suites = Object.keys(SUITES);
  else args.suites = Object.keys(SUITES).filter((s) => args.suites.includes(s));
  return args;
}

function fail(message: string): never {
  console.error(`${message}\n\n${HELP}`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const args = parseArgs(argv);
const machine = machineInfo(argv);
const loadAtStart = os.loadavg();
const ctx: Context = {
  quick: args.quick,
  runs: args.runs,
  execArgv: args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : [],
  log: (line) => process.stderr.write(`${line}\n`),
  cache: new Map(),
};

const started = performance.now();
const rows: Row[] = [];
let crashed = false;
for (const name of args.suites) {
  const t0 = performance.now();
  ctx.log(`[${name}]`);
  try {
    rows.push(...(await SUITES[name]!(ctx)));
  } catch (err) {
    crashed = true;
    const message = err instanceof Error ? err.message.split('\n')[0]! : String(err);
    ctx.log(`[${name}] FAILED: ${message}`);
    rows.push({
      bench: name,
      name: `${name} suite`,
      mode: 'secure',
      unit: '',
      value: null,
      note: `failed: ${message}`,
    });
  }
  ctx.log(`[${name}] ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const seconds = (performance.now() - started) / 1000;
const loadAtEnd = os.loadavg();

const loadText = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
const extra = [
  `${args.quick ? 'quick' : 'full'}: ${args.runs} measured run(s) per configuration after a warm-up; ` +
    `suite time ${seconds.toFixed(0)} s; load average ${loadText(loadAtStart)} at start, ${loadText(loadAtEnd)} at end`,
  ...(process.env.MESHWIRE_BENCH_SRC
    ? [`source under test: ${path.resolve(process.env.MESHWIRE_BENCH_SRC)}`]
    : []),
];
if (Math.max(loadAtStart[0]!, loadAtEnd[0]!) > machine.cores * 0.75) {
  extra.push(
    `WARNING: the machine was busy (1-min load up to ${Math.max(loadAtStart[0]!, loadAtEnd[0]!).toFixed(1)} on ` +
      `${machine.cores} cores): absolute numbers are noisy, trust the same-run ratios more`,
  );
}
console.log(renderTable(rows, machine, extra));

if (args.json) {
  const all = args.suites.length === Object.keys(SUITES).length;
  const name = `${all ? (args.quick ? 'quick' : 'full') : args.suites.join('-')}${!all && args.quick ? '-quick' : ''}`;
  const file = await writeJson(
    fileURLToPath(new URL('results/', import.meta.url)),
    name,
    machine,
    {
      quick: args.quick,
      runs: args.runs,
      suites: args.suites,
      seconds: Math.round(seconds),
      loadAverageAtStart: loadAtStart.map((x) => Number(x.toFixed(2))),
      loadAverageAtEnd: loadAtEnd.map((x) => Number(x.toFixed(2))),
      source: process.env.MESHWIRE_BENCH_SRC ? path.resolve(process.env.MESHWIRE_BENCH_SRC) : 'src/',
    },
    rows,
  );
  console.log(`\nresults: ${path.relative(process.cwd(), file)}`);
}
if (args.profile) {
  console.log(
    `profiles: ${args.profile}\n  summarize: node --import tsx bench/profile-summary.ts ${args.profile}`,
  );
}
process.exitCode = crashed ? 1 : 0;
