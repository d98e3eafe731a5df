import type { Duplex } from 'node:stream';
import { performance } from 'node:perf_hooks';
import type { HelloFrame } from '../codec/frame.js';
import type { Direction } from '../messages.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import type { Listener, Transport, TransportConnection } from '../transport/transport.js';
import type { Connection, ConnectionLimits } from './connection.js';
import type { Established, HandshakeContext, OpenConnection } from './handshake.js';
import { PendingHandshakes } from './pending-handshakes.js';
import type { SessionMode } from './session-mode.js';
import type { Admission, Session } from './session.js';

/** Settings of connection setup. */
export interface ConnectorOptions {
  host: string;
  port: number;
  connectionTimeoutMs: number;
  maxPendingHandshakes: number;
  limits: ConnectionLimits;
}

/** What connection setup needs from the node above it. */
export interface ConnectorHost {
  isClosed(): boolean;
  /** This node's ID (known once the mode's identity is loaded). */
  selfId(): string;
  /** Our hello for one connection. */
  hello(connection: Connection): HelloFrame;
  /** The address we advertise on one connection (`host:port`). */
  advertisedAddress(connection: Connection): string;
  /** True when a peer with this ID is connected. */
  hasPeer(id: string): boolean;
  /** Atomic check-and-insert of a new session into the peer table. */
  admit(session: Session): Admission;
  /** A handshake completed and the session was admitted: bring the peer online. */
  online(result: Established): void;
  /** An inbound connection failed its handshake (not reported for evictions and refusals). */
  inboundFailed(address: string, error: MeshwireError): void;
  /** A connection setup ended after `ms` (TCP, TLS and hello), with `error` if it failed. */
  handshakeDone(direction: Direction, ms: number, error?: MeshwireError): void;
}

/** Options of one dial. */
export interface DialOptions {
  signal?: AbortSignal;
  /** The ID the listener must prove (secure mode). */
  expectedId?: string;
}

/** Longest close() waits for peers to take their last bytes and FIN before their sockets are destroyed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Connection setup, below the peer table: listens, dials, runs each connection through its
 * mode's handshake under one deadline, caps the connections still in their handshake, applies
 * the early simultaneous-dial rule, and hands admitted sessions to the host. It keeps the one
 * registry of open sockets that `close()` reaps.
 */
export class Connector {
  readonly #mode: SessionMode;
  readonly #transport: Transport;
  readonly #host: ConnectorHost;
  readonly #options: ConnectorOptions;
  readonly #pending: PendingHandshakes;
  /** Dials in progress by address (a second dial of the same address joins the first). */
  readonly #dialing = new Map<string, Promise<Established>>();
  /** IDs proven by the TLS handshake of dials still in their hello exchange, with counts. */
  readonly #dialingIds = new Map<string, number>();
  /** Every open stream, with the one to destroy to end it (the TLSSocket over an accepted raw one). */
  readonly #streams = new Map<Duplex, Duplex>();
  #listener: Listener | undefined;

  constructor(mode: SessionMode, transport: Transport, host: ConnectorHost, options: ConnectorOptions) {
    this.#mode = mode;
    this.#transport = transport;
    this.#host = host;
    this.#options = options;
    this.#pending = new PendingHandshakes(options.maxPendingHandshakes);
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    const { host, port } = this.#options;
    const listener = await this.#transport.listen({ host, port }, (raw) => this.#accept(raw));
    this.#listener = listener;
    if (this.#host.isClosed()) {
      // close() ran while the port was being bound: it could not close a listener it did not see.
      void listener.close();
      throw new MeshwireError('ERR_CLOSED', 'node closed while starting');
    }
    return listener.port;
  }

  /** True while a dial to `address` is in progress. */
  isDialing(address: string): boolean {
    return this.#dialing.has(address);
  }

