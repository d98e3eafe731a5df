/**
 * meshwire worker: runs one or more P2PNodes in this process and performs the benchmark
 * steps the parent asks for. Nodes listen on 127.0.0.1 port 0. Apart from the mesh benchmark
 * they run with `autoConnectMax: 0`, so peer exchange never opens extra connections while a
 * data-path benchmark runs (it does not touch the data path itself).
 */
import { randomBytes } from 'node:crypto';
import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { NodeOptions, P2PNode as P2PNodeClass } from '../../src/index.js';
import { nowMs, serve, sleep } from '../lib/serve.js';
import { fileCommands } from './file-commands.js';

type P2PNode = P2PNodeClass;

/**
 * The meshwire source under test: this checkout's src/, or the tree named by MESHWIRE_BENCH_SRC
 * (an A/B aid: benchmark a patched copy of src/ against the same baseline without touching it).
 */
const srcUrl = process.env.MESHWIRE_BENCH_SRC
  ? pathToFileURL(path.resolve(process.env.MESHWIRE_BENCH_SRC) + path.sep).href
  : new URL('../../src/', import.meta.url).href;
const meshwire = (await import(new URL('index.js', srcUrl).href)) as typeof import('../../src/index.js');
const { P2PNode } = meshwire;

type Kind = 'bytes' | 'chat' | 'file';

interface Counter {
  bytes: number;
  chat: number;
  file: number;
  done: boolean;
}

const nodes: P2PNode[] = [];
const counters: Counter[] = [];
let kind: Kind = 'bytes';
let target = 0;
let remaining = 0;
let onAllDone: (() => void) | undefined;
let armed: Promise<void> | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

function check(counter: Counter): void {
  if (counter.done || counter[kind] < target) return;
  counter.done = true;
  if (--remaining === 0) onAllDone?.();
}

function baseOptions(options: NodeOptions): NodeOptions {
  return { host: '127.0.0.1', port: 0, autoConnectMax: 0, ...options };
}

function node(index = 0): P2PNode {
  const n = nodes[index];
  if (!n) throw new Error(`no node ${index}`);
  return n;
}

function firstPeer(n: P2PNode): string {
  const peer = n.getPeerInfo().peers[0];
  if (!peer) throw new Error('node has no peer');
  return peer.id;
}

async function gcAndMeasure(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await sleep(50);
  }
  return process.memoryUsage();
}

async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * Connect-to-first-message times of one long-lived node dialling the same listener again and
 * again: what a running node pays per connection, without the one-time costs of a fresh
 * process-level TLS context and first-use code paths.
 */
async function warmHandshakes({
  address,
  count,
  warmup,
  options,
}: {
  address: string;
  count: number;
  warmup: number;
  options: NodeOptions;
}): Promise<{ samples: number[]; cpuMsPerHandshake: number }> {
  const n = new P2PNode(baseOptions(options));
  const samples: number[] = [];
  let cpuUs = 0;
  try {
    await n.listen();
    for (let i = 0; i < warmup + count; i++) {
      const greeted = new Promise<string>((resolve) => n.once('chat', (m) => resolve(m.from.id)));
      const cpu = process.cpuUsage();
      const t = nowMs();
      let peer;
      try {
        peer = await n.connectToPeer(address);
      } catch {
        // The listener had not yet seen the previous disconnect (DUPLICATE): try that round again.
        await sleep(5);
        i--;
        continue;
      }
      await greeted;
      if (i >= warmup) {
        samples.push(nowMs() - t);
        const used = process.cpuUsage(cpu);
        cpuUs += used.user + used.system;
      }
      n.disconnectPeer(peer.id);
      await sleep(2);
    }
  } finally {
    await n.close();
  }
  return { samples, cpuMsPerHandshake: cpuUs / 1000 / count };
}

