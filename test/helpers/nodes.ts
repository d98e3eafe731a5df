/**
 * Shared helpers of the integration tests: nodes on real loopback sockets with short intervals,
 * bounded waits on events, and a hand-written raw compat peer. Everything created here registers
 * its cleanup with the test context right away, so a failing assertion leaks nothing.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { P2PNode } from '../../src/node.js';
import type { MeshwireError } from '../../src/errors.js';
import type { MeshMessage, MessageType, NodeEvents } from '../../src/messages.js';
import type { Mode, NodeOptions } from '../../src/options.js';
import { RawReader } from './raw-reader.js';
import { nextEvent, Wakeup } from './wait.js';

/** Both protocol modes, for tests that must hold in each. */
export const MODES: readonly Mode[] = ['compat', 'secure'];

/**
 * Defaults for test nodes: loopback only, port 0, fast maintenance, a discovery timer that never
 * fires during a test (so only the immediate peer exchange can build a mesh), quick bootstrap.
 */
export const TEST_DEFAULTS: NodeOptions = {
  host: '127.0.0.1',
  port: 0,
  maintenanceIntervalMs: 100,
  peerTimeoutMs: 5_000,
  discoveryIntervalMs: 60_000,
  connectionTimeoutMs: 5_000,
  bootstrapRetryMs: [20, 20],
  autoConnectJitterMs: 20,
};

/** Creates a node (cleanup registered at once) without starting it. */
export function createTestNode(t: TestContext, options: NodeOptions = {}): P2PNode {
  const node = new P2PNode({ ...TEST_DEFAULTS, ...options });
  t.after(() => node.close());
  return node;
}

/** Creates and starts a node on 127.0.0.1, port 0, with short intervals; closed after the test. */
export async function startNode(t: TestContext, options: NodeOptions = {}): Promise<P2PNode> {
  const node = createTestNode(t, options);
  await node.start();
  return node;
}

/**
 * Starts two nodes with the given options and makes `dialer` connect to `listener`; resolves
 * once the listener has reported the dialer as connected.
 */
export async function startConnectedPair(
  t: TestContext,
  listenerOptions: NodeOptions = {},
  dialerOptions: NodeOptions = {},
): Promise<{ listener: P2PNode; dialer: P2PNode }> {
  const listener = await startNode(t, listenerOptions);
  const dialer = await startNode(t, dialerOptions);
  const connected = waitFor(listener, 'peer-connected');
  await dialer.connectToPeer(addressOf(listener));
  await connected;
  return { listener, dialer };
}

/** The address other peers dial `node` on. */
export function addressOf(node: P2PNode | { port: number }): string {
  return `127.0.0.1:${node.port}`;
}

/** A message of one type, as the node reports it. */
export type MessageOf<K extends MessageType> = NodeEvents[K];

/**
 * Resolves with the next `type` message of `node` that satisfies `predicate`, or rejects with a
 * message naming what was awaited after `timeoutMs`. Call it before the action that causes it.
 */
export function waitFor<K extends MessageType>(
  node: P2PNode,
  type: K,
  predicate: (message: MessageOf<K>) => boolean = () => true,
  timeoutMs = 5_000,
): Promise<MessageOf<K>> {
  return nextEvent<K, MessageOf<K>>(node, type, predicate, timeoutMs);
}

/**
 * Resolves once `check()` is true: checked now and again after every message of any of `nodes`.
 * Rejects after `timeoutMs` with `what` and the last value of `describe()` in the message.
 */