  /** Dials `address` (`host`, `port` parsed) and runs the handshake; joins a dial already under way. */
  dial(address: string, host: string, port: number, options: DialOptions): Promise<Established> {
    const existing = this.#dialing.get(address);
    if (existing) return existing;
    const started = performance.now();
    const attempt = this.#dial(address, host, port, options)
      .then(
        (result) => {
          this.#host.handshakeDone('outbound', performance.now() - started);
          return result;
        },
        (err) => {
          this.#host.handshakeDone('outbound', performance.now() - started, toMeshwireError(err));
          throw err;
        },
      )
      .finally(() => this.#dialing.delete(address));
    this.#dialing.set(address, attempt);
    return attempt;
  }

  async #dial(
    address: string,
    host: string,
    port: number,
    { signal, expectedId }: DialOptions,
  ): Promise<Established> {
    const { connectionTimeoutMs } = this.#options;
    const deadline = Date.now() + connectionTimeoutMs;
    // A controller and a timer cleared once connected, not AbortSignal.timeout(): that one's
    // timer stays armed for the whole timeout after the dial is done, holding the signal and its
    // weak-reference bookkeeping (one per link, ~0.1 ms CPU; thousands pending while a mesh forms).
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), connectionTimeoutMs);
    const remote = await this.#mode
      .connect({
        host,
        port,
        address,
        ...(expectedId ? { expectedId } : {}),
        signal: signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal,
        limits: this.#options.limits,
      })
      .catch((err) => {
        throw timeout.signal.aborted
          ? new MeshwireError(
              'ERR_CONNECT_TIMEOUT',
              `${address}: no connection within ${connectionTimeoutMs} ms`,
              {
                cause: err,
              },
            )
          : err;
      })
      .finally(() => clearTimeout(timer));
    const id = remote.certifiedId;
    if (id) this.#dialingIds.set(id, (this.#dialingIds.get(id) ?? 0) + 1);
    try {
      return await this.#handshake(remote, deadline, () => this.#mode.outbound(this.#context(), remote));
    } catch (err) {
      // Say which peer a DUPLICATE was about: the certificate proved who listens at this address.
      const error = toMeshwireError(err);
      if (id && error.code === 'ERR_DUPLICATE_PEER' && error.peerId === undefined) {
        throw new MeshwireError(error.code, error.message, { cause: error.cause, peerId: id });
      }
      throw error;
    } finally {
      if (id) {
        const left = (this.#dialingIds.get(id) ?? 1) - 1;
        if (left > 0) this.#dialingIds.set(id, left);
        else this.#dialingIds.delete(id);
      }
    }
  }

  #accept(raw: TransportConnection): void {
    if (this.#host.isClosed() || !this.#pending.add(raw)) {
      raw.stream.destroy();
      return;
    }
    this.#track(raw.stream);
    const { connectionTimeoutMs } = this.#options;
    const deadline = Date.now() + connectionTimeoutMs;
    const started = performance.now();
    const address = raw.remoteAddress;
    // One deadline for the whole setup, TLS handshake included: until the connection exists the
    // pending-handshake registry destroys the right socket; after that #handshake's own part of
    // the same deadline does. A connection that sends nothing is reported as a handshake timeout
    // (not as the "closed" that the destroy makes it look like).
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#pending.abort(raw);
    }, connectionTimeoutMs);
    raw.stream.on('error', () => {
      // Reported through the handshake's failure below.
    });
    this.#mode
      .accept(raw, this.#options.limits, (wrapped) => {
        this.#pending.wrapped(raw, wrapped);
        if (this.#streams.has(raw.stream)) this.#streams.set(raw.stream, wrapped);
      })
      .then((remote) => this.#handshake(remote, deadline, () => this.#mode.inbound(this.#context(), remote)))
      .then(() => this.#host.handshakeDone('inbound', performance.now() - started))
      .catch((err) => {
        // Closed on purpose to make room, like the excess refused above.
        if (this.#pending.wasEvicted(raw)) return;
        let error = toMeshwireError(err);
        if (timedOut && error.code !== 'ERR_HANDSHAKE_TIMEOUT') {
          error = new MeshwireError(
            'ERR_HANDSHAKE_TIMEOUT',
            `${address}: handshake not completed within ${connectionTimeoutMs} ms`,
            { cause: error },
          );
        }
        this.#host.handshakeDone('inbound', performance.now() - started, error);
        if (!this.#host.isClosed() && error.code !== 'ERR_DUPLICATE_PEER' && error.code !== 'ERR_MAX_PEERS') {
          this.#host.inboundFailed(address, error);
        }
      })
      .finally(() => {
        clearTimeout(timer);
        this.#pending.release(raw);
      });
  }

  /** Runs a handshake until the deadline, then hands the admitted session to the host. */
  async #handshake(
    remote: OpenConnection,
    deadline: number,
    run: () => Promise<Established>,
  ): Promise<Established> {
    const { connection } = remote;
    const timer = setTimeout(
      () =>
        connection.destroy(
          new MeshwireError(
            'ERR_HANDSHAKE_TIMEOUT',
            `${remote.address}: handshake not completed within ${this.#options.connectionTimeoutMs} ms`,
          ),
        ),
      Math.max(0, deadline - Date.now()),
    );
    let result: Established;
    try {
      result = await run();
    } catch (err) {
      connection.destroy(toMeshwireError(err));
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.#host.isClosed()) {
      connection.destroy(new MeshwireError('ERR_CLOSED', 'node closed during handshake'));
      throw new MeshwireError('ERR_CLOSED', 'node closed during handshake');
    }
    this.#track(connection.socket);
    this.#host.online(result);
    return result;
  }

  #context(): HandshakeContext {
    return this.#mode.context({
      selfHello: (connection) => this.#host.hello(connection),
      advertisedAddress: (connection) => this.#host.advertisedAddress(connection),
      admit: (session) => this.#admit(session),
    });
  }

  /**
   * The host's admission, plus the simultaneous-dial rule applied early: an inbound connection
   * from a peer this node is dialling right now, when this node's ID is the lower one (its own
   * dial wins the tie-break), is refused as DUPLICATE at once. Admitting it only to replace it a
   * moment later would lose what the peer sent on it meanwhile: its side refuses the losing
   * connection and discards it.
   */
  #admit(session: Session): Admission {
    if (
      session.direction === 'inbound' &&
      !this.#host.hasPeer(session.id) &&
      this.#host.selfId() < session.id &&
      (this.#dialing.has(session.address) || this.#dialingIds.has(session.id))
    ) {
      return {
        accept: false,
        reason: 'duplicate',
        message: `this node is dialling ${session.id} too, and its own dial wins the tie-break`,
      };
    }
    return this.#host.admit(session);
  }

  #track(stream: Duplex): void {
    if (this.#streams.has(stream)) return;
    this.#streams.set(stream, stream);
    stream.once('close', () => this.#streams.delete(stream));
  }

  /**
   * Stops listening and aborts handshakes in progress; after a grace for peers to take their
   * last bytes (the caller ended their connections gracefully), destroys every socket left, so a
   * peer that does not read cannot hold close() until the write timeout.
   */
  async close(graceMs: number): Promise<void> {
    const listenerClosed = this.#listener?.close() ?? Promise.resolve();
    this.#pending.abortAll();
    // Every socket, outbound ones too, is awaited: a process that exits as soon as close()
    // resolves would otherwise tear down connections still flushing their goodbye, and a peer
    // then sees a reset where it should read the goodbye.
    const streamsClosed = [...this.#streams.keys()].map((stream) =>
      stream.destroyed && stream.closed
        ? undefined
        : new Promise<void>((resolve) => stream.once('close', resolve)),
    );
    // Not cleared when the listener closes first: outbound sockets may still be flushing.
    setTimeout(
      () => {
        for (const stream of this.#streams.values()) stream.destroy();
      },
      Math.min(graceMs, CLOSE_GRACE_MS),
    ).unref();
    await Promise.all([listenerClosed, ...streamsClosed]);
  }
}
