import { randomBytes } from 'node:crypto';
import { parseAddress } from './address.js';
import type { CodecLimits } from './codec/codec.js';
import type { Frame } from './codec/frame.js';
import { bootstrap } from './discovery/bootstrap.js';
import { Discovery } from './discovery/discovery.js';
import { LocalSources } from './discovery/local-sources.js';
import { PeerExchange } from './discovery/peer-exchange.js';
import { SelfAddresses } from './discovery/self-addresses.js';
import { MeshwireError, toMeshwireError } from './errors.js';
import { MessageStream, type MessageStreamOptions } from './message-stream.js';
import { collectNodeMetrics, NodeMetrics } from './metrics/node-metrics.js';
import type { FamilySnapshot } from './metrics/registry.js';
import type {
  DisconnectReason,
  MeshMessage,
  NodeEvents,
  PeerRef,
  SendReport,
  WithoutTime,
} from './messages.js';
import { resolveOptions, type Mode, type NodeOptions, type ResolvedOptions } from './options.js';
import { closeReason, NO_REDIAL_REASONS } from './peers/disconnect-reason.js';
import { Heartbeat } from './peers/heartbeat.js';
import { peerRef, PeerTable, type Peer } from './peers/peer-table.js';
import { compatMode } from './session/compat-mode.js';
import { secureMode } from './session/secure-mode.js';
import type { SessionMode } from './session/session-mode.js';
import { tcpTransport } from './transport/tcp.js';
import { Connector } from './session/connector.js';
import type { Established } from './session/handshake.js';
import { reachableListenAddress } from './session/listen-address.js';
import type { Session } from './session/session.js';
import { TypedEmitter } from './typed-emitter.js';
import type { ConnectOptions, NetworkInfo, PeerInfo } from './node-types.js';

export type { ConnectOptions, KnownPeerInfo, NetworkInfo, PeerInfo } from './node-types.js';

/** Resolved options of each node, kept off the public object (they hold the network key). */
const optionsOf = new WeakMap<P2PNode, ResolvedOptions>();

/** The resolved options of `node` (internal: tests and the CLI's own reporting). */
export function nodeOptions(node: P2PNode): Readonly<ResolvedOptions> {
  return optionsOf.get(node) as ResolvedOptions;
}

/**
 * A meshwire node: listens, dials, keeps a full mesh with everyone it learns of (up to
 * `maxPeers`), and reports everything as typed messages: as events (`node.on('chat', …)`) and as
 * an async iterator with backpressure (`for await (const m of node.messages())`).
 *
 * It wires the layers together and is their public face: connection setup (`Connector`), the
 * peer table and heartbeat, discovery with its sources (peer exchange, bootstrap), and the
 * message streams. Frames from peers are routed in one place, {@link P2PNode.#route}.
 */
export class P2PNode extends TypedEmitter<NodeEvents> {
  readonly #options: ResolvedOptions;
  readonly #mode: SessionMode;
  readonly #connector: Connector;
  #id: string | undefined;
  #table: PeerTable | undefined;
  readonly #discovery: Discovery;
  readonly #exchange: PeerExchange;
  readonly #heartbeat: Heartbeat;
  readonly #local: LocalSources;
  readonly #self: SelfAddresses;
  readonly #streams = new Set<MessageStream>();
  /** Peers whose messages a consumer of messages() is behind on: their sockets are paused. */
  readonly #pausedPeers = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  #listening: Promise<number> | undefined;
  #port = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Counted from the start for what only the inside sees (handshakes, dials, pauses). */
  readonly #metrics = new NodeMetrics();
  /** Message traffic is counted from the first use of the metrics on (it costs per message). */
  #metricsCollecting = false;
  /** What this node sent, as plain numbers (cheap on the send path), read into the metrics on render. */
  readonly #sent = { chat: { messages: 0, bytes: 0 }, bytes: { messages: 0, bytes: 0 } };

