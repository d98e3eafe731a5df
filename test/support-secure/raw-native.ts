/**
 * Hand-made secure-mode peers and on-path attackers for the secure integration tests: a raw TLS
 * client or server that speaks native frames (so a test can send exactly the frames it wants and
 * capture exactly what a node sends back), a byte-level TCP proxy, and a TLS-terminating
 * man-in-the-middle. Everything registers its cleanup with the test context when created, and
 * every wait is bounded.
 */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import tls from 'node:tls';
import { DEFAULT_CODEC_LIMITS } from '../../src/codec/codec.js';
import type { Frame, HelloFrame } from '../../src/codec/frame.js';
import { NativeDecoder, NativeEncoder } from '../../src/codec/native.js';
import {
  MESHWIRE_ALPN,
  NetworkKeyExchange,
  networkKeySession,
  tlsClientOptions,
  tlsServerOptions,
  type Identity,
} from '../../src/secure/index.js';
import { RawReader } from '../helpers/raw-reader.js';
import { withTimeout } from '../helpers/wait.js';
import { loadCpace } from '../../src/secure/cpace.js';

// The network-key exchange needs its curve library loaded (the node does this in start()).
await loadCpace();

/** Kept here too for the tests that import it from this module; it lives in helpers/wait.ts. */
export { withTimeout };

const encoder = new NativeEncoder(DEFAULT_CODEC_LIMITS);

/** Encodes frames into one buffer, as a node would put them on the wire. */
export function encodeFrames(...frames: Frame[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => encoder.encode(f)));
}

/**
 * The client side of a network-key exchange run by hand over `peer`: sends our share, reads the
 * listener's share and tag. Returns the exchange (whose `tag` the test may send or not) and
 * whether the listener's tag verified. `key` may be wrong on purpose.
 */
export async function rawClientExchange(
  peer: RawNativePeer,
  key: Buffer,
  clientId: string,
  listenerId: string,
): Promise<{ exchange: NetworkKeyExchange; listenerProved: boolean }> {
  const exchange = new NetworkKeyExchange(
    key,
    'client',
    networkKeySession(peer.socket, clientId, listenerId),
  );
  peer.send({ type: 'pake', share: exchange.share });
  const share = await peer.nextFrame();
  if (share.type !== 'pake') throw new Error(`expected pake, got ${describeFrames([share])}`);
  const tag = await peer.nextFrame();
  if (tag.type !== 'auth') throw new Error(`expected auth, got ${describeFrames([tag])}`);
  const valid = exchange.receive(share.share);
  return { exchange, listenerProved: valid && exchange.verify(tag.proof) };
}

/** A version 1 hello claiming `id`. */
export function helloFrame(id: string, listen: string[] = [], name = ''): HelloFrame {
  return { type: 'hello', id, name, listen, version: 1, features: [] };
}

/**
 * One TLS connection speaking native frames by hand. Every decoded frame is kept in `frames` (in
 * order) and every raw plaintext byte in `received`; reads are bounded by timeouts.
 */
export class RawNativePeer {
  readonly socket: tls.TLSSocket;
  /** Every frame received so far, in order (also the ones already returned by `nextFrame`). */
  readonly frames: Frame[] = [];
  /** Every plaintext byte received so far. */
  received: Buffer = Buffer.alloc(0);
  /** The decoder's error, if the stream did not parse as native frames. */
  decodeError: Error | undefined;
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;
  #read = 0;
  readonly #reader: RawReader;
  readonly #decoder = new NativeDecoder(DEFAULT_CODEC_LIMITS);

  constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    this.#reader = new RawReader(socket, {
      onData: (chunk) => {
        this.received = Buffer.concat([this.received, chunk]);
        if (this.decodeError) return;
        try {
          this.frames.push(...this.#decoder.push(chunk));
        } catch (err) {
          this.decodeError = err as Error;
        }
      },
      describe: () => `frames so far: ${describeFrames(this.frames)}`,
    });
    this.closed = this.#reader.closed;
  }

  /**
   * Connects over TLS to 127.0.0.1:`port`. With an identity it presents that certificate (as a
   * node would); with `null` it presents none. Resolves after the TLS handshake.
   */
  static async dial(
    t: TestContext,
    port: number,
    identity: Identity | null,
    timeoutMs = 3_000,
    localAddress?: string,
  ): Promise<RawNativePeer> {
    const options: tls.ConnectionOptions = identity
      ? tlsClientOptions(identity)
      : {
          minVersion: 'TLSv1.3',
          maxVersion: 'TLSv1.3',
          rejectUnauthorized: false,
          checkServerIdentity: () => undefined,
          ALPNProtocols: [MESHWIRE_ALPN],
        };
    // Another loopback source address (127.0.0.2) lets a test be "another host" to the node.
    const socket = tls.connect({
      ...options,
      host: '127.0.0.1',
      port,
      ...(localAddress ? { localAddress } : {}),
    });
    t.after(() => socket.destroy());
    const peer = new RawNativePeer(socket);
    await withTimeout(once(socket, 'secureConnect'), timeoutMs, `TLS handshake with 127.0.0.1:${port}`);
    return peer;
  }

  /** True once the remote closed (or the socket was destroyed). */
  get ended(): boolean {
    return this.#reader.ended;
  }

  /** Sends frames in one write. */
  send(...frames: Frame[]): void {
    this.socket.write(encodeFrames(...frames));
  }

  /** The next frame not returned before. */
  async nextFrame(timeoutMs = 3_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.frames.length) await this.#reader.waitData(deadline, 'a frame');
    return this.frames[this.#read++] as Frame;
  }

  /** Resolves once the remote has closed the connection; everything it sent is in `frames`. */
  expectClose(timeoutMs = 3_000): Promise<void> {
    return this.#reader.expectClose(timeoutMs);
  }
}

/** `[hello, reject:unauthorized, ...]`, for assertion messages. */
export function describeFrames(frames: Frame[]): string {
  return `[${frames.map((f) => (f.type === 'reject' ? `reject:${f.reason}` : f.type)).join(', ')}]`;
}

/**
 * A TLS server with its own identity that hands every accepted connection to `onPeer` as a
 * {@link RawNativePeer} (after the TLS handshake; `onAccept` sees it at once, before TLS). For
 * tests where a node dials a fake peer.
 */
export async function rawNativeServer(
  t: TestContext,
  identity: Identity,
  onPeer: (peer: RawNativePeer) => void,
  onAccept: (peer: RawNativePeer) => void = () => undefined,
): Promise<{ server: net.Server; port: number; address: string }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((raw) => {
    sockets.add(raw);
    raw.on('error', () => undefined);
    const socket = new tls.TLSSocket(raw, { ...tlsServerOptions(identity), isServer: true });
    sockets.add(socket);
    const peer = new RawNativePeer(socket);
    onAccept(peer);
    socket.once('secure', () => onPeer(peer));
  });
  t.after(() => closeServer(server, sockets));
  const port = await listen(server);
  return { server, port, address: `127.0.0.1:${port}` };
}