/** Full-mesh convergence of `n` nodes in this process, each bootstrapping to the previous one. */
async function mesh({
  n,
  mode,
  timeoutMs,
  options = {},
}: {
  n: number;
  mode: 'secure' | 'compat';
  timeoutMs: number;
  /** Extra node options (A/B experiments; the suite uses the defaults). */
  options?: NodeOptions;
}) {
  const stats = {
    peerConnected: 0,
    peerDisconnected: 0,
    connectionFailed: 0,
    duplicate: 0,
    maxPeers: 0,
    otherFailures: 0,
    errors: 0,
    tcpOpened: 0,
    tcpClosed: 0,
  };
  /** Error codes of connection-failed and error events, with counts. */
  const codes: Record<string, number> = {};
  const tally = (kind: string, code: string): void => {
    const key = `${kind}:${code}`;
    codes[key] = (codes[key] ?? 0) + 1;
  };
  let counting = false;
  const onSocket = (message: unknown): void => {
    if (!counting) return;
    stats.tcpOpened++;
    (message as { socket: Socket }).socket.once('close', () => {
      if (counting) stats.tcpClosed++;
    });
  };
  diagnostics.subscribe('net.client.socket', onSocket);
  const meshNodes: P2PNode[] = [];
  const peerCounts = new Array<number>(n).fill(0);
  let complete = 0;
  let converged: () => void = () => undefined;
  const convergence = new Promise<void>((resolve) => (converged = resolve));
  try {
    for (let i = 0; i < n; i++) {
      const prev = meshNodes[i - 1];
      const m = new P2PNode({
        mode,
        host: '127.0.0.1',
        port: 0,
        maxPeers: n,
        ...options,
        ...(prev ? { bootstrap: `127.0.0.1:${prev.port}` } : {}),
      });
      meshNodes.push(m);
      m.on('peer-connected', (e) => {
        stats.peerConnected++;
        const before = peerCounts[i]!;
        peerCounts[i] = e.peerCount;
        if (before < n - 1 && e.peerCount >= n - 1 && ++complete === n) converged();
      });
      m.on('peer-disconnected', (e) => {
        if (!counting) return;
        stats.peerDisconnected++;
        tally('peer-disconnected', e.reason);
        if (peerCounts[i]! >= n - 1 && e.peerCount < n - 1) complete--;
        peerCounts[i] = e.peerCount;
      });
      m.on('connection-failed', (e) => {
        if (!counting) return;
        stats.connectionFailed++;
        tally('connection-failed', e.error.code);
        if (e.error.code === 'ERR_DUPLICATE_PEER') stats.duplicate++;
        else if (e.error.code === 'ERR_MAX_PEERS') stats.maxPeers++;
        else stats.otherFailures++;
      });
      m.on('error', (e) => {
        if (!counting) return;
        stats.errors++;
        tally('error', e.error.code);
      });
      // Identity creation and listening happen before the clock starts.
      await m.listen();
    }
    counting = true;
    const cpu0 = process.cpuUsage();
    const t0 = nowMs();
    for (const m of meshNodes) await m.start();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      converged();
    }, timeoutMs);
    await convergence;
    clearTimeout(timer);
    const ms = nowMs() - t0;
    const cpu = process.cpuUsage(cpu0);
    counting = false;
    const reached = peerCounts.reduce((a, b) => a + Math.min(b, n - 1), 0);
    return {
      ms,
      converged: !timedOut,
      links: reached / 2,
      expectedLinks: (n * (n - 1)) / 2,
      /** CPU time of this process (all N nodes share it) until convergence, in ms. */
      cpuMs: (cpu.user + cpu.system) / 1000,
      ...stats,
      codes,
    };
  } finally {
    counting = false;
    diagnostics.unsubscribe('net.client.socket', onSocket);
    await Promise.all(meshNodes.map((m) => m.close()));
  }
}

