/**
 * Worker for the libraries users might pick instead of meshwire (the `peers` suite):
 *
 * - `libp2p`: js-libp2p over TCP with Noise and Yamux, nothing else (no identify, no DHT); one
 *   Yamux stream per connection carries the data. Node 20 lacks `Promise.withResolvers`, which
 *   libp2p 3 calls during the Noise upgrade: this worker polyfills it before loading libp2p.
 * - `secret-stream`: `@hyperswarm/secret-stream` (Noise XX + libsodium secretstream, the stack
 *   under Hyperswarm) over a plain TCP socket, without Hyperswarm's DHT.
 *
 * Same commands as the raw-TCP worker (listen, connect, arm, wait, sendBulk, echo, pingpong)
 * plus small messages and connection set-up, so the suites drive every stack the same way.
 */
import net from 'node:net';
import type { Libp2p } from 'libp2p';
import type { Stream } from '@libp2p/interface';
import SecretStream from '@hyperswarm/secret-stream';
import { nowMs, serve, sleep } from '../lib/serve.js';

/** The two alternatives measured. */
export type Stack = 'libp2p' | 'secret-stream';

const BENCH_PROTOCOL = '/meshwire-bench/data/1';
const GREET_PROTOCOL = '/meshwire-bench/greet/1';

// js-libp2p 3 uses Promise.withResolvers (Node >= 22); this is the shim Node 20 needs.
const promiseCtor = Promise as unknown as { withResolvers?: unknown };
if (!promiseCtor.withResolvers) {
  promiseCtor.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<T>((a, b) => {
      resolve = a;
      reject = b;
    });
    return { promise, resolve, reject };
  };
}

/** What both stacks offer the commands: a message (secret-stream) or byte (libp2p) pipe. */
interface Link {
  /** False once the underlying stream can no longer be written. */
  open(): boolean;
  /** Queues `buf`; false when the caller should wait for {@link drained}. */
  send(buf: Uint8Array): boolean;
  drained(): Promise<void>;
  /** Replaces the data listener. */
  onData(listener: (chunk: Uint8Array) => void): void;
}

let stack: Stack = 'secret-stream';
let libp2p: Libp2p | undefined;
let server: net.Server | undefined;
const keyPair = SecretStream.keyPair();
let link: Link | undefined;
let onLink: (() => void) | undefined;
const cleanups: (() => Promise<unknown>)[] = [];

let kind: 'bytes' | 'messages' = 'bytes';
let target = 0;
let bytes = 0;
let messages = 0;
let onTarget: (() => void) | undefined;
let armed: Promise<void> | undefined;

/** Length-prefix parser state (libp2p small messages: a byte stream needs framing). */
let frameRemaining = 0;
let headerBytes = 0;
let header = 0;

/**
 * Counts messages framed as a 4-byte big-endian length and payload, without copying payloads
 * (a real application would also assemble them: this favours libp2p slightly).
 */
function countFrames(chunk: Uint8Array): number {
  let n = 0;
  let pos = 0;
  while (pos < chunk.length) {
    if (frameRemaining > 0) {
      const take = Math.min(frameRemaining, chunk.length - pos);
      frameRemaining -= take;
      pos += take;
      if (frameRemaining === 0) n++;
      continue;
    }
    header = header * 256 + chunk[pos++]!;
    if (++headerBytes === 4) {
      if (header > 16 * 1024 * 1024) throw new Error(`frame of ${header} bytes`);
      frameRemaining = header;
      headerBytes = 0;
      header = 0;
      if (frameRemaining === 0) n++;
    }
  }
  return n;
}

function count(chunk: Uint8Array): void {
  bytes += chunk.length;
  if (kind === 'messages') messages += stack === 'libp2p' ? countFrames(chunk) : 1;
  if ((kind === 'bytes' ? bytes : messages) >= target) onTarget?.();
}

