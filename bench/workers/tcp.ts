/**
 * Raw TCP baseline worker: the same experiments as the node worker, on a bare net.Socket
 * (no framing beyond what each test needs, no encryption), so every meshwire number has a
 * same-run reference on the same machine.
 */
import net from 'node:net';
import tls from 'node:tls';
import { createIdentity } from '../../src/secure/identity.js';
import { tlsClientOptions, tlsServerOptions } from '../../src/secure/tls-options.js';
import { nowMs, serve } from '../lib/serve.js';

let server: net.Server | undefined;
let socket: net.Socket | undefined;
let target = 0;
let received = 0;
let lines = 0;
let countLines = false;
let onTarget: (() => void) | undefined;
let armed: Promise<void> | undefined;

let onSocket: (() => void) | undefined;

function attach(s: net.Socket): void {
  s.setNoDelay(true);
  socket = s;
  onSocket?.();
  s.on('error', () => undefined);
  s.on('data', (chunk: Buffer) => {
    if (countLines) {
      let pos = chunk.indexOf(10);
      while (pos >= 0) {
        lines++;
        pos = chunk.indexOf(10, pos + 1);
      }
      if (lines >= target) onTarget?.();
    } else {
      received += chunk.length;
      if (received >= target) onTarget?.();
    }
  });
}

function connected(): net.Socket {
  if (!socket) throw new Error('no connection');
  return socket;
}

/**
 * Writes and waits for 'drain' when the socket asks for it (backpressure); with `depth`, only
 * once more than `depth` bytes wait in the socket's queue (a deeper pipeline than the stream's
 * 16 KiB high-water mark, which a baseline sweep tries).
 */
function write(s: net.Socket, buf: Buffer, depth = 0): Promise<void> | undefined {
  const ok = s.write(buf);
  if (depth > 0 ? s.writableLength < depth : ok) return undefined;
  return new Promise((resolve) => s.once('drain', resolve));
}

/** Every connection a hub accepted (memory baseline), kept open until exit. */
const hubSockets: net.Socket[] = [];
/** Connections a client opened to a hub. */
const clientSockets: net.Socket[] = [];

async function settledMemory(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage();
}

serve({
  /**
   * Memory baseline: listens (TCP, or node:tls with meshwire's settings) and keeps every
   * accepted connection, once its TLS handshake is done, without reading or writing.
   */
  hubListen: async ({ tls: secure = false }: { tls?: boolean }) => {
    const options = secure ? tlsServerOptions(await createIdentity()) : {};
    const keep = (s: net.Socket) => {
      s.on('error', () => undefined);
      hubSockets.push(s);
    };
    return new Promise<{ port: number }>((resolve) => {
      server = secure ? tls.createServer(options, keep) : net.createServer({ noDelay: true }, keep);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const address = server?.address();
        resolve({ port: typeof address === 'object' && address ? address.port : 0 });
      });
    });
  },
  /** Number of connections the hub holds. */
  hubCount: () => hubSockets.length,
  /** Opens `count` connections to a hub, one after the other. */
  dialMany: async ({ port, count, tls: secure = false }: { port: number; count: number; tls?: boolean }) => {
    const options = secure ? tlsClientOptions(await createIdentity()) : {};
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = secure
          ? tls.connect({ ...options, host: '127.0.0.1', port }, () => resolve())
          : net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve());
        s.once('error', reject);
        clientSockets.push(s);
      });
    }
    return null;
  },
  /** Memory after garbage collection (needs --expose-gc). */
  memory: () => settledMemory(),
  /** Listens on 127.0.0.1 port 0; with `tls`, as node:tls with meshwire's TLS 1.3 settings. */
  listen: async ({ tls: secure = false }: { tls?: boolean }) => {
    const options = secure ? tlsServerOptions(await createIdentity()) : {};
    return new Promise<{ port: number }>((resolve) => {
      server = secure ? tls.createServer(options, attach) : net.createServer({ noDelay: true }, attach);
      server.listen({ host: '127.0.0.1', port: 0 }, () => {
        const address = server?.address();
        resolve({ port: typeof address === 'object' && address ? address.port : 0 });
      });
    });
  },
  connect: async ({ port, tls: secure = false }: { port: number; tls?: boolean }) => {
    const options = secure ? tlsClientOptions(await createIdentity()) : {};
    return new Promise<null>((resolve, reject) => {
      const s = secure
        ? tls.connect({ ...options, host: '127.0.0.1', port }, () => resolve(null))
        : net.connect({ host: '127.0.0.1', port, noDelay: true }, () => resolve(null));
      s.once('error', reject);
      attach(s);
    });
  },
  /** Resolves once a connection exists (the listener's accept may trail the dialer's connect). */
  waitSocket: async () => {
    if (!socket) await new Promise<void>((resolve) => (onSocket = resolve));
    return null;
  },
  /** CPU time used by this process so far (µs). */
  cpu: () => process.cpuUsage(),
  /** Arms a counter: bytes (or lines, for `kind: 'lines'`) that `wait` then waits for. */
  arm: ({ kind, total }: { kind: 'bytes' | 'lines'; total: number }) => {
    countLines = kind === 'lines';
    received = 0;
    lines = 0;
    target = total;
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
  /**
   * `total` bytes in `size`-byte writes, honouring backpressure (`depth`: see `write`), with
   * Nagle's algorithm off (the default here) or on (`noDelay: false`).
   */
  sendBulk: async ({
    size,
    total,
    depth = 0,
    noDelay = true,
  }: {
    size: number;
    total: number;
    depth?: number;
    noDelay?: boolean;
  }) => {
    const s = connected();
    s.setNoDelay(noDelay);
    const buf = Buffer.alloc(size, 0xab);
    for (let sent = 0; sent < total; sent += size) await write(s, buf, depth);
    s.setNoDelay(true);
    return null;
  },
  /** `count` lines of `length` bytes (newline included), corked in batches of `batch`. */
  sendLines: async ({ count, batch, length }: { count: number; batch: number; length: number }) => {
    const s = connected();
    const line = Buffer.alloc(length, 0x61);
    line[length - 1] = 10;
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      s.cork();
      let ok = true;
      for (let j = 0; j < n; j++) ok = s.write(line);
      s.uncork();
      if (!ok) await new Promise((resolve) => s.once('drain', resolve));
    }
    return null;
  },
  /** Sends back every chunk as it arrives. */
  echo: () => {
    const s = connected();
    s.removeAllListeners('data');
    s.on('data', (chunk: Buffer) => s.write(chunk));
    return null;
  },
  /** `warmup + n` round trips of `size` bytes; returns the last `n` in microseconds. */
  pingpong: async ({ n, warmup, size }: { n: number; warmup: number; size: number }) => {
    const s = connected();
    s.removeAllListeners('data');
    const buf = Buffer.alloc(size, 1);
    let got = 0;
    let wake: (() => void) | undefined;
    s.on('data', (chunk: Buffer) => {
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
        s.write(buf);
      });
      if (i >= warmup) samples.push((nowMs() - t) * 1000);
    }
    return samples;
  },
});
