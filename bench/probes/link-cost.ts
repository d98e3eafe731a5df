/**
 * Where a secure link's CPU and memory go (issue 16 part 4): every step of a secure connection
 * measured alone, in one process, over real loopback sockets, so dialer and listener costs add
 * up (process CPU covers both sides).
 *
 *   nice -n 10 node --expose-gc --import tsx bench/probes/link-cost.ts [--n 200] [--peers 100]
 *   MESHWIRE_BENCH_SRC=/other/src ... (A/B against another copy of src/)
 *
 * CPU: process.cpuUsage() around N repetitions of each step, reported per repetition (ms).
 * Memory: RSS / heap / external after GC with `--peers` connections open of each kind (raw TCP,
 * raw node:tls with meshwire's settings, meshwire compat and secure peers), per connection. On a
 * busy machine CPU time per step is still meaningful (it is CPU time, not wall time).
 */
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';

const srcUrl = process.env.MESHWIRE_BENCH_SRC
  ? pathToFileURL(path.resolve(process.env.MESHWIRE_BENCH_SRC) + path.sep).href
  : new URL('../../src/', import.meta.url).href;
const load = <T>(file: string): Promise<T> => import(new URL(file, srcUrl).href) as Promise<T>;
const { createIdentity, rawEd25519PublicKey, peerIdFromPublicKey } =
  await load<typeof import('../../src/secure/identity.js')>('secure/identity.js');
const { tlsClientOptions, tlsServerOptions } =
  await load<typeof import('../../src/secure/tls-options.js')>('secure/tls-options.js');
const { verifyPeer } = await load<typeof import('../../src/secure/verify.js')>('secure/verify.js');
const { P2PNode } = await load<typeof import('../../src/index.js')>('index.js');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1 || value > 10_000) throw new Error(`${name} takes 1..10000`);
  return value;
}
const N = arg('--n', 200);
const memoryOnly = process.argv.includes('--memory-only');
const PEERS = arg('--peers', 100);

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/** CPU ms per call of `fn`, after a warm-up of a tenth of `n`. */
async function perCall(label: string, n: number, fn: () => unknown): Promise<number> {
  for (let i = 0; i < Math.ceil(n / 10); i++) await fn();
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const ms = cpuMs(process.cpuUsage(t)) / n;
  console.log(`${label.padEnd(64)} ${ms.toFixed(3)} ms`);
  return ms;
}

const server = await createIdentity();
const client = await createIdentity();
const serverOptions = { ...tlsServerOptions(server), isServer: true };
const clientOptions = tlsClientOptions(client);

/** A TCP listener on 127.0.0.1 that hands accepted sockets to `onSocket`. */
async function listener(onSocket: (s: net.Socket) => void): Promise<{ port: number; close(): void }> {
  const srv = net.createServer({ noDelay: true }, onSocket);
  await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, r));
  const address = srv.address();
  return { port: typeof address === 'object' && address ? address.port : 0, close: () => srv.close() };
}

/**
 * The same contexts with OpenSSL's default session tickets (two stateless tickets per handshake),
 * as meshwire had them before issue 16 part 4: the row that uses them shows what dropping them saved.
 */
