/**
 * The overlay's CPU per delivery and per idle node-second (issue 13), in one process: N real
 * secure nodes (`overlay: true`, TLS over 127.0.0.1), so every cost of every node (sign, verify,
 * encode, TLS, timers, shuffles) lands in this process's `process.cpuUsage()`. CPU time, not wall
 * time: meaningful on a busy machine.
 *
 *   node --import tsx bench/probes/overlay-cpu.ts [--nodes 40] [--max-peers 8] [--idle-s 6]
 *        [--settle-s 10] [--messages 400] [--rate 100] [--seed 1] [--core '{"ihaveIntervalMs":100}']
 *   MESHWIRE_BENCH_SRC=/tmp/a/dist ... (A/B against a compiled tree: `tsc -p tsconfig.build.json
 *   --outDir /tmp/a/dist` in another checkout; interleave A and B runs)
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/probes/overlay-cpu.ts
 *
 * Phases: start N nodes; node g > 0 bootstraps through a random earlier one (seeded); wait until
 * every active view has at least min(maxPeers - 2, N - 1) neighbours (or 30 s); settle `--settle-s`; then
 * **idle**: CPU over `--idle-s` seconds with no traffic, per node-second; then **load**:
 * `--messages` broadcasts of 16 bytes from random nodes at `--rate`/s, until every node has all
 * of them (or 30 s): CPU per delivery, raw and with the idle rate subtracted. Prints one JSON line.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { P2PNode as P2PNodeClass } from '../../src/index.js';
import { mulberry32 } from '../../test/helpers/random.js';

const srcUrl = process.env.MESHWIRE_BENCH_SRC
  ? pathToFileURL(path.resolve(process.env.MESHWIRE_BENCH_SRC) + path.sep).href
  : new URL('../../src/', import.meta.url).href;
const { P2PNode } = (await import(new URL('index.js', srcUrl).href)) as typeof import('../../src/index.js');
const { setOverlayTestHook, Connection } = (await import(
  new URL('internal.js', srcUrl).href
)) as typeof import('../../src/internal.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(value) || value < 1 || value > 100_000) throw new Error(`${name} takes 1..100000`);
  return value;
}
const N = arg('--nodes', 40);
const MAX_PEERS = arg('--max-peers', 8);
const IDLE_S = arg('--idle-s', 10);
const SETTLE_S = arg('--settle-s', 10);
const MESSAGES = arg('--messages', 400);
const RATE = arg('--rate', 100);
/** `--profile <prefix>`: V8 CPU profiles of the idle and load phases only, `<prefix>-idle.cpuprofile` and `-load`. */
const profileAt = process.argv.indexOf('--profile');
const profilePrefix = profileAt >= 0 ? process.argv[profileAt + 1] : undefined;
const inspector = profilePrefix ? new Session() : undefined;
if (inspector) {
  inspector.connect();
  await inspector.post('Profiler.enable');
}
async function profile<T>(phase: string, body: () => Promise<T>): Promise<T> {
  if (!inspector) return body();
  await inspector.post('Profiler.start');
  const result = await body();
  const { profile: p } = await inspector.post('Profiler.stop');
  writeFileSync(`${profilePrefix}-${phase}.cpuprofile`, JSON.stringify(p));
  return result;
}

/** `--core '{"ihaveIntervalMs":100}'`: overlay core options for every node (an experiment's knob). */
const coreAt = process.argv.indexOf('--core');
const core = coreAt >= 0 ? (JSON.parse(process.argv[coreAt + 1]!) as Record<string, unknown>) : undefined;

/**
 * Frames written, by type (overlay frames by message: `gossip`, `ihave`, ...), counted by wrapping
 * `Connection.writeEncoded` of the tree under test: which frames a delivery costs.
 */
