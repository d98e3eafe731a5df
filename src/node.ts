import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { formatAddress, normalizeHost, parseAddress } from './address.js';
import type { CodecLimits } from './codec/codec.js';
import type { Frame } from './codec/frame.js';
import type { MeshCore, WithoutTime } from './core.js';
import { Discovery } from './discovery/discovery.js';
import { PeerBook } from './discovery/peer-book.js';
import { SelfAddresses } from './discovery/self-addresses.js';
import { MeshwireError, toMeshwireError } from './errors.js';
import { MessageStream, type MessageStreamOptions } from './message-stream.js';
import type { MeshMessage, NodeEvents, PeerRef, SendReport } from './messages.js';
import { resolveOptions, type Mode, type NodeOptions, type ResolvedOptions } from './options.js';
import { peerRef, PeerTable, type Admission, type Peer } from './peers/peer-table.js';
import { closeReason, NO_REDIAL_REASONS } from './peers/disconnect-reason.js';
import { handlePeerFrame, pingAll, pingPeer } from './peers/peer-protocol.js';
import type { Handshaken, HandshakeContext, Remote } from './session/handshake.js';
import { openCompat, openSecure, type Channel } from './session/channel.js';
import { PendingHandshakes } from './session/pending-handshakes.js';
import { listenOn } from './transport/tcp.js';
import { TypedEmitter } from './typed-emitter.js';
import type { ConnectOptions, NetworkInfo, PeerInfo } from './node-types.js';

export type { ConnectOptions, KnownPeerInfo, NetworkInfo, PeerInfo } from './node-types.js';

/**
 * A meshwire node: listens, dials, keeps a full mesh with everyone it learns of (up to
 * `maxPeers`), and reports everything as typed messages: as events (`node.on('chat', …)`) and as
 * an async iterator with backpressure (`for await (const m of node.messages())`).
 */
export class P2PNode extends TypedEmitter<NodeEvents> {
  readonly options: ResolvedOptions;
  readonly #channel: Channel;
  #id: string | undefined;
  #table: PeerTable | undefined;
  readonly #book: PeerBook;
  readonly #discovery: Discovery;
  readonly #streams = new Set<MessageStream>();
  readonly #dialing = new Map<string, Promise<PeerRef>>();
  /** IDs proven by the TLS handshake of dials still in their hello exchange (secure mode), with counts. */
  readonly #dialingIds = new Map<string, number>();
  readonly #pending: PendingHandshakes;
  /**
   * Every open socket of a connected (or just replaced) peer, and every accepted one, with the
   * socket to destroy to end it (the TLSSocket over an accepted raw one): close() reaps them.
   */
  readonly #sockets = new Map<net.Socket, net.Socket>();
  readonly #self: SelfAddresses;
  readonly #timers: NodeJS.Timeout[] = [];
  #server: net.Server | undefined;
  #listening: Promise<number> | undefined;
  #port = 0;
  /** Peers whose messages a consumer of messages() is behind on: their sockets are paused. */
  readonly #pausedPeers = new Set<string>();
  #closed = false;
  #closing: Promise<void> | undefined;
  readonly #core: MeshCore;