const withTickets = (id: typeof server) =>
  tls.createSecureContext({ key: id.keyPem, cert: id.certPem, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
const ticketServerOptions = { ...serverOptions, secureContext: withTickets(server) };
const ticketClientOptions = { ...clientOptions, secureContext: withTickets(client) };

/** One TLS connection with meshwire's options (the way secure-mode.ts makes them), both sides. */
async function tlsPair(port: number, accepted: Promise<net.Socket>, verify: boolean, tickets = false) {
  const raw = net.connect({ host: '127.0.0.1', port, noDelay: true });
  const c = tls.connect({ ...(tickets ? ticketClientOptions : clientOptions), socket: raw });
  const s = new tls.TLSSocket(await accepted, tickets ? ticketServerOptions : serverOptions);
  await Promise.all([
    new Promise((r) => c.once('secureConnect', r)),
    new Promise((r) => s.once('secure', r)),
  ]);
  if (verify) {
    verifyPeer(c, server.id);
    verifyPeer(s);
  }
  return { c, s };
}

let nextAccept: ((s: net.Socket) => void) | undefined;
const l = await listener((s) => nextAccept?.(s));
const accept = () => new Promise<net.Socket>((r) => (nextAccept = r));
const closeBoth = async (a: net.Socket, b: net.Socket) => {
  const closed = Promise.all([
    new Promise((r) => a.once('close', r)),
    new Promise((r) => b.once('close', r)),
  ]);
  a.destroy();
  b.destroy();
  await closed;
};

if (!memoryOnly) await cpuBreakdown();

async function cpuBreakdown(): Promise<void> {
  console.log(`per secure link, both sides in one process (${N} repetitions; CPU ms)`);
  await perCall('TCP connect + accept + close', N, async () => {
    const accepted = accept();
    const c = net.connect({ host: '127.0.0.1', port: l.port, noDelay: true });
    const s = await accepted;
    await new Promise((r) => (c.readyState === 'open' ? r(null) : c.once('connect', r)));
    await closeBoth(c, s);
  });
  await perCall('TLS 1.3 handshake, meshwire options, no verifyPeer (+ TCP)', N, async () => {
    const { c, s } = await tlsPair(l.port, accept(), false);
    await closeBoth(c, s);
  });
  await perCall('  the same with OpenSSL default session tickets (before)', N, async () => {
    const { c, s } = await tlsPair(l.port, accept(), false, true);
    await closeBoth(c, s);
  });
  await perCall('TLS 1.3 handshake + verifyPeer both sides (+ TCP)', N, async () => {
    const { c, s } = await tlsPair(l.port, accept(), true);
    await closeBoth(c, s);
  });
  {
    const { c, s } = await tlsPair(l.port, accept(), false);
    const raw = c.getPeerCertificate().raw;
    await perCall('  getPeerCertificate() (fingerprints, subject, ...)', N, () => c.getPeerCertificate());
    await perCall('  new X509Certificate(raw)', N, () => new X509Certificate(raw));
    const x = new X509Certificate(raw);
    await perCall('  X509Certificate.publicKey', N, () => x.publicKey);
    const key = x.publicKey;
    await perCall('  rawEd25519PublicKey (JWK export)', N, () => rawEd25519PublicKey(key));
    const rawKey = rawEd25519PublicKey(key);
    await perCall('  peerIdFromPublicKey (SHA-256)', N, () => peerIdFromPublicKey(rawKey));
    // On the listener's socket: on Node 20 a client socket's peer certificate can be read
    // through getPeerX509Certificate() only once (see src/secure/verify.ts).
    await perCall('  verifyPeer, listener side, fresh socket object (cache miss)', N, () => {
      const copy = Object.create(s) as tls.TLSSocket;
      return verifyPeer(copy, client.id);
    });
    await closeBoth(c, s);
  }
  await perCall('tls.createSecureContext (once per identity, cached)', Math.ceil(N / 4), () =>
    tls.createSecureContext({ key: server.keyPem, cert: server.certPem, minVersion: 'TLSv1.3' }),
  );
  await perCall('createIdentity (Ed25519 key + certificate; once per node)', Math.ceil(N / 4), () =>
    createIdentity(),
  );

  /** Full meshwire connections between two running nodes: connect, hello, greeting, disconnect. */
  async function meshwireLinks(mode: 'secure' | 'compat'): Promise<void> {
    const a = new P2PNode({ mode, host: '127.0.0.1', port: 0, autoConnectMax: 0, maxPeers: PEERS + 10 });
    const b = new P2PNode({ mode, host: '127.0.0.1', port: 0, autoConnectMax: 0, maxPeers: PEERS + 10 });
    try {
      await a.start();
      await b.start();
      await perCall(
        `meshwire ${mode}: connectToPeer until both sides see the peer, then disconnect`,
        N,
        async () => {
          const seen = new Promise((r) => a.once('peer-connected', r));
          let peer: Awaited<ReturnType<typeof b.connectToPeer>> | undefined;
          for (let attempt = 1; !peer; attempt++) {
            try {
              peer = await b.connectToPeer(`127.0.0.1:${a.port}`);
            } catch (err) {
              // Compat: the listener may not have seen the previous close yet (as in the bench
              // worker's handshake loop); try the round again.
              if ((err as { code?: string }).code !== 'ERR_DUPLICATE_PEER' || attempt >= 5) throw err;
            }
          }
          await seen;
          // Both sides must have let go before the next round, or its dial meets DUPLICATE.
          const gone = Promise.all([
            new Promise((r) => a.once('peer-disconnected', r)),
            new Promise((r) => b.once('peer-disconnected', r)),
          ]);
          b.disconnectPeer(peer.id);
          await gone;
        },
      );
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }
  await meshwireLinks('compat');
  await meshwireLinks('secure');
}

// Memory per connection: both ends live in this process, so per link = two sockets' worth.
const gc = (globalThis as { gc?: () => void }).gc;
async function settled(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 30));
  }
  return process.memoryUsage();
}
async function memory(label: string, open: () => Promise<() => Promise<void>>): Promise<void> {
  const before = await settled();
  const closers: (() => Promise<void>)[] = [];
  for (let i = 0; i < PEERS; i++) closers.push(await open());
  const after = await settled();
  const kib = (k: keyof NodeJS.MemoryUsage) => ((after[k] - before[k]) / PEERS / 1024).toFixed(1);
  console.log(
    `${label.padEnd(48)} RSS ${kib('rss').padStart(6)} KiB  heap ${kib('heapUsed').padStart(6)} KiB  ` +
      `external ${kib('external').padStart(6)} KiB  (both ends)`,
  );
  for (const close of closers) await close();
}
if (!gc) console.log('memory: run with --expose-gc for the per-connection memory figures');
else {
  console.log(`\nmemory per link, ${PEERS} links, both ends in this process (after GC)`);
  await memory('raw TCP socket pair', async () => {
    const accepted = accept();
    const c = net.connect({ host: '127.0.0.1', port: l.port, noDelay: true });
    const s = await accepted;
    return () => closeBoth(c, s);
  });
  await memory('node:tls pair, meshwire options', async () => {
    const { c, s } = await tlsPair(l.port, accept(), true);
    return () => closeBoth(c, s);
  });
  await memory('node:tls pair after 1 KiB each way', async () => {
    const { c, s } = await tlsPair(l.port, accept(), true);
    const kib = Buffer.alloc(1024, 1);
    await new Promise<void>((r) => {
      let got = 0;
      const done = (chunk: Buffer) => {
        got += chunk.length;
        if (got === 2048) r();
      };
      c.on('data', done);
      s.on('data', done);
      c.write(kib);
      s.write(kib);
    });
    return () => closeBoth(c, s);
  });
  for (const mode of ['compat', 'secure'] as const) {
    const hub = new P2PNode({ mode, host: '127.0.0.1', port: 0, autoConnectMax: 0, maxPeers: PEERS + 10 });
    await hub.start();
    const clients: InstanceType<typeof P2PNode>[] = [];
    await memory(`meshwire ${mode} peer (hub + client node each)`, async () => {
      const n = new P2PNode({ mode, host: '127.0.0.1', port: 0, autoConnectMax: 0, maxPeers: 1 });
      clients.push(n);
      await n.start();
      await n.connectToPeer(`127.0.0.1:${hub.port}`);
      return async () => undefined;
    });
    // An idle node for reference: the memory rows above include one client node per link.
    await Promise.all(clients.map((n) => n.close()));
    await memory(`meshwire ${mode} idle node (no peers), for subtraction`, async () => {
      const n = new P2PNode({ mode, host: '127.0.0.1', port: 0, autoConnectMax: 0, maxPeers: 1 });
      await n.start();
      return () => n.close();
    });
    await hub.close();
  }
}
l.close();