  constructor(options: NodeOptions = {}) {
    super();
    const resolved = resolveOptions(options);
    this.#options = resolved;
    optionsOf.set(this, resolved);
    const limits: CodecLimits = {
      maxBytesPerMessage: resolved.maxBytesPerMessage,
      maxLineBytes: resolved.maxLineBytes,
      maxPeersPerFrame: Math.max(1000, resolved.maxPeers * 2),
    };
    const transport = resolved.transport ?? tcpTransport;
    this.#mode =
      resolved.mode === 'compat' ? compatMode(limits, transport) : secureMode(limits, resolved, transport);
    if (resolved.mode === 'compat') this.#setId(randomBytes(16).toString('hex'));
    this.#discovery = new Discovery(
      {
        isClosed: () => this.#closed,
        selfId: () => this.id,
        selfPort: () => this.#port,
        isSelfAddress: (address) => this.#self.has(address),
        isConnected: (address, id) => this.#isConnected(address, id),
        freeSlots: () => resolved.maxPeers - this.#peers().size,
        isDialing: (address) => this.#connector.isDialing(address),
        dial: (address) => this.connectToPeer(address),
        report: (message) => this.#report(message),
      },
      resolved,
    );
    this.#self = new SelfAddresses(resolved, this.#discovery.book);
    this.#local = new LocalSources(this.#discovery, (error) => this.#report({ type: 'error', error }));
    this.#exchange = new PeerExchange(
      {
        peers: () => this.#peers().values(),
        isConnected: (address, id) => this.#isConnected(address, id),
        send: (peer, frame) => this.#sendControl(peer, frame),
        report: (message) => this.#report(message),
        debug: resolved.debug,
      },
      this.#discovery,
    );
    this.#heartbeat = new Heartbeat(
      {
        send: (peer, frame) => this.#sendControl(peer, frame),
        dropSilent: (peer, error) => this.#disconnect(peer, 'timeout', error),
        report: (message) => this.#report(message),
      },
      {
        peerTimeoutMs: resolved.peerTimeoutMs,
        // Compat keeps the original's exact PING line; native pings carry a nonce for RTT.
        withNonce: resolved.mode === 'secure',
        backedUpBytes: resolved.sendHighWaterMark,
        debug: resolved.debug,
      },
    );
    this.#connector = new Connector(
      this.#mode,
      transport,
      {
        isClosed: () => this.#closed,
        selfId: () => this.id,
        hello: (connection) => ({
          type: 'hello',
          id: this.id,
          // PROTOCOL-compat.md: "when the user gave none, NAME is the ID" (`<id>:<id>`, never `<id>:`).
          name: this.name,
          listen: [this.#self.advertisedFor(connection.localHost, this.#port)],
          version: 1,
          features: [],
        }),
        advertisedAddress: (connection) => this.#self.advertisedFor(connection.localHost, this.#port),
        hasPeer: (id) => this.#peers().get(id) !== undefined,
        admit: (session) => this.#peers().admit(asPeer(session)),
        online: (result) => this.#online(result),
        inboundFailed: (address, error) => this.#report({ type: 'error', error, address }),
        handshakeDone: (direction, ms, error) => this.#metrics.hooks.handshake(direction, ms, error?.code),
      },
      {
        host: resolved.host,
        port: resolved.port,
        connectionTimeoutMs: resolved.connectionTimeoutMs,
        maxPendingHandshakes: resolved.maxPendingHandshakes,
        limits: {
          highWaterMark: resolved.sendHighWaterMark,
          maxQueueBytes: resolved.maxSendQueueBytes,
          writeTimeoutMs: resolved.writeTimeoutMs,
        },
      },
    );
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
    return this.#options.name ?? this.id;
  }

  /** The bound TCP port (after `start()` / `listen()`). */
  get port(): number {
    return this.#port;
  }

  get mode(): Mode {
    return this.#options.mode;
  }

  /** Most connected peers (`maxPeers`). */
  get maxPeers(): number {
    return this.#options.maxPeers;
  }

  /** True when a network key is set (secure mode); the key itself is never exposed. */
  get hasNetworkKey(): boolean {
    return this.#options.networkKey !== undefined;
  }

  get maxBytesPerMessage(): number {
    return this.#options.maxBytesPerMessage;
  }

  /** Listens, starts discovery and maintenance, and bootstraps (in the background) if configured. */
  async start(): Promise<void> {
    await this.listen();
    this.startDiscoveryAndMaintenance();
    if (this.#options.bootstrap) {
      this.bootstrap(this.#options.bootstrap).catch(() => {
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
    const id = await this.#mode.init();
    if (id) this.#setId(id);
    if (this.#closed) throw new MeshwireError('ERR_CLOSED', 'node closed while starting');
    this.#port = await this.#connector.listen();
    this.#self.rememberListening(this.#port);
    const { host, mode, lan, lanInterfaces, peerBookFile } = this.#options;
    this.#report({ type: 'system-start', id: this.id, name: this.name, host, port: this.#port, mode });
    const networkKey = this.#mode.networkKey?.();
    await this.#local.start({
      mode,
      port: this.#port,
      id: this.id,
      ...(this.#mode.identity ? { identity: this.#mode.identity() } : {}),
      ...(networkKey ? { networkKey } : {}),
      lan,
      ...(lanInterfaces ? { lanInterfaces } : {}),
      ...(peerBookFile ? { peerBookFile } : {}),
    });
    return this.#port;
  }

  /** Starts the periodic discovery and maintenance (heartbeat, stale-peer cleanup) timers. */
  startDiscoveryAndMaintenance(): void {
    if (this.#timers.length > 0 || this.#closed) return;
    const discovery = setInterval(() => this.discover(), this.#options.discoveryIntervalMs);
    const maintenance = setInterval(
      () => this.#heartbeat.tick(this.#peers().values(), Date.now()),
      this.#options.maintenanceIntervalMs,
    );
    discovery.unref();
    maintenance.unref();
    this.#timers.push(discovery, maintenance);
  }

  /**
   * Connects to `address` (`host:port`) and completes the handshake. Resolves with the peer,
   * also when it is connected already (with `expectedId`: only the peer whose certificate
   * proved that ID).
   */
  connectToPeer(address: string, options: ConnectOptions = {}): Promise<PeerRef> {
    if (this.#closed) return Promise.reject(new MeshwireError('ERR_CLOSED', 'node is closed'));
    try {
      const { host, port } = parseAddress(address);
      return this.#dial(address, host, port, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Bootstraps through `address` with retries; reports bootstrap-success / bootstrap-failed. */
  bootstrap(address: string, options: { signal?: AbortSignal } = {}): Promise<PeerRef> {
    parseAddress(address);
    return bootstrap(
      {
        isClosed: () => this.#closed,
        dial: (target, opts) => this.connectToPeer(target, opts),
        connectedAt: (target) => {
          const peer = [...this.#peers().values()].find((p) => p.address === target);
          return peer ? peerRef(peer) : undefined;
        },
        report: (message) => this.#report(message),
      },
      address,
      this.#options.bootstrapRetryMs,
      options.signal,
    );
  }

  /** Runs a discovery round now: asks every peer for its peers and dials known ones. */
  discover(): void {
    this.#exchange.requestAll();
    this.#discovery.autoConnect(Number.MAX_SAFE_INTEGER);
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
      const sent = this.#peerOrThrow(peerId).connection.send({ type: 'bytes', data });
      this.#sent.bytes.messages++;
      this.#sent.bytes.bytes += data.length;
      return sent;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends a chat message to one peer. */
  sendMessageToPeer(peerId: string, text: string): Promise<void> {
    try {
      if (typeof text !== 'string') throw new MeshwireError('ERR_INVALID_ARGUMENT', 'text must be a string');
      const sent = this.#peerOrThrow(peerId).connection.send({ type: 'chat', text });
      this.#sent.chat.messages++;
      this.#sent.chat.bytes += Buffer.byteLength(text);
      return sent;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Closes the connection to one peer (with a goodbye in secure mode, so it does not redial).
   * Throws `ERR_UNKNOWN_PEER` if it is not connected.
   */
  disconnectPeer(peerId: string): void {
    this.#disconnect(this.#peerOrThrow(peerId), 'local-close');
  }

  /**
   * The node's metrics as plain data: peers, connections opened and failed by error code,
   * handshake and RTT histograms, messages and bytes by type in and out, send-queue high water,
   * backpressure pauses, dials. Message traffic is counted from the first call (or the first use
   * of {@link P2PNode.metricsRegistry}) on; the rest from the start.
   */
  metrics(): Record<string, FamilySnapshot> {
    return this.metricsRegistry.snapshot();
  }

  /** The metric families themselves, for `startDashboard` / `startMetricsServer` and Prometheus text. */
  get metricsRegistry(): NodeMetrics {
    if (!this.#metricsCollecting) {
      this.#metricsCollecting = true;
      const m = this.#metrics;
      collectNodeMetrics(this, m);
      m.sendHooksWired = true;
      const counted = { chat: { messages: 0, bytes: 0 }, bytes: { messages: 0, bytes: 0 } };
      m.registry.beforeRender(() => {
        for (const type of ['chat', 'bytes'] as const) {
          const now = this.#sent[type];
          const was = counted[type];
          m.messagesSent.inc([type], now.messages - was.messages);
          m.sentBytes.inc([type], now.bytes - was.bytes);
          counted[type] = { ...now };
        }
        if (this.#table) {
          for (const peer of this.#table.values()) {
            const t = m.traffic.get(peer.id);
            if (t) t.bytesOut = peer.connection.bytesSent;
          }
        }
      });
    }
    return this.#metrics;
  }

  /** Connected peers and known addresses. */
  getPeerInfo(): NetworkInfo {
    const table = this.#peers();
    const peers = [...table.values()].map((p): PeerInfo => ({
      ...peerRef(p),
      direction: p.direction,
      connectedAt: p.connectedAt,
      lastSeen: p.lastSeen,
      ...(p.rttMs !== undefined ? { rttMs: p.rttMs } : {}),
      bytesIn: p.connection.bytesReceived,
      bytesOut: p.connection.bytesSent,
    }));
    const known = [...this.#discovery.book.values()].map((k) => ({
      address: k.address,
      ...(k.id ? { id: k.id } : {}),
      verified: k.verified,
      source: k.source,
      firstSeen: k.firstSeen,
      connected: table.hasAddress(k.address) || (k.id !== undefined && table.get(k.id) !== undefined),
    }));
    const { maxPeers } = this.#options;
    return { id: this.id, name: this.name, port: this.#port, mode: this.mode, maxPeers, peers, known };
  }

  /**
   * Every message this node reports, as an async iterator. A consumer that falls behind pauses
   * the sockets of the peers it is behind on (backpressure) instead of losing messages; `break`
   * or the signal ends it.
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
    if (this.#table) for (const peer of [...this.#table.values()]) this.#disconnect(peer, 'local-close');
    await Promise.all([
      this.#local.close().catch((err) => this.#report({ type: 'error', error: toMeshwireError(err) })),
      this.#connector.close(this.#options.writeTimeoutMs),
    ]);
    for (const stream of [...this.#streams]) stream.end(true);
  }

  #setId(id: string): void {
    this.#id = id;
    this.#table = new PeerTable(id, this.#options.maxPeers);
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

  #isConnected(address: string, id?: string): boolean {
    const table = this.#peers();
    return table.hasAddress(address) || (id !== undefined && table.get(id) !== undefined);
  }

  #checkBytes(data: Uint8Array): void {
    if (!(data instanceof Uint8Array))
      throw new MeshwireError('ERR_INVALID_ARGUMENT', 'data must be a Uint8Array');
    if (data.length > this.#options.maxBytesPerMessage) {
      throw new MeshwireError(
        'ERR_FRAME_TOO_LARGE',
        `message of ${data.length} bytes exceeds maxBytesPerMessage (${this.#options.maxBytesPerMessage})`,
      );
    }
  }

  /** Encodes once and queues to every peer synchronously (so sends keep their call order). */
  async #broadcast(frame: Frame): Promise<SendReport> {
    const buffers = this.#mode.encode(frame);
    const report: SendReport = { sent: [], failed: [] };
    const counter = frame.type === 'chat' ? this.#sent.chat : this.#sent.bytes;
    const size =
      frame.type === 'chat' ? Buffer.byteLength(frame.text) : frame.type === 'bytes' ? frame.data.length : 0;
    let waits: Promise<void>[] | undefined;
    for (const peer of this.#peers().values()) {
      const peerId = peer.id;
      try {
        const wait = peer.connection.sendEncoded(buffers);
        counter.messages++;
        counter.bytes += size;
        if (!wait) report.sent.push(peerId);
        else {
          this.#metrics.hooks.sendQueueBytes(peer.connection.queuedBytes);
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

  /** The node's dial policy around connection setup: who may be dialled, and what a result means. */
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
    try {
      if (this.#peers().isFull()) {
        throw new MeshwireError(
          'ERR_MAX_PEERS',
          `cannot dial ${address}: already at MaxPeers (${this.#options.maxPeers})`,
        );
      }
      const known = this.#discovery.book.get(address);
      const expected = expectedId ?? (known?.verified ? known.id : undefined);
      const result = await this.#connector.dial(address, host, port, {
        ...(signal ? { signal } : {}),
        ...(expected ? { expectedId: expected } : {}),
      });
      this.#metrics.hooks.dial();
      return peerRef(result.peer);
    } catch (err) {
      const error = toMeshwireError(err);
      // Our dial reached a peer that dialled us first: the certificate proved who listens at this
      // address, so that connection is the answer (as it was before an inbound peer's claimed
      // address stopped standing in for a dial), and the address is now bound to it.
      const existing = error.code === 'ERR_DUPLICATE_PEER' ? duplicateOf(error, this.#table) : undefined;
      if (existing?.direction === 'inbound' && (!expectedId || existing.id === expectedId)) {
        this.#discovery.book.recordDial(address, existing.id, Date.now());
        return peerRef(existing);
      }
      this.#metrics.hooks.dial(error.code);
      if (error.code !== 'ERR_DUPLICATE_PEER')
        this.#discovery.onDialFailed(address, error.code === 'ERR_SELF_CONNECTION');
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

  #online({ peer: session, replaced }: Established): void {
    const peer = asPeer(session);
    const { connection } = peer;
    if (replaced) {
      // Lost the simultaneous-dial tie-break: the survivor takes over silently. The peer may have
      // sent messages on the old connection before it switched: those are still delivered.
      replaced.connection.retire((frame) => {
        if (frame.type === 'chat' || frame.type === 'bytes') this.#route(peer, frame);
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
        maxPeers: this.#options.maxPeers,
      });
    }
    connection.setCloseHandler((error) => this.#disconnect(peer, closeReason(error), error));
    if (this.#pausedPeers.has(peer.id)) connection.setPaused(true);
    this.#exchange.onConnected(peer, this.#discovery.onConnected(peer));
    if (peer.direction === 'outbound') this.#local.recordDial(peer.address, peer.id);
    // An early ping gives an RTT right away instead of after the first maintenance period
    // (secure mode only: compat keeps the original's exact sequence on the wire).
    if (this.mode === 'secure' && !connection.closed) this.#heartbeat.ping(peer, Date.now());
    connection.setFrameHandler((frame) => this.#route(peer, frame));
  }

  /** Every frame from a connected peer comes here. Anything out of place drops that peer, never the node. */
  #route(peer: Peer, frame: Frame): void {
    const now = Date.now();
    this.#heartbeat.heard(peer, now);
    switch (frame.type) {
      case 'chat':
        return this.#report({ type: 'chat', from: peerRef(peer), text: frame.text });
      case 'bytes':
        return this.#report({ type: 'bytes', from: peerRef(peer), data: frame.data });
      case 'ping':
        return this.#heartbeat.onPing(peer, frame);
      case 'pong':
        return this.#heartbeat.onPong(peer, frame, now);
      case 'request-peers':
        return this.#exchange.onRequest(peer, peer.connection.queuedBytes > this.#options.sendHighWaterMark);
      case 'peers':
        return this.#exchange.onPeers(peer, frame);
      case 'listen':
        // A LISTEN line that arrived after the hello was answered: now we know where it listens.
        return this.#updateAddress(peer, reachableListenAddress(frame.address, peer.remoteAddress));
      case 'goodbye':
        return this.#disconnect(
          peer,
          'goodbye',
          new MeshwireError('ERR_CONNECTION_CLOSED', `peer said goodbye: ${frame.reason}`),
        );
      default:
        return this.#disconnect(
          peer,
          'protocol-error',
          new MeshwireError('ERR_UNEXPECTED_FRAME', `unexpected ${frame.type} frame after the handshake`),
        );
    }
  }

  #updateAddress(peer: Peer, address: string): void {
    if (peer.address === address) return;
    this.#peers().setAddress(peer, address);
    peer.advertised = true;
    this.#discovery.book.recordClaim(address, peer.id, Date.now(), peer.id);
  }

  /**
   * The one way a peer leaves: removed from the table, its connection closed (`local-close`: a
   * goodbye in secure mode, then a graceful end; otherwise at once, with the error), reported,
   * and redialled when it was lost to a crash or a network failure.
   */
  #disconnect(peer: Peer, reason: DisconnectReason, error?: MeshwireError): void {
    // Removed before the close: closing runs the close handler, which re-enters here, and the
    // re-entrant call must find the peer gone, or it reports its own generic reason instead of ours.
    const removed = this.#table?.remove(peer) ?? false;
    if (reason === 'local-close' && !peer.connection.closed) {
      if (this.mode === 'secure') {
        try {
          peer.connection.write({ type: 'goodbye', reason: this.#closed ? 'shutdown' : 'disconnect' }, true);
        } catch {
          // A peer whose queue is full gets no goodbye; leaving must not throw because of it.
        }
      }
      peer.connection.end();
    } else if (!peer.connection.closed) {
      peer.connection.destroy(error);
    }
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
    this.#discovery.onDisconnected(peer, !NO_REDIAL_REASONS.has(reason));
  }

  #sendControl(peer: Peer, frame: Frame): void {
    try {
      peer.connection.write(frame, true);
    } catch (err) {
      this.#disconnect(peer, 'send-failed', toMeshwireError(err));
    }
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
    if (over) {
      this.#pausedPeers.add(peerId);
      this.#metrics.hooks.backpressurePause();
    } else this.#pausedPeers.delete(peerId);
    this.#table?.get(peerId)?.connection.setPaused(over);
  }
}

/**
 * A session becomes a peer when the table admits it: the same object, with liveness added, so
 * that what the handshake returns is what the table holds.
 */
function asPeer(session: Session): Peer {
  const peer = session as Peer;
  if (peer.connectedAt === undefined) {
    const now = Date.now();
    peer.connectedAt = now;
    peer.lastSeen = now;
  }
  return peer;
}

/** The connected peer a DUPLICATE refusal of our dial was about (the ID the dial proved). */
function duplicateOf(error: MeshwireError, table: PeerTable | undefined): Peer | undefined {
  return error.peerId ? table?.get(error.peerId) : undefined;
}

/** Creates a node and starts it. */
export async function createNode(options: NodeOptions = {}): Promise<P2PNode> {
  const node = new P2PNode(options);
  await node.start();
  return node;
}