/** Native frame type codes (PROTOCOL.md), written here so that any tree under test can be counted. */
const FRAME_NAMES = [
  '',
  'hello',
  'reject',
  'ping',
  'pong',
  'request-peers',
  'peers',
  'chat',
  'bytes',
  'auth',
  'goodbye',
  'pake',
  'overlay',
];
const OVERLAY_NAMES: Record<number, string> = {
  0x01: 'join',
  0x02: 'forward-join',
  0x03: 'neighbor',
  0x04: 'disconnect',
  0x05: 'shuffle',
  0x06: 'shuffle-reply',
  0x10: 'gossip',
  0x11: 'ihave',
  0x12: 'graft',
  0x13: 'prune',
};
const frames = new Map<string, number>();
const writeEncoded = Connection.prototype.writeEncoded;
Connection.prototype.writeEncoded = function (this: InstanceType<typeof Connection>, buffers, control) {
  // Every write, encoded or not, passes here with the frame's header first (u32 length, u8 type).
  const head = buffers[0]!;
  const type = FRAME_NAMES[head[4]!] ?? 'unknown';
  const name = type === 'overlay' ? (OVERLAY_NAMES[head[5]!] ?? 'overlay?') : type;
  frames.set(name, (frames.get(name) ?? 0) + 1);
  return writeEncoded.call(this, buffers, control);
};
/** Frames per `per` since `since` (a copy of `frames` taken then), largest first. */
function framesSince(since: Map<string, number>, per: number): Record<string, number> {
  return Object.fromEntries(
    [...frames]
      .map(([k, v]) => [k, +((v - (since.get(k) ?? 0)) / per).toFixed(3)] as const)
      .filter(([, v]) => v > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}

/** mulberry32: the same joins and senders for A and B. */
const random = mulberry32(arg('--seed', 1));

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `done` every 50 ms until it holds or `timeoutMs` passes; true if it held. */
async function until(done: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

const nodes: P2PNodeClass[] = [];
const delivered: number[] = [];
let errors = 0;
let reports = 0;
/** `peer-connected` events: each new connection counts at both ends. */
let connected = 0;
for (let g = 0; g < N; g++) {
  const n = new P2PNode({ host: '127.0.0.1', port: 0, overlay: true, maxPeers: MAX_PEERS, name: `o${g}` });
  if (core) setOverlayTestHook(n, { core });
  delivered.push(0);
  n.on('bytes', () => delivered[g]!++);
  n.on('error', () => errors++);
  n.on('peer-connected', () => connected++);
  n.on('overlay-report', (e) => {
    if (e.report.kind !== 'join-failed') reports++;
  });
  await n.start();
  nodes.push(n);
}

const formStart = Date.now();
for (let g = 1; g < N; g++) {
  const contact = nodes[Math.floor(random() * g)]!;
  nodes[g]!.bootstrap(`127.0.0.1:${contact.port}`).catch(() => errors++);
}
const want = Math.min(MAX_PEERS - 2, N - 1);
const formed = await until(() => nodes.every((n) => (n.overlayStats()?.active.length ?? 0) >= want), 30_000);
const formS = (Date.now() - formStart) / 1000;
await sleep(SETTLE_S * 1000);

// Idle: no traffic, only the overlay's maintenance (ticks, shuffles, re-join probes, sweeps).
const connectedAtIdle = connected;
const framesAtIdle = new Map(frames);
const idleAt = process.cpuUsage();
const idleWall = performance.now();
await profile('idle', () => sleep(IDLE_S * 1000));
const idleCpu = cpuMs(process.cpuUsage(idleAt));
const idleWallS = (performance.now() - idleWall) / 1000;
const idlePerNodeS = idleCpu / idleWallS / N;
const idleConnectionsPerNodeS = (connected - connectedAtIdle) / 2 / idleWallS / N;
const idleFramesPerNodeS = framesSince(framesAtIdle, idleWallS * N);

// Load: broadcasts from random nodes at RATE/s.
const before = delivered.reduce((a, b) => a + b, 0);
const relayedBefore = nodes.reduce((a, n) => a + n.overlayStats()!.relayed, 0);
const framesAtLoad = new Map(frames);
const loadAt = process.cpuUsage();
const loadWall = performance.now();
const payload = new Uint8Array(16);
let failed = 0;
const expected = MESSAGES * (N - 1);
const complete = await profile('load', async () => {
  for (let i = 0; i < MESSAGES; i++) {
    const due = loadWall + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    nodes[Math.floor(random() * N)]!.broadcastBytes(payload).catch(() => failed++);
  }
  return until(() => delivered.reduce((a, b) => a + b, 0) - before >= expected, 30_000);
});
const loadCpu = cpuMs(process.cpuUsage(loadAt));
const loadWallS = (performance.now() - loadWall) / 1000;
const got = delivered.reduce((a, b) => a + b, 0) - before;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const stats = nodes.map((n) => n.overlayStats()!);

console.log(
  JSON.stringify({
    src: process.env.MESHWIRE_BENCH_SRC ?? 'src',
    nodes: N,
    maxPeers: MAX_PEERS,
    formed,
    formS: +formS.toFixed(1),
    meanActive: +mean(stats.map((s) => s.active.length)).toFixed(2),
    idleMsPerNodeS: +idlePerNodeS.toFixed(3),
    idleConnectionsPerNodeS: +idleConnectionsPerNodeS.toFixed(3),
    messages: MESSAGES,
    deliveries: got,
    expected,
    complete,
    failed,
    loadWallS: +loadWallS.toFixed(2),
    cpuMsPerDelivery: +(loadCpu / got).toFixed(4),
    cpuMsPerDeliveryNet: +((loadCpu - idlePerNodeS * N * loadWallS) / got).toFixed(4),
    /** Payload copies relayed (sent by nodes other than the sender) per delivery, load phase. */
    relayedPerDelivery: +((stats.reduce((a, s) => a + s.relayed, 0) - relayedBefore) / got).toFixed(3),
    /** Frames written per delivery in the load phase, by type (background ones included). */
    framesPerDelivery: framesSince(framesAtLoad, got),
    idleFramesPerNodeS,
    core: core ?? null,
    reports,
    errors,
  }),
);
for (const n of nodes) await n.close();