  constructor(options: NodeOptions = {}) {
    super();
    this.options = resolveOptions(options);
    const limits: CodecLimits = {
      maxBytesPerMessage: this.options.maxBytesPerMessage,
      maxLineBytes: this.options.maxLineBytes,
      maxPeersPerFrame: Math.max(1000, this.options.maxPeers * 2),
    };
    this.#channel = this.options.mode === 'compat' ? openCompat(limits) : openSecure(limits, this.options);
    if (this.options.mode === 'compat') this.#setId(randomBytes(16).toString('hex'));
    this.#book = new PeerBook(this.options.maxKnownPeers);
    this.#self = new SelfAddresses(this.options, this.#book);
    this.#pending = new PendingHandshakes(this.options.maxPendingHandshakes);
    const table = (): PeerTable => this.#peers();
    const closed = (): boolean => this.#closed;
    const self = (): P2PNode => this;
    this.#core = {
      options: this.options,
      get table() {
        return table();
      },
      book: this.#book,
      get closed() {
        return closed();
      },
      get selfId() {
        return self().id;
      },
      get port() {
        return self().port;
      },
      isSelfAddress: (address) => this.#self.has(address),
      isDialing: (address) => this.#dialing.has(address),
      dial: (address, opts) => this.connectToPeer(address, opts),
      sendControl: (peer, frame) => this.#sendControl(peer, frame),
      dropPeer: (peer, reason, error) => this.#drop(peer, reason, error),
      report: (message) => this.#report(message),
    };
    this.#discovery = new Discovery(this.#core);
    this.setListenerErrorHandler((err) =>
      this.#report({ type: 'error', error: toMeshwireError(err, 'ERR_INVALID_ARGUMENT') }),
    );
  }

  /** This node's peer ID (secure mode: derived from its key, available after `start()`). */
  get id(): string {
    if (!this.#id)
      throw new MeshwireError('ERR_NOT_STARTED', 'the node ID is known once start() has loaded the identity');
    return this.#id;
  }

  /** Display name (the ID unless `name` was given). */
  get name(): string {
    return this.options.name ?? this.id;
  }

  /** The bound TCP port (after `start()` / `listen()`). */
  get port(): number {
    return this.#port;
  }

  get mode(): Mode {
    return this.options.mode;
  }

  get maxBytesPerMessage(): number {
    return this.options.maxBytesPerMessage;
  }

  /** Listens, starts discovery and maintenance, and bootstraps (in the background) if configured. */
  async start(): Promise<void> {
    await this.listen();
    this.startDiscoveryAndMaintenance();
    if (this.options.bootstrap) {
      this.bootstrap(this.options.bootstrap).catch(() => {
        // Reported as a bootstrap-failed message.
      });
    }
  }

  /** Loads the identity (secure mode) and starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    if (this.#closed) return Promise.reject(new MeshwireError('ERR_CLOSED', 'node is closed'));
    this.#listening ??= this.#listen();
    return this.#listening;
  }

  async #listen(): Promise<number> {
    const id = await this.#channel.init();
    if (id) this.#setId(id);
    if (this.#closed) throw new MeshwireError('ERR_CLOSED', 'node closed while starting');
    const server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server = server;
    this.#port = await listenOn(server, this.options.host, this.options.port);
    if (this.#closed) {
      // close() ran while the port was being bound: it could not close a server it did not see.
      server.close();
      throw new MeshwireError('ERR_CLOSED', 'node closed while starting');
    }
    this.#self.rememberListening(this.#port);
    this.#report({
      type: 'system-start',
      id: this.id,
      name: this.name,
      host: this.options.host,
      port: this.#port,
      mode: this.options.mode,
    });
    return this.#port;
  }

  /** Starts the periodic discovery and maintenance (heartbeat, stale-peer cleanup) timers. */
  startDiscoveryAndMaintenance(): void {
    if (this.#timers.length > 0 || this.#closed) return;
    const discovery = setInterval(() => this.#discovery.tick(), this.options.discoveryIntervalMs);
    const maintenance = setInterval(() => this.#maintain(), this.options.maintenanceIntervalMs);
    discovery.unref();
    maintenance.unref();
    this.#timers.push(discovery, maintenance);
  }

  /** Connects to `address` (`host:port`) and completes the handshake. */
  connectToPeer(address: string, options: ConnectOptions = {}): Promise<PeerRef> {
    if (this.#closed) return Promise.reject(new MeshwireError('ERR_CLOSED', 'node is closed'));
    const { host, port } = parseAddress(address);
    const existing = this.#dialing.get(address);
    if (existing) return existing;
    const attempt = this.#dial(address, host, port, options).finally(() => this.#dialing.delete(address));
    this.#dialing.set(address, attempt);
    return attempt;
  }

  /** Bootstraps through `address` with retries; reports bootstrap-success / bootstrap-failed. */
  bootstrap(address: string, options: { signal?: AbortSignal } = {}): Promise<PeerRef> {
    parseAddress(address);
    return this.#discovery.bootstrap(address, options.signal);
  }

  /** Runs a discovery round now: asks every peer for its peers and dials known ones. */
  discover(): void {
    this.#discovery.tick();
  }

  // Every send below queues its frame synchronously, within the call: messages from one node to a
  // peer go on the wire in call order, whatever their kind (a deferred write would let a chat sent
  // later overtake a BYTES message sent earlier). Errors still come back as rejected promises.

  /** Sends a chat message to every connected peer. */
  broadcastMessage(text: string): Promise<SendReport> {
    if (typeof text !== 'string')
      return Promise.reject(new MeshwireError('ERR_INVALID_ARGUMENT', 'text must be a string'));
    return this.#broadcast({ type: 'chat', text });
  }

  /** Sends a BYTES message to every connected peer. */
  broadcastBytes(data: Uint8Array): Promise<SendReport> {
    try {
      this.#checkBytes(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#broadcast({ type: 'bytes', data });
  }

  /** Sends a BYTES message to one peer. Resolves once queued below the high-water mark. */
  sendBytesToPeer(peerId: string, data: Uint8Array): Promise<void> {
    try {
      this.#checkBytes(data);
      return this.#peerOrThrow(peerId).connection.send({ type: 'bytes', data });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends a chat message to one peer. */
  sendMessageToPeer(peerId: string, text: string): Promise<void> {
    try {
      if (typeof text !== 'string') throw new MeshwireError('ERR_INVALID_ARGUMENT', 'text must be a string');
      return this.#peerOrThrow(peerId).connection.send({ type: 'chat', text });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Closes the connection to one peer (with a goodbye in secure mode, so it does not redial).
   * Throws `ERR_UNKNOWN_PEER` if it is not connected.
   */
  disconnectPeer(peerId: string): void {
    this.#leave(this.#peerOrThrow(peerId), 'disconnect');
  }

  /** Connected peers and known addresses. */
  getPeerInfo(): NetworkInfo {
    const peers = [...this.#peers().values()].map((p): PeerInfo => ({
      ...peerRef(p),
      direction: p.direction,
      connectedAt: p.connectedAt,
      lastSeen: p.lastSeen,
      ...(p.rttMs !== undefined ? { rttMs: p.rttMs } : {}),
    }));
    const known = [...this.#book.values()].map((k) => ({
      address: k.address,
      ...(k.id ? { id: k.id } : {}),
      verified: k.verified,
      source: k.source,
      firstSeen: k.firstSeen,
      connected:
        this.#peers().hasAddress(k.address) || (k.id !== undefined && this.#peers().get(k.id) !== undefined),
    }));
    return {
      id: this.id,
      name: this.name,
      port: this.#port,
      mode: this.mode,
      maxPeers: this.options.maxPeers,
      peers,
      known,
    };
  }

  /**
   * Every message this node reports, as an async iterator. A consumer that falls behind pauses
   * the node's sockets (backpressure) instead of losing messages; `break` or the signal ends it.
   */
  messages(options: MessageStreamOptions = {}): AsyncIterableIterator<MeshMessage> {
    const stream = new MessageStream(
      options,
      (peerId) => this.#updatePause(peerId),
      (s) => this.#streams.delete(s),
    );
    if (this.#closed) stream.end(true);
    else this.#streams.add(stream);
    return stream;
  }

  /** Closes every connection (peers see the disconnect at once) and stops listening. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#discovery.stop();
    const server = this.#server;
    const serverClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    this.#pending.abortAll();
    if (this.#table) {
      for (const peer of [...this.#table.values()]) {
        this.#leave(peer, 'shutdown');
      }
    }
    // Ending is graceful (queued data, then FIN), but a peer that does not read would hold its
    // socket, and server.close() with it, until the write timeout: reap what is left after a grace.
    // Not cleared when the server closes first: outbound sockets may still be flushing.
    setTimeout(
      () => {
        for (const socket of this.#sockets.values()) socket.destroy();
      },
      Math.min(this.options.writeTimeoutMs, CLOSE_GRACE_MS),
    ).unref();
    await serverClosed;
    for (const stream of [...this.#streams]) stream.end(true);
  }

  /** Says goodbye (secure mode), flushes, closes and reports the peer as closed by us. */
  #leave(peer: Peer, reason: string): void {
    if (this.mode === 'secure') {
      try {
        peer.connection.write({ type: 'goodbye', reason }, true);
      } catch {
        // A peer whose queue is full gets no goodbye; leaving must not throw because of it.
      }
    }
    peer.connection.end();
    this.#drop(peer, 'local-close');
  }

  #track(socket: net.Socket): void {
    if (this.#sockets.has(socket)) return;
    this.#sockets.set(socket, socket);
    socket.once('close', () => this.#sockets.delete(socket));
  }

  #setId(id: string): void {
    this.#id = id;
    this.#table = new PeerTable(id, this.options.maxPeers);
  }

  #peers(): PeerTable {
    if (!this.#table) throw new MeshwireError('ERR_NOT_STARTED', 'start() the node first');
    return this.#table;
  }

  #peerOrThrow(peerId: string): Peer {
    const peer = this.#peers().get(peerId);
    if (!peer) throw new MeshwireError('ERR_UNKNOWN_PEER', `no connected peer with ID ${peerId}`);
    return peer;
  }

  #checkBytes(data: Uint8Array): void {
    if (!(data instanceof Uint8Array))
      throw new MeshwireError('ERR_INVALID_ARGUMENT', 'data must be a Uint8Array');
    if (data.length > this.options.maxBytesPerMessage) {
      throw new MeshwireError(
        'ERR_FRAME_TOO_LARGE',
        `message of ${data.length} bytes exceeds maxBytesPerMessage (${this.options.maxBytesPerMessage})`,
      );
    }
  }

  /** Encodes once and queues to every peer synchronously (so sends keep their call order). */
  async #broadcast(frame: Frame): Promise<SendReport> {
    const buffers = this.#channel.encode(frame);
    const report: SendReport = { sent: [], failed: [] };
    let waits: Promise<void>[] | undefined;
    for (const peer of this.#peers().values()) {
      const peerId = peer.id;
      try {
        const wait = peer.connection.sendEncoded(buffers);
        if (!wait) report.sent.push(peerId);
        else {
          (waits ??= []).push(
            wait.then(
              () => void report.sent.push(peerId),
              (err) => void report.failed.push({ peerId, error: toMeshwireError(err) }),
            ),
          );
        }
      } catch (err) {
        report.failed.push({ peerId, error: toMeshwireError(err) });
      }
    }
    if (waits) await Promise.all(waits);
    return report;
  }

  async #dial(
    address: string,
    host: string,
    port: number,
    { signal, expectedId }: ConnectOptions,
  ): Promise<PeerRef> {
    if (this.#self.has(address)) {
      throw new MeshwireError('ERR_SELF_CONNECTION', `${address} is this node's own address`);
    }
    const already = this.#alreadyConnected(address, expectedId);
    if (already) return peerRef(already);
    let certifiedId: string | undefined;
    try {
      if (this.#peers().isFull()) {
        throw new MeshwireError(
          'ERR_MAX_PEERS',
          `cannot dial ${address}: already at MaxPeers (${this.options.maxPeers})`,
        );
      }
      const known = this.#book.get(address);
      const expected = expectedId ?? (known?.verified ? known.id : undefined);
      const deadline = Date.now() + this.options.connectionTimeoutMs;
      const timeout = AbortSignal.timeout(this.options.connectionTimeoutMs);
      const remote = await this.#channel
        .connect({
          host,
          port,
          address,
          ...(expected ? { expectedId: expected } : {}),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
          limits: this.#connectionLimits(),
        })
        .catch((err) => {
          throw timeout.aborted
            ? new MeshwireError(
                'ERR_CONNECT_TIMEOUT',
                `${address}: no connection within ${this.options.connectionTimeoutMs} ms`,
                { cause: err },
              )
            : err;
        });
      const id = remote.certifiedId;
      certifiedId = id;
      if (id) this.#dialingIds.set(id, (this.#dialingIds.get(id) ?? 0) + 1);
      try {
        const result = await this.#handshake(remote, deadline, () =>
          this.#channel.outbound(this.#handshakeContext(), remote),
        );
        return peerRef(result.peer);
      } finally {
        if (id) {
          const left = (this.#dialingIds.get(id) ?? 1) - 1;
          if (left > 0) this.#dialingIds.set(id, left);
          else this.#dialingIds.delete(id);
        }
      }
    } catch (err) {
      const error = toMeshwireError(err);
      // Our dial reached a peer that dialled us first: the certificate proved who listens at this
      // address, so that connection is the answer (as it was before an inbound peer's claimed
      // address stopped standing in for a dial), and the address is now bound to it.
      const existing =
        error.code === 'ERR_DUPLICATE_PEER' && certifiedId ? this.#table?.get(certifiedId) : undefined;
      if (existing?.direction === 'inbound' && (!expectedId || existing.id === expectedId)) {
        this.#book.recordDial(address, existing.id, Date.now());
        return peerRef(existing);
      }
      if (error.code === 'ERR_SELF_CONNECTION') this.#book.markSelf(address);
      else if (error.code !== 'ERR_DUPLICATE_PEER')
        this.#book.recordFailure(address, Date.now(), this.options.discoveryIntervalMs / 4);
      if (!this.#closed) this.#report({ type: 'connection-failed', address, error });
      throw error;
    }
  }

  /**
   * The connected peer a dial of `address` would reach, if that is known for certain: the peer
   * with `expectedId` (its certificate proved the ID, whatever address it came from), or a peer we
   * dialled at this very address. An inbound peer only claims the address it listens on, and a
   * claim never stands in for a dial: one peer must not be able to answer for another's address.
   * (Compat mode proves nothing, so there a claimed address is all there is.)
   */
  #alreadyConnected(address: string, expectedId: string | undefined): Peer | undefined {
    const table = this.#peers();
    if (expectedId) return table.get(expectedId);
    for (const peer of table.values()) {
      if (peer.address === address && (peer.direction === 'outbound' || this.mode === 'compat')) return peer;
    }
    return undefined;
  }

  #accept(socket: net.Socket): void {
    if (this.#closed || !this.#pending.add(socket)) {
      socket.destroy();
      return;
    }
    this.#track(socket);
    const deadline = Date.now() + this.options.connectionTimeoutMs;
    const address = formatAddress(normalizeHost(socket.remoteAddress ?? '?'), socket.remotePort ?? 0);
    // Covers the TLS handshake too: a connection that sends nothing is closed at the deadline, and
    // reported as a handshake timeout (not as the "closed" that the destroy makes it look like).
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.#pending.abort(socket);
    }, this.options.connectionTimeoutMs);
    socket.on('error', () => {
      // Reported through the handshake's failure below.
    });
    this.#channel
      .accept(socket, this.#connectionLimits(), (wrapped) => {
        this.#pending.wrapped(socket, wrapped);
        if (this.#sockets.has(socket)) this.#sockets.set(socket, wrapped);
      })
      .then((remote) =>
        this.#handshake(remote, deadline, () => this.#channel.inbound(this.#handshakeContext(), remote)),
      )
      .catch((err) => {
        // Closed on purpose to make room, like the excess refused above.
        if (this.#pending.wasEvicted(socket)) return;
        let error = toMeshwireError(err);
        if (timedOut && error.code !== 'ERR_HANDSHAKE_TIMEOUT') {
          error = new MeshwireError(
            'ERR_HANDSHAKE_TIMEOUT',
            `${address}: handshake not completed within ${this.options.connectionTimeoutMs} ms`,
            { cause: error },
          );
        }
        if (!this.#closed && error.code !== 'ERR_DUPLICATE_PEER' && error.code !== 'ERR_MAX_PEERS') {
          this.#report({ type: 'error', error, address });
        }
      })
      .finally(() => {
        clearTimeout(timer);
        this.#pending.release(socket);
      });
  }

  /** Runs a handshake under the connection timeout, then brings the peer online. */
  async #handshake(remote: Remote, deadline: number, run: () => Promise<Handshaken>): Promise<Handshaken> {
    const { connection } = remote;
    const timer = setTimeout(
      () =>
        connection.destroy(
          new MeshwireError(
            'ERR_HANDSHAKE_TIMEOUT',
            `${remote.address}: handshake not completed within ${this.options.connectionTimeoutMs} ms`,
          ),
        ),
      Math.max(0, deadline - Date.now()),
    );
    let result: Handshaken;
    try {
      result = await run();
    } catch (err) {
      connection.destroy(toMeshwireError(err));
      throw err;
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) {
      connection.destroy(new MeshwireError('ERR_CLOSED', 'node closed during handshake'));
      throw new MeshwireError('ERR_CLOSED', 'node closed during handshake');
    }
    this.#online(result);
    return result;
  }

  #online({ peer, replaced }: Handshaken): void {
    const { connection } = peer;
    this.#track(connection.socket);
    if (replaced) {
      // Lost the simultaneous-dial tie-break: the survivor takes over silently. The peer may have
      // sent messages on the old connection before it switched: those are still delivered.
      replaced.connection.retire((frame) => {
        if (frame.type === 'chat' || frame.type === 'bytes')
          handlePeerFrame(this.#core, this.#discovery, peer, frame);
      });
    }
    // peer-connected first, then the close handler (a connection that already ended reports its
    // disconnect after its connect), then the frames held since the hello: a chat that came in the
    // same segment as the hello must not be reported before its sender is.
    if (!replaced) {
      this.#report({
        type: 'peer-connected',
        peer: peerRef(peer),
        direction: peer.direction,
        peerCount: this.#peers().size,
        maxPeers: this.options.maxPeers,
      });
    }
    connection.setCloseHandler((error) => this.#drop(peer, closeReason(error), error));
    if (this.#pausedPeers.has(peer.id)) connection.setPaused(true);
    this.#discovery.onConnected(peer);
    // An early ping gives an RTT right away instead of after the first maintenance period
    // (secure mode only: compat keeps the original's exact sequence on the wire).
    if (this.mode === 'secure' && !peer.connection.closed) pingPeer(this.#core, peer, true);
    connection.setFrameHandler((frame) => handlePeerFrame(this.#core, this.#discovery, peer, frame));
  }

  #drop(peer: Peer, reason: string, error?: MeshwireError): void {
    // Removed before the destroy: destroying runs the close handler, which re-enters #drop, and the
    // re-entrant call must find the peer gone, or it reports its own generic reason instead of ours.
    const removed = this.#table?.remove(peer) ?? false;
    if (!peer.connection.closed) peer.connection.destroy(error);
    if (!removed) return;
    if (reason === 'protocol-error' || reason === 'write-timeout') {
      this.#report({
        type: 'error',
        error: error ?? new MeshwireError('ERR_MALFORMED_FRAME', reason),
        peer: peerRef(peer),
      });
    }
    this.#report({
      type: 'peer-disconnected',
      peer: peerRef(peer),
      reason,
      ...(error ? { error } : {}),
      peerCount: this.#peers().size,
    });
    // A peer that said goodbye left on purpose, and one that broke the protocol is not wanted
    // back: redial only those lost to a crash or a network failure.
    this.#discovery.onDisconnected(peer, NO_REDIAL_REASONS.has(reason));
  }

  #sendControl(peer: Peer, frame: Frame): void {
    try {
      peer.connection.write(frame, true);
    } catch (err) {
      this.#drop(peer, 'send-failed', toMeshwireError(err));
    }
  }

  #maintain(): void {
    const now = Date.now();
    for (const peer of [...this.#peers().values()]) {
      if (now - peer.lastSeen > this.options.peerTimeoutMs) {
        this.#report({ type: 'maintenance-cleanup', peer: peerRef(peer), reason: 'timeout' });
        this.#drop(
          peer,
          'timeout',
          new MeshwireError('ERR_PEER_TIMEOUT', `no frame from ${peer.name} for ${now - peer.lastSeen} ms`),
        );
      }
    }
    pingAll(this.#core, this.mode === 'secure');
  }

  #handshakeContext(): HandshakeContext {
    return this.#channel.context({
      selfHello: (connection) => ({
        type: 'hello',
        id: this.id,
        // PROTOCOL-compat.md: "when the user gave none, NAME is the ID" (`<id>:<id>`, never `<id>:`).
        name: this.name,
        listen: [this.#self.advertisedFor(connection.socket, this.#port)],
        version: 1,
        features: [],
      }),
      advertisedAddress: (connection) => this.#self.advertisedFor(connection.socket, this.#port),
      admit: (peer) => this.#admit(peer),
    });
  }

  /**
   * The peer table's admission, plus the simultaneous-dial rule applied early: an inbound
   * connection from a peer this node is dialling right now, when this node's ID is the lower one
   * (its own dial wins the tie-break), is refused as DUPLICATE at once. Admitting it only to
   * replace it a moment later would lose what the peer sent on it meanwhile: its side refuses the
   * losing connection and discards it.
   */
  #admit(peer: Peer): Admission {
    const table = this.#peers();
    if (
      peer.direction === 'inbound' &&
      !table.get(peer.id) &&
      this.id < peer.id &&
      (this.#dialing.has(peer.address) || this.#dialingIds.has(peer.id))
    ) {
      return {
        accept: false,
        reason: 'duplicate',
        message: `this node is dialling ${peer.id} too, and its own dial wins the tie-break`,
      };
    }
    return table.admit(peer);
  }

  #connectionLimits() {
    return {
      highWaterMark: this.options.sendHighWaterMark,
      maxQueueBytes: this.options.maxSendQueueBytes,
      writeTimeoutMs: this.options.writeTimeoutMs,
    };
  }

  #report(message: WithoutTime<MeshMessage>): void {
    // Every report site builds a fresh object: stamping it in place saves a copy per message.
    const full = message as MeshMessage;
    full.time = Date.now();
    this.emit(full.type, full as never);
    this.emit('message', full);
    for (const stream of this.#streams) stream.push(full);
  }

  /** Pauses or resumes reading from one peer, as the consumers of messages() need. */
  #updatePause(peerId: string | undefined): void {
    if (peerId === undefined) return;
    let over = false;
    for (const stream of this.#streams) if (stream.isOverHighWater(peerId)) over = true;
    if (over === this.#pausedPeers.has(peerId)) return;
    if (over) this.#pausedPeers.add(peerId);
    else this.#pausedPeers.delete(peerId);
    this.#table?.get(peerId)?.connection.setPaused(over);
  }
}

/** Longest close() waits for peers to take their last bytes and FIN before their sockets are destroyed. */
const CLOSE_GRACE_MS = 1000;

/** Creates a node and starts it. */
export async function createNode(options: NodeOptions = {}): Promise<P2PNode> {
  const node = new P2PNode(options);
  await node.start();
  return node;
}