function streamLink(stream: Stream): Link {
  let listener: (chunk: Uint8Array) => void = count;
  stream.addEventListener('message', (e) => {
    const data = e.data;
    listener(data instanceof Uint8Array ? data : data.subarray());
  });
  stream.addEventListener('close', (e) => {
    // Not silent: an idle libp2p stream can be closed under us (seen on a heavily loaded
    // machine); the dialer then opens a new one before its next command.
    process.stderr.write(
      `libp2p ${stream.direction} stream closed${e.error ? `: ${e.error.message}` : ''}\n`,
    );
  });
  stream.maxReadBufferLength = 64 * 1024 * 1024;
  stream.maxWriteBufferLength = 64 * 1024 * 1024;
  return {
    open: () => stream.writeStatus === 'writable',
    send: (buf) => stream.send(buf),
    // Not stream.onDrain(): in libp2p 3.3 it keeps its first, resolved promise, so every later
    // call returns at once and a sender queues without bound until the stream is reset at
    // maxWriteBufferLength. The 'drain' event itself is reliable.
    drained: () =>
      stream.writableNeedsDrain
        ? new Promise<void>((resolve) => {
            // A stream closed meanwhile makes the next send() throw, which fails the command.
            stream.addEventListener('drain', () => resolve(), { once: true });
            stream.addEventListener('close', () => resolve(), { once: true });
          })
        : Promise.resolve(),
    onData: (l) => (listener = l),
  };
}

function secretLink(s: SecretStream): Link {
  let listener: (chunk: Uint8Array) => void = count;
  s.on('data', (chunk: Buffer) => listener(chunk));
  s.on('error', () => undefined);
  return {
    open: () => !s.destroyed,
    send: (buf) => s.write(buf),
    drained: () => new Promise((resolve) => s.once('drain', resolve)),
    onData: (l) => (listener = l),
  };
}

function setLink(l: Link): void {
  link = l;
  onLink?.();
}

/** Where the dialer connected (libp2p), to reopen the data stream if it was closed. */
let dialed: string | undefined;

async function connected(): Promise<Link> {
  if (link && !link.open() && libp2p && dialed) {
    setLink(streamLink(await libp2p.dialProtocol(await multiaddr(dialed), BENCH_PROTOCOL)));
  }
  if (!link) throw new Error('no connection');
  return link;
}

async function startLibp2p(): Promise<Libp2p> {
  if (libp2p) return libp2p;
  const [{ createLibp2p }, { tcp }, { noise }, { yamux }] = await Promise.all([
    import('libp2p'),
    import('@libp2p/tcp'),
    import('@chainsafe/libp2p-noise'),
    import('@chainsafe/libp2p-yamux'),
  ]);
  const node = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    // libp2p closes a TCP connection after 2 idle minutes; in a suite a pair may wait longer
    // than that while the other configurations run.
    transports: [
      tcp({ inboundSocketInactivityTimeout: 3_600_000, outboundSocketInactivityTimeout: 3_600_000 }),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // The set-up benchmark dials one listener dozens of times a second from one address: lift
    // the per-address inbound rate limit (5/s by default) that would otherwise reset it.
    connectionManager: { inboundConnectionThreshold: 100_000, maxIncomingPendingConnections: 1000 },
  });
  await node.handle(BENCH_PROTOCOL, (stream) => setLink(streamLink(stream)));
  libp2p = node;
  cleanups.push(async () => node.stop());
  return node;
}

/** Opens a secret-stream over a new TCP connection; resolves once the Noise handshake is done. */
function dialSecret(port: number): Promise<SecretStream> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const s = new SecretStream(true, socket, { keyPair });
    s.once('open', () => resolve(s));
    s.once('error', reject);
  });
}

async function multiaddr(address: string): Promise<import('@multiformats/multiaddr').Multiaddr> {
  const { multiaddr: parse } = await import('@multiformats/multiaddr');
  return parse(address);
}

let greeting = false;

