import { Duplex } from 'node:stream';
import { formatAddress } from '../address.js';
import { MeshwireError } from '../errors.js';
import type { Listener, Transport, TransportConnection } from './transport.js';

/** One end of an in-memory connection: what it writes, the other end reads. */
class MemoryEnd extends Duplex {
  other: MemoryEnd | undefined;
  received = 0;
  /** The write held back until the reader wants more (backpressure, as a full socket buffer). */
  #held: (() => void) | undefined;

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const other = this.other;
    if (!other || other.destroyed)
      return callback(new MeshwireError('ERR_CONNECTION_CLOSED', 'peer end closed'));
    other.received += chunk.length;
    if (other.push(chunk)) callback();
    else other.#held = callback;
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.other?.push(null);
    callback();
  }

  override _read(): void {
    // Data is pushed by the other end's writes; one held back for want of room goes on now.
    const held = this.#held;
    this.#held = undefined;
    held?.();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const other = this.other;
    this.other = undefined;
    // The other end sees the connection reset, as a TCP peer would.
    if (other && !other.destroyed) {
      other.other = undefined;
      other.destroy();
    }
    const held = this.#held;
    this.#held = undefined;
    held?.();
    callback(error);
  }
}

/**
 * A network in one process: listeners registered by `host:port`, connections as pairs of
 * in-memory streams. Nodes given `transport: network.transport()` talk to each other with no
 * socket at all, TLS and handshakes included; what it proves is that nothing above `transport/`
 * assumes TCP. It is also a cheap way to run many nodes in one test.
 */
export class MemoryNetwork {
  readonly #listeners = new Map<string, (connection: TransportConnection) => void>();
  #nextPort = 40_000;
  #nextLocalPort = 50_000;

  /** A transport attached to this network. */
  transport(): Transport {
    return {
      listen: async ({ host, port }, onConnection): Promise<Listener> => {
        const bound = port === 0 ? this.#nextPort++ : port;
        const key = formatAddress(host, bound);
        if (this.#listeners.has(key))
          throw new MeshwireError('ERR_ADDRESS_IN_USE', `port ${bound} is already in use on ${host}`);
        this.#listeners.set(key, onConnection);
        return {
          port: bound,
          close: async () => {
            this.#listeners.delete(key);
          },
        };
      },
      dial: async ({ host, port, signal }) => {
        if (signal?.aborted) throw new MeshwireError('ERR_ABORTED', `dial ${host}:${port} aborted`);
        const accept = this.#listeners.get(formatAddress(host, port));
        if (!accept) throw new MeshwireError('ERR_CONNECTION_REFUSED', `nothing listens on ${host}:${port}`);
        const dialer = new MemoryEnd();
        const listener = new MemoryEnd();
        dialer.other = listener;
        listener.other = dialer;
        const localPort = this.#nextLocalPort++;
        // Accepted on a later turn, as a real accept would be: the dialer gets its end first.
        setImmediate(() =>
          accept({
            stream: listener,
            remoteAddress: formatAddress(host, localPort),
            localHost: host,
            bytesRead: () => listener.received,
          }),
        );
        return {
          stream: dialer,
          remoteAddress: formatAddress(host, port),
          localHost: host,
          bytesRead: () => dialer.received,
        };
      },
    };
  }
}