serve(
  {
    /** Starts `count` nodes; returns their ports and IDs. */
    start: async ({ count = 1, options = {} }: { count?: number; options?: NodeOptions }) => {
      const started = [];
      for (let i = 0; i < count; i++) {
        const n = new P2PNode(baseOptions(options));
        const counter: Counter = { bytes: 0, chat: 0, file: 0, done: true };
        n.on('bytes', (m) => {
          counter.bytes += m.data.length;
          if (!counter.done) check(counter);
        });
        n.on('chat', () => {
          counter.chat++;
          if (!counter.done) check(counter);
        });
        nodes.push(n);
        counters.push(counter);
        cleanups.push(() => n.close());
        await n.start();
        started.push({ port: n.port, id: n.id });
      }
      return started;
    },
    /** Every node (or the first `limit`) dials `address`. */
    connect: async ({ address }: { address: string }) => {
      await Promise.all(nodes.map((n) => n.connectToPeer(address)));
      return null;
    },
    /** Waits until every node has at least `count` peers. */
    waitPeers: async ({ count, timeoutMs = 30_000 }: { count: number; timeoutMs?: number }) => {
      await waitUntil(
        () => nodes.every((n) => n.getPeerInfo().peers.length >= count),
        timeoutMs,
        `${count} peers`,
      );
      return null;
    },
    /** Arms the counters: `wait` resolves once every node has received `total` (bytes, chats, files). */
    arm: ({ kind: k, total }: { kind: Kind; total: number }) => {
      kind = k;
      target = total;
      remaining = nodes.length;
      armed = new Promise<void>((resolve) => (onAllDone = resolve));
      for (const counter of counters) {
        counter.bytes = 0;
        counter.chat = 0;
        counter.file = 0;
        counter.done = false;
      }
      return null;
    },
    wait: async () => {
      await armed;
      return null;
    },
    /** Node 0 sends `total` bytes to its first peer as `size`-byte BYTES messages, awaiting each send. */
    sendBytes: async ({ size, total }: { size: number; total: number }) => {
      const n = node();
      const to = firstPeer(n);
      const buf = randomBytes(size);
      for (let sent = 0; sent < total; sent += size) await n.sendBytesToPeer(to, buf);
      return null;
    },
    /** Node 0 sends `count` BYTES messages of `size` bytes to its first peer, `batch` calls at a time. */
    sendBytesBatched: async ({ size, count, batch }: { size: number; count: number; batch: number }) => {
      const n = node();
      const to = firstPeer(n);
      const buf = randomBytes(size);
      for (let i = 0; i < count; i += batch) {
        const k = Math.min(batch, count - i);
        const sends = new Array<Promise<void>>(k);
        for (let j = 0; j < k; j++) sends[j] = n.sendBytesToPeer(to, buf);
        await Promise.all(sends);
      }
      return null;
    },
    /** Node 0 sends `count` chats, `batch` calls at a time, then awaits them. */
    sendChat: async ({
      count,
      batch,
      text,
      api,
    }: {
      count: number;
      batch: number;
      text: string;
      api: 'broadcast' | 'direct';
    }) => {
      const n = node();
      const to = firstPeer(n);
      for (let i = 0; i < count; i += batch) {
        const k = Math.min(batch, count - i);
        if (api === 'broadcast') {
          const sends = new Array<ReturnType<P2PNode['broadcastMessage']>>(k);
          for (let j = 0; j < k; j++) sends[j] = n.broadcastMessage(text);
          for (const report of await Promise.all(sends)) {
            if (report.failed.length > 0) throw report.failed[0]!.error;
          }
        } else {
          const sends = new Array<Promise<void>>(k);
          for (let j = 0; j < k; j++) sends[j] = n.sendMessageToPeer(to, text);
          await Promise.all(sends);
        }
      }
      return null;
    },
    /** Node 0 sends every BYTES message back to its sender. */
    echo: () => {
      const n = node();
      n.on('bytes', (m) => {
        n.sendBytesToPeer(m.from.id, m.data).catch(() => undefined);
      });
      return null;
    },
    /** `warmup + n` BYTES round trips of `size` bytes with node 0's first peer (µs, last n). */
    pingpong: async ({ n: rounds, warmup, size }: { n: number; warmup: number; size: number }) => {
      const n = node();
      const to = firstPeer(n);
      const buf = randomBytes(size);
      let wake: (() => void) | undefined;
      const onBytes = (): void => {
        const w = wake;
        wake = undefined;
        w?.();
      };
      n.on('bytes', onBytes);
      const samples: number[] = [];
      try {
        for (let i = 0; i < warmup + rounds; i++) {
          const t = nowMs();
          const back = new Promise<void>((resolve) => (wake = resolve));
          await n.sendBytesToPeer(to, buf);
          await back;
          if (i >= warmup) samples.push((nowMs() - t) * 1000);
        }
      } finally {
        n.off('bytes', onBytes);
      }
      return samples;
    },
    /** Node 0 greets every new peer with a chat (the handshake benchmark's "first message"). */
    greet: () => {
      const n = node();
      n.on('peer-connected', (e) => {
        n.sendMessageToPeer(e.peer.id, 'hello').catch(() => undefined);
      });
      return null;
    },
    /**
     * `warmup + count` fresh nodes, one after the other, each connecting to `address` and
     * waiting for the greeting. Returns the last `count` connect-to-first-message times (ms).
     */
    handshakes: async ({
      address,
      count,
      warmup,
      options = {},
      reuse = false,
    }: {
      address: string;
      count: number;
      warmup: number;
      options?: NodeOptions;
      /** One node dials again and again (disconnectPeer in between): a running node's cost. */
      reuse?: boolean;
    }) => {
      const samples: number[] = [];
      let cpuUs = 0;
      if (reuse) return warmHandshakes({ address, count, warmup, options });
      for (let i = 0; i < warmup + count; i++) {
        const n = new P2PNode(baseOptions(options));
        try {
          // Identity creation and listening are not part of the handshake.
          await n.listen();
          const greeted = new Promise<void>((resolve) => n.once('chat', () => resolve()));
          const cpu = process.cpuUsage();
          const t = nowMs();
          await n.connectToPeer(address);
          await greeted;
          if (i >= warmup) {
            samples.push(nowMs() - t);
            const used = process.cpuUsage(cpu);
            cpuUs += used.user + used.system;
          }
        } finally {
          await n.close();
        }
        // Lets the listener see the disconnect before the next connection.
        await sleep(2);
      }
      return { samples, cpuMsPerHandshake: cpuUs / 1000 / count };
    },
    mesh,
    /** CPU time used by this process so far (µs). */
    cpu: () => process.cpuUsage(),
    /** Memory after garbage collection (needs --expose-gc). */
    memory: () => gcAndMeasure(),
    ...fileCommands({
      srcUrl,
      node,
      nodes,
      countFile: (index) => {
        const counter = counters[index]!;
        counter.file++;
        if (!counter.done) check(counter);
      },
      addCleanup: (cleanup) => cleanups.unshift(cleanup),
    }),
  },
  async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  },
);