export function waitUntil(
  nodes: P2PNode[],
  check: () => boolean,
  what: string,
  timeoutMs = 5_000,
  describe: () => string = () => '',
): Promise<void> {
  return new Promise((resolve, reject) => {
    const listeners: [P2PNode, (m: MeshMessage) => void][] = [];
    const cleanup = (): void => {
      clearTimeout(timer);
      for (const [node, listener] of listeners) node.off('message', listener);
    };
    const test = (): void => {
      let ok: boolean;
      try {
        ok = check();
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (ok) {
        cleanup();
        resolve();
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      const detail = describe();
      reject(
        new Error(`timed out after ${timeoutMs} ms waiting until ${what}${detail ? `: ${detail}` : ''}`),
      );
    }, timeoutMs);
    for (const node of nodes) {
      const listener = (): void => test();
      listeners.push([node, listener]);
      node.on('message', listener);
    }
    test();
  });
}

/** Waits until every node has `count` connected peers. */
export function waitForPeerCount(nodes: P2PNode[], count: number, timeoutMs = 5_000): Promise<void> {
  return waitUntil(
    nodes,
    () => nodes.every((n) => n.getPeerInfo().peers.length === count),
    `every node has ${count} peers`,
    timeoutMs,
    () => nodes.map((n) => n.getPeerInfo().peers.length).join(','),
  );
}

/** Records every message a node reports, from now on. */
export function record(node: P2PNode): MeshMessage[] {
  const messages: MeshMessage[] = [];
  node.on('message', (m) => messages.push(m));
  return messages;
}

/** A port that was free a moment ago and has nothing listening on it now. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A fresh compat peer ID: 32 lowercase hex characters. */
export function randomCompatId(): string {
  return randomBytes(16).toString('hex');
}

/**
 * One end of a raw TCP connection that speaks PROTOCOL-compat.md by hand, for byte-exact tests.
 * Reads are bounded: every read rejects with a clear message after its timeout.
 */
export class RawCompatPeer {
  readonly socket: net.Socket;
  readonly id: string;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #reader: RawReader;
  /** Resolves when the socket has closed (for any reason). */
  readonly closed: Promise<void>;

  constructor(socket: net.Socket, id = randomCompatId()) {
    this.socket = socket;
    this.id = id;
    this.#reader = new RawReader(socket, {
      endOnFin: true,
      onData: (chunk) => {
        this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      },
    });
    this.closed = this.#reader.closed;
  }

  /** Connects to 127.0.0.1:`port`; destroyed after the test. */
  static async dial(t: TestContext, port: number, id?: string): Promise<RawCompatPeer> {
    const socket = net.connect({ host: '127.0.0.1', port });
    t.after(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawCompatPeer(socket, id);
  }

  /** Bytes received and not yet read. */
  get pending(): number {
    return this.#buffer.length;
  }

  /** True once the remote closed its side. */
  get ended(): boolean {
    return this.#reader.ended;
  }

  /** Writes raw text or bytes. */
  send(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  /** Sends the dialer's handshake: `<id>:<name>\n` and, if given, `LISTEN:<listen>\n`, in one write. */
  sendHello(name: string, listen?: string): void {
    this.send(`${this.id}:${name}\n${listen !== undefined ? `LISTEN:${listen}\n` : ''}`);
  }

  /** Dials a compat node, handshakes as `name`, and checks that the node answers with its hello. */
  static async join(
    t: TestContext,
    node: P2PNode,
    name = 'raw',
    listen?: string,
    id?: string,
  ): Promise<RawCompatPeer> {
    const peer = await RawCompatPeer.dial(t, node.port, id);
    peer.sendHello(name, listen);
    const answer = await peer.readLine();
    if (answer !== `${node.id}:${node.name}`)
      throw new Error(`expected the node's hello ${node.id}:${node.name}, got ${JSON.stringify(answer)}`);
    return peer;
  }

  /** The next line, without its `\n` (and without a `\r` before it). */
  async readLine(timeoutMs = 3_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.#buffer.indexOf(0x0a);
      if (nl >= 0) {
        const line = this.#buffer.subarray(0, nl).toString('utf8').replace(/\r$/, '');
        this.#buffer = this.#buffer.subarray(nl + 1);
        return line;
      }
      await this.#reader.waitData(deadline, `a line (have ${JSON.stringify(this.#buffer.toString('utf8'))})`);
    }
  }

  /** The next line that is not a heartbeat (`PING` is answered with `PONG` if `answerPings`). */
  async readLineSkippingPings(timeoutMs = 3_000, answerPings = true): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.readLine(Math.max(1, deadline - Date.now()));
      if (line === 'PING') {
        if (answerPings) this.send('PONG\n');
        continue;
      }
      if (line === 'PONG') continue;
      return line;
    }
  }

  /** Exactly `n` raw bytes. */
  async readExact(n: number, timeoutMs = 3_000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    while (this.#buffer.length < n)
      await this.#reader.waitData(deadline, `${n} bytes (have ${this.#buffer.length})`);
    const out = Buffer.from(this.#buffer.subarray(0, n));
    this.#buffer = this.#buffer.subarray(n);
    return out;
  }

  /** Resolves when the node closes the connection, after reading everything it sent. */
  expectClose(timeoutMs = 3_000): Promise<void> {
    return this.#reader.expectClose(timeoutMs);
  }
}

/**
 * A raw compat peer that listens: the node dials it. `accept()` resolves with the next incoming
 * connection as a {@link RawCompatPeer}.
 */
export class RawCompatListener {
  readonly server: net.Server;
  readonly id = randomCompatId();
  readonly #accepted: net.Socket[] = [];
  readonly #wakeup = new Wakeup();

  private constructor(server: net.Server) {
    this.server = server;
    server.on('connection', (socket) => {
      this.#accepted.push(socket);
      this.#wakeup.notify();
    });
  }

  static async listen(t: TestContext): Promise<RawCompatListener> {
    const server = net.createServer();
    const sockets = new Set<net.Socket>();
    server.on('connection', (s) => sockets.add(s));
    t.after(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new RawCompatListener(server);
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async accept(timeoutMs = 3_000): Promise<RawCompatPeer> {
    if (this.#accepted.length === 0) {
      await this.#wakeup.wait(
        Date.now() + timeoutMs,
        () => `timed out after ${timeoutMs} ms waiting for the node to dial ${this.address}`,
      );
    }
    return new RawCompatPeer(this.#accepted.shift() as net.Socket, this.id);
  }
}

/**
 * ESTABLISHED IPv4 TCP connections on 127.0.0.1 that have `port` as one end, read from the OS
 * (/proc/net/tcp, Linux). Each connection between two local sockets appears twice, once per end.
 */
export async function establishedWithPort(port: number): Promise<{ local: number; remote: number }[]> {
  const text = await readFile('/proc/net/tcp', 'utf8');
  const out: { local: number; remote: number }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 4 || fields[3] !== '01') continue;
    const local = parseInt((fields[1] ?? '').split(':')[1] ?? '', 16);
    const remote = parseInt((fields[2] ?? '').split(':')[1] ?? '', 16);
    if (local === port || remote === port) out.push({ local, remote });
  }
  return out;
}

/** True on Linux, where {@link establishedWithPort} can read the kernel's socket table. */
export async function canReadSocketTable(): Promise<boolean> {
  try {
    await readFile('/proc/net/tcp', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/**
 * Proves a node still serves: a fresh legitimate node of the same mode connects to it and a chat
 * crosses both ways. Every hostile-input test ends with it.
 */
export async function assertServesLegitimatePeer(
  t: TestContext,
  node: P2PNode,
  options: NodeOptions = {},
): Promise<P2PNode> {
  const legit = await startNode(t, { mode: node.mode, name: 'legit', autoConnectMax: 0, ...options });
  const joined = waitFor(node, 'peer-connected', (m) => m.peer.id === legit.id);
  await legit.connectToPeer(addressOf(node));
  await joined;
  const text = `legit ${randomBytes(4).toString('hex')}`;
  const heard = waitFor(node, 'chat', (m) => m.from.id === legit.id && m.text === text);
  await legit.sendMessageToPeer(node.id, text);
  await heard;
  const answered = waitFor(legit, 'chat', (m) => m.from.id === node.id && m.text === `re ${text}`);
  await node.sendMessageToPeer(legit.id, `re ${text}`);
  await answered;
  return legit;
}

/** Asserts that `promise` rejects with a MeshwireError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<MeshwireError> {
  try {
    await promise;
  } catch (err) {
    assert.equal((err as MeshwireError).code, code, `expected ${code}, got: ${String(err)}`);
    return err as MeshwireError;
  }
  assert.fail(`expected a rejection with ${code}`);
}

/** The messages of one type, typed as such. */
export function ofType<K extends MeshMessage['type']>(
  messages: MeshMessage[],
  type: K,
): Extract<MeshMessage, { type: K }>[] {
  return messages.filter((m): m is Extract<MeshMessage, { type: K }> => m.type === type);
}
