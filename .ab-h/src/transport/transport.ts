import type { Duplex } from 'node:stream';

/**
 * One connection a transport opened or accepted: a byte stream and where it leads. Everything
 * above the transport (TLS, codecs, handshakes, the peer table) works on this and nothing else,
 * so a new transport (WebSocket, a relay) changes nothing above `transport/`.
 */
export interface TransportConnection {
  /** The bytes. Destroying it ends the connection; TLS may be layered over it. */
  readonly stream: Duplex;
  /** The remote end as `host:port` (IPv6 in brackets), for reports and peer lists. */
  readonly remoteAddress: string;
  /** The local host this connection arrived on (what a wildcard-bound node advertises). */
  readonly localHost: string;
  /** Bytes received so far (eviction of idle handshakes judges by it). */
  bytesRead(): number;
}

/** A listening endpoint. */
export interface Listener {
  /** The bound port (the one picked when 0 was asked for). */
  readonly port: number;
  /** Stops accepting; connections already accepted stay open. */
  close(): Promise<void>;
}

/** Where to dial. */
export interface DialTarget {
  host: string;
  port: number;
  signal?: AbortSignal;
}

/**
 * How bytes move between nodes: listen for connections and dial them. TCP
 * ({@link tcpTransport}) is the default; {@link MemoryNetwork} runs whole nodes in one process
 * without sockets. Errors are `MeshwireError`s: `ERR_ADDRESS_IN_USE` or `ERR_INVALID_OPTION` from
 * `listen`, `ERR_CONNECTION_REFUSED`, `ERR_HOST_NOT_FOUND` or `ERR_ABORTED` from `dial`.
 */
export interface Transport {
  listen(
    options: { host: string; port: number },
    onConnection: (connection: TransportConnection) => void,
  ): Promise<Listener>;
  dial(target: DialTarget): Promise<TransportConnection>;
}
