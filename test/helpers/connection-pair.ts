/**
 * Two ends of one byte stream, for the unit tests of `Connection`: a pair of MemoryNetwork
 * streams (no socket; the writer never waits, since a memory stream has no backpressure) or a
 * real loopback TCP connection (where a paused reader does push back, through the kernel's
 * buffers). Everything is destroyed after the test.
 */
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TestContext } from 'node:test';
import { DEFAULT_CODEC_LIMITS, type CodecLimits } from '../../src/codec/codec.js';
import { NativeDecoder, NativeEncoder } from '../../src/codec/native.js';
import {
  Connection,
  MemoryNetwork,
  type ConnectionLimits,
  type TransportConnection,
} from '../../src/internal.js';

/** Roomy limits: tests that exercise one limit lower it. */
export const ROOMY: ConnectionLimits = {
  highWaterMark: 64 * 1024,
  maxQueueBytes: 64 * 1024 * 1024,
  writeTimeoutMs: 10_000,
};

/** The two streams of a MemoryNetwork connection: dialer's end and listener's end. */
export async function memoryStreams(t: TestContext): Promise<[Duplex, Duplex]> {
  const transport = new MemoryNetwork().transport();
  let accepted!: (c: TransportConnection) => void;
  const inbound = new Promise<TransportConnection>((resolve) => (accepted = resolve));
  const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, (c) => accepted(c));
  t.after(() => listener.close());
  const outbound = await transport.dial({ host: '127.0.0.1', port: listener.port });
  const server = await inbound;
  t.after(() => {
    outbound.stream.destroy();
    server.stream.destroy();
  });
  return [outbound.stream, server.stream];
}

/** Both sockets of one loopback TCP connection: client's and server's. */
export async function tcpSockets(t: TestContext): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ host: '127.0.0.1', port });
  const [serverSide] = await accepted;
  await once(client, 'connect');
  t.after(() => {
    client.destroy();
    serverSide.destroy();
    server.close();
  });
  return [client, serverSide];
}

/** A Connection speaking native frames over `stream`. */
export function nativeConnection(
  stream: Duplex,
  limits: Partial<ConnectionLimits> = {},
  codec: CodecLimits = DEFAULT_CODEC_LIMITS,
): Connection {
  return new Connection(stream, new NativeDecoder(codec), new NativeEncoder(codec), { ...ROOMY, ...limits });
}

/** Native-frame Connections on both ends of a MemoryNetwork connection: dialer's, listener's. */
export async function memoryConnections(
  t: TestContext,
  limits: Partial<ConnectionLimits> = {},
): Promise<[Connection, Connection]> {
  const [x, y] = await memoryStreams(t);
  return [nativeConnection(x, limits), nativeConnection(y, limits)];
}