/** Listens on 127.0.0.1 (port 0 unless given) and resolves with the port. */
export async function listen(server: net.Server, port = 0): Promise<number> {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

/** Destroys the given sockets and closes the server. */
export function closeServer(server: net.Server, sockets: Iterable<net.Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * The two sockets of one proxied connection live and die together: an error or a close on
 * either destroys both. Both are tracked in `sockets`, for the proxy's cleanup.
 */
function linkEnds(sockets: Set<net.Socket>, inbound: net.Socket, outbound: net.Socket): void {
  for (const s of [inbound, outbound]) {
    sockets.add(s);
    const both = (): void => {
      inbound.destroy();
      outbound.destroy();
    };
    s.on('error', both);
    s.on('close', both);
  }
}

/**
 * Walks TLS records (5-byte header: type, version, u16 length) in one direction of a byte
 * stream and lets a hook change a record's bytes in place before it is forwarded.
 */
class RecordParser {
  #pending: Buffer = Buffer.alloc(0);
  #index = 0;

  constructor(private readonly onRecord: (record: Buffer, index: number) => boolean | void) {}

  /** Feeds bytes; returns the bytes to forward (complete records only, possibly modified or dropped). */
  push(chunk: Buffer): Buffer {
    this.#pending = Buffer.concat([this.#pending, chunk]);
    const out: Buffer[] = [];
    let end = 0;
    while (this.#pending.length - end >= 5) {
      const length = this.#pending.readUInt16BE(end + 3);
      if (this.#pending.length - end < 5 + length) break;
      const record = Buffer.from(this.#pending.subarray(end, end + 5 + length));
      if (this.onRecord(record, this.#index++) !== false) out.push(record);
      end += 5 + length;
    }
    this.#pending = this.#pending.subarray(end);
    return Buffer.concat(out);
  }
}

/** What a {@link TcpProxy} hook sees: one TLS record of one connection, in one direction. */
export interface ProxiedRecord {
  /** The whole record, header included; modify it in place to tamper with it. */
  record: Buffer;
  /** Record type (23 = application data: every encrypted record in TLS 1.3). */
  type: number;
  /** Index of this record in this direction of this connection. */
  index: number;
  /** Which way it travels: from the dialer to the target, or back. */
  direction: 'to-target' | 'to-dialer';
  /** Index of the proxied connection (0 for the first). */
  connection: number;
}

/**
 * A plain TCP proxy on 127.0.0.1 that forwards to `127.0.0.1:targetPort` record by record (it
 * parses the TLS record layer, so a hook can tamper with a chosen record, or return `false` to
 * swallow it). It does not touch TLS.
 */
export class TcpProxy {
  readonly server: net.Server;
  readonly sockets = new Set<net.Socket>();
  port = 0;
  #connections = 0;

  private constructor(targetPort: number, onRecord: (r: ProxiedRecord) => boolean | void) {
    this.server = net.createServer((inbound) => {
      const connection = this.#connections++;
      const outbound = net.connect({ host: '127.0.0.1', port: targetPort });
      linkEnds(this.sockets, inbound, outbound);
      inbound.pause();
      outbound.once('connect', () => inbound.resume());
      const pipe = (from: net.Socket, to: net.Socket, direction: ProxiedRecord['direction']): void => {
        const parser = new RecordParser((record, index) =>
          onRecord({ record, type: record[0] ?? 0, index, direction, connection }),
        );
        from.on('data', (chunk: Buffer) => {
          const out = parser.push(chunk);
          if (out.length > 0 && !to.destroyed) to.write(out);
        });
        from.on('end', () => to.end());
      };
      pipe(inbound, outbound, 'to-target');
      pipe(outbound, inbound, 'to-dialer');
    });
  }

  /** Starts a proxy to `targetPort`; closed (with all its sockets) after the test. */
  static async start(
    t: TestContext,
    targetPort: number,
    onRecord: (r: ProxiedRecord) => boolean | void = () => undefined,
  ): Promise<TcpProxy> {
    const proxy = new TcpProxy(targetPort, onRecord);
    t.after(() => closeServer(proxy.server, proxy.sockets));
    proxy.port = await listen(proxy.server);
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }
}

/**
 * A TLS-terminating man in the middle with its own identity: it accepts TLS as itself, dials the
 * target over TLS as itself, and relays the plaintext both ways unchanged (so every native frame
 * is forwarded, and `seen` records what it could read).
 */
export class TlsMitmProxy {
  readonly server: net.Server;
  readonly sockets = new Set<net.Socket>();
  /** Plaintext frames the proxy read from the dialer (it can read them: it holds the TLS keys). */
  readonly fromDialer: Frame[] = [];
  /** Connections accepted so far. */
  accepted = 0;
  port = 0;

  private constructor(identity: Identity, targetPort: number) {
    this.server = net.createServer((raw) => {
      this.accepted++;
      this.sockets.add(raw);
      raw.on('error', () => undefined);
      const inbound = new tls.TLSSocket(raw, { ...tlsServerOptions(identity), isServer: true });
      const outbound = tls.connect({ ...tlsClientOptions(identity), host: '127.0.0.1', port: targetPort });
      const decoder = new NativeDecoder(DEFAULT_CODEC_LIMITS);
      linkEnds(this.sockets, inbound, outbound);
      inbound.on('data', (chunk: Buffer) => {
        try {
          this.fromDialer.push(...decoder.push(chunk));
        } catch {
          // Only a record of what crossed; relaying goes on regardless.
        }
      });
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
  }

  /** Starts the proxy on `port` (0: any) in front of `127.0.0.1:targetPort`; closed after the test. */
  static async start(
    t: TestContext,
    identity: Identity,
    targetPort: number,
    port = 0,
  ): Promise<TlsMitmProxy> {
    const proxy = new TlsMitmProxy(identity, targetPort);
    t.after(() => closeServer(proxy.server, proxy.sockets));
    proxy.port = await listen(proxy.server, port);
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }
}
