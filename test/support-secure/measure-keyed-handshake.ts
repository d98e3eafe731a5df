/**
 * Scratch measurement (not a test): what the network-key exchange (PROTOCOL.md rule 4) costs.
 *
 * 1. CPU per side of one exchange, in process and without sockets: each role's share of the
 *    work (`new NetworkKeyExchange`, `receive`, `tag`, `verify`) timed separately with
 *    `process.cpuUsage()` (user + system), over many exchanges; medians and p90.
 * 2. Whole handshakes over loopback: fresh listener and dialer per round (identities, listeners
 *    and the scrypt of the key ready before the clock starts), keyed and keyless rounds
 *    interleaved so that load from elsewhere hits both alike. Per round: the time from
 *    `connectToPeer()` until both sides report the peer connected, and the process CPU over that
 *    span (both nodes run in this process, so it is the CPU of both sides together).
 *
 * Only the public surface of `NetworkKeyExchange` and `P2PNode` is used, so the same script runs
 * against any revision of the exchange (before / after comparisons).
 *
 * Run: `npx tsx test/support-secure/measure-keyed-handshake.ts [exchanges] [rounds]`
 * (defaults 400 and 30: about 10 to 20 s on a quiet 2-core machine).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { P2PNode } from '../../src/node.js';
import { deriveNetworkKey } from '../../src/secure/network-key.js';
import { channelIdentifier, NetworkKeyExchange } from '../../src/secure/network-key-exchange.js';
import { loadCpace } from '../../src/secure/cpace.js';

// The network-key exchange needs its curve library loaded (the node does this in start()).
await loadCpace();

const exchanges = Number(process.argv[2] ?? 400);
const rounds = Number(process.argv[3] ?? 30);
const WARMUP = 20;
const PASSPHRASE = 'correct horse battery staple';

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i] as number;
}

/** CPU time (user + system) spent by `work`, in milliseconds. */
function cpuOf(work: () => void): number {
  const before = process.cpuUsage();
  work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

const fmt = (ms: number): string => ms.toFixed(3);
const summary = (values: number[]): string =>
  `median ${fmt(quantile(values, 0.5))} ms, p10 ${fmt(quantile(values, 0.1))}, p90 ${fmt(quantile(values, 0.9))}`;

/** Part 1: one exchange at a time, each role's steps timed on their own. */
function exchangeCpu(): void {
  const key = deriveNetworkKey(PASSPHRASE);
  const ci = channelIdentifier(randomBytes(16).toString('hex'), randomBytes(16).toString('hex'));
  const dialer: number[] = [];
  const listener: number[] = [];
  for (let i = 0; i < WARMUP + exchanges; i++) {
    const session = { sid: randomBytes(32), ci };
    let a: NetworkKeyExchange | undefined;
    let b: NetworkKeyExchange | undefined;
    let tb: Buffer | undefined;
    let ta: Buffer | undefined;
    let ok = true;
    // The order of rule 27: A's share; B's share and tag; A checks Tb and sends Ta; B checks Ta.
    let costA = cpuOf(() => (a = new NetworkKeyExchange(key, 'client', session)));
    let costB = cpuOf(() => {
      b = new NetworkKeyExchange(key, 'server', session);
      ok &&= b.receive((a as NetworkKeyExchange).share);
      tb = b.tag;
    });
    costA += cpuOf(() => {
      ok &&= (a as NetworkKeyExchange).receive((b as NetworkKeyExchange).share);
      ok &&= (a as NetworkKeyExchange).verify(tb as Buffer);
      ta = (a as NetworkKeyExchange).tag;
    });
    costB += cpuOf(() => (ok &&= (b as NetworkKeyExchange).verify(ta as Buffer)));
    if (!ok) throw new Error('an honest exchange failed');
    if (i >= WARMUP) {
      dialer.push(costA);
      listener.push(costB);
    }
  }
  console.log(`network-key exchange, CPU per side over ${exchanges} exchanges (no sockets):`);
  console.log(`  dialer   (A): ${summary(dialer)}`);
  console.log(`  listener (B): ${summary(listener)}`);
}

interface Round {
  wallMs: number;
  cpuMs: number;
}

async function handshake(keyed: boolean): Promise<Round> {
  const options = { host: '127.0.0.1', ...(keyed ? { networkKey: PASSPHRASE } : {}) };
  const listener = new P2PNode(options);
  const dialer = new P2PNode(options);
  try {
    await listener.listen();
    await dialer.listen();
    const accepted = new Promise<void>((resolve) => listener.once('peer-connected', () => resolve()));
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all([dialer.connectToPeer(`127.0.0.1:${listener.port}`), accepted]);
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    return { wallMs, cpuMs: (used.user + used.system) / 1000 };
  } finally {
    await Promise.all([dialer.close(), listener.close()]);
  }
}

/** Part 2: whole secure handshakes, keyed and keyless interleaved. */
async function handshakes(): Promise<void> {
  const results: Record<'keyed' | 'keyless', Round[]> = { keyed: [], keyless: [] };
  for (let i = 0; i < 3 + rounds; i++) {
    for (const keyed of [true, false]) {
      const r = await handshake(keyed);
      if (i >= 3) results[keyed ? 'keyed' : 'keyless'].push(r);
    }
  }
  console.log(`whole secure handshakes over loopback, ${rounds} rounds each, both sides in this process:`);
  for (const kind of ['keyless', 'keyed'] as const) {
    const wall = results[kind].map((r) => r.wallMs);
    const cpu = results[kind].map((r) => r.cpuMs);
    console.log(`  ${kind.padEnd(7)} connect: ${summary(wall)}`);
    console.log(`  ${kind.padEnd(7)} CPU (both sides): ${summary(cpu)}`);
  }
  const extra =
    quantile(
      results.keyed.map((r) => r.cpuMs),
      0.5,
    ) -
    quantile(
      results.keyless.map((r) => r.cpuMs),
      0.5,
    );
  console.log(`  the key adds (difference of medians, both sides): ${fmt(extra)} ms of CPU`);
}

console.log(`node ${process.version}, ${new Date().toISOString()}`);
exchangeCpu();
await handshakes();