serve(
  {
    /** Starts a listener; returns its port and (libp2p) multiaddr. */
    listen: async ({ stack: s }: { stack: Stack }) => {
      stack = s;
      if (s === 'libp2p') {
        const node = await startLibp2p();
        const address = node.getMultiaddrs()[0];
        if (!address) throw new Error('libp2p has no listen address');
        return { port: 0, address: address.toString() };
      }
      return new Promise<{ port: number; address: string }>((resolve) => {
        server = net.createServer({ noDelay: true }, (socket) => {
          const ss = new SecretStream(false, socket, { keyPair });
          ss.on('error', () => undefined);
          if (greeting) ss.once('open', () => ss.write(Buffer.from('hello')));
          else ss.once('open', () => setLink(secretLink(ss)));
        });
        server.listen({ host: '127.0.0.1', port: 0 }, () => {
          const a = server?.address();
          resolve({ port: typeof a === 'object' && a ? a.port : 0, address: '' });
        });
        cleanups.push(() => new Promise((r) => server?.close(r)));
      });
    },
    /** Connects to a listener and opens the data stream. */
    connect: async ({ stack: s, port, address }: { stack: Stack; port: number; address: string }) => {
      stack = s;
      if (s === 'libp2p') {
        const node = await startLibp2p();
        dialed = address;
        setLink(streamLink(await node.dialProtocol(await multiaddr(address), BENCH_PROTOCOL)));
      } else {
        setLink(secretLink(await dialSecret(port)));
      }
      return null;
    },
    waitSocket: async () => {
      if (!link) await new Promise<void>((resolve) => (onLink = resolve));
      return null;
    },
    cpu: () => process.cpuUsage(),
    arm: ({ kind: k, total }: { kind: 'bytes' | 'messages'; total: number }) => {
      kind = k;
      target = total;
      bytes = 0;
      messages = 0;
      armed = new Promise<void>((resolve) => {
        onTarget = () => {
          onTarget = undefined;
          resolve();
        };
      });
      return null;
    },
    wait: async () => {
      await armed;
      return null;
    },
    /** `total` bytes in `size`-byte messages, honouring backpressure. */
    sendBulk: async ({ size, total }: { size: number; total: number }) => {
      const l = await connected();
      const buf = Buffer.alloc(size, 0xab);
      for (let sent = 0; sent < total; sent += size) if (!l.send(buf)) await l.drained();
      return null;
    },
    /** `count` messages of `size` bytes (libp2p: with a 4-byte length prefix), with backpressure. */
    sendMessages: async ({ size, count: n }: { size: number; count: number }) => {
      const l = await connected();
      const framed = stack === 'libp2p';
      const buf = Buffer.alloc(size + (framed ? 4 : 0), 0x61);
      if (framed) buf.writeUInt32BE(size, 0);
      for (let i = 0; i < n; i++) if (!l.send(buf)) await l.drained();
      return null;
    },
    /** Sends back every chunk as it arrives. */
    echo: async () => {
      const l = await connected();
      l.onData((chunk) => l.send(chunk));
      return null;
    },
    /** `warmup + n` round trips of `size` bytes; returns the last `n` in microseconds. */
    pingpong: async ({ n, warmup, size }: { n: number; warmup: number; size: number }) => {
      const l = await connected();
      const buf = Buffer.alloc(size, 1);
      let got = 0;
      let wake: (() => void) | undefined;
      l.onData((chunk) => {
        got += chunk.length;
        if (got >= size) {
          got -= size;
          wake?.();
        }
      });
      const samples: number[] = [];
      for (let i = 0; i < warmup + n; i++) {
        const t = nowMs();
        await new Promise<void>((resolve) => {
          wake = resolve;
          l.send(buf);
        });
        if (i >= warmup) samples.push((nowMs() - t) * 1000);
      }
      return samples;
    },
    /** The listener greets every new connection (secret-stream) or greet stream (libp2p). */
    greet: async ({ stack: s }: { stack: Stack }) => {
      stack = s;
      greeting = true;
      if (s === 'libp2p') {
        const node = await startLibp2p();
        await node.handle(GREET_PROTOCOL, (stream) => {
          stream.send(Buffer.from('hello'));
        });
      }
      return null;
    },
    /**
     * `warmup + count` connections from this (running) process, one after the other: TCP
     * connect, the Noise handshake (and for libp2p the Yamux upgrade and protocol selection),
     * until the listener's greeting arrives; then the connection is closed.
     */
    handshakes: async ({
      stack: s,
      port,
      address,
      count: n,
      warmup,
    }: {
      stack: Stack;
      port: number;
      address: string;
      count: number;
      warmup: number;
    }) => {
      stack = s;
      const samples: number[] = [];
      let cpuUs = 0;
      const node = s === 'libp2p' ? await startLibp2p() : undefined;
      const target = s === 'libp2p' ? await multiaddr(address) : undefined;
      for (let i = 0; i < warmup + n; i++) {
        const cpu = process.cpuUsage();
        const t = nowMs();
        let close: () => Promise<void>;
        if (node && target) {
          const stream = await node.dialProtocol(target, GREET_PROTOCOL);
          await new Promise<void>((resolve) =>
            stream.addEventListener('message', () => resolve(), { once: true }),
          );
          close = () => node.hangUp(target);
        } else {
          const ss = await dialSecret(port);
          await new Promise<void>((resolve) => ss.once('data', () => resolve()));
          close = async () => {
            ss.destroy();
          };
        }
        if (i >= warmup) {
          samples.push(nowMs() - t);
          const used = process.cpuUsage(cpu);
          cpuUs += used.user + used.system;
        }
        await close();
        await sleep(2);
      }
      return { samples, cpuMsPerHandshake: cpuUs / 1000 / n };
    },
  },
  async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  },
);
