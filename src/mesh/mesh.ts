// Longer than most files (~600 lines) on purpose: it is the one place that knows every layer (the
// wiring of the narrow hosts is a third of it) and a peer's whole life (dial policy, online,
// route, disconnect); split further, that life would be scattered.
import { randomBytes, sign as edSign } from 'node:crypto';
import { parseAddress } from '../address.js';
import type { CodecLimits } from '../codec/codec.js';
import type { Frame } from '../codec/frame.js';
import { bootstrap } from '../discovery/bootstrap.js';
import { Discovery } from '../discovery/discovery.js';
import { LocalSources } from '../discovery/local-sources.js';
import { PeerExchange } from '../discovery/peer-exchange.js';
import { SelfAddresses } from '../discovery/self-addresses.js';
import { MeshwireError, toMeshwireError } from '../errors.js';
import type { DisconnectReason, MeshMessage, PeerRef, SendReport, WithoutTime } from '../messages.js';
import { NODE_OVERLAY_CORE, peersToPing } from './overlay-pacing.js';
import { OVERLAY_FEATURE, OverlayDriver, overlayTestHooks } from './overlay-driver.js';
import type { NodeOverlayStats } from './overlay-driver.js';
import { collectNodeMetrics, NodeMetrics, type CollectedNode } from '../metrics/node-metrics.js';
import type { ConnectOptions, NetworkInfo, PeerInfo } from '../node-types.js';
import type { ResolvedOptions } from '../options.js';
import { closeReason, NO_REDIAL_REASONS } from '../peers/disconnect-reason.js';
import { Heartbeat } from '../peers/heartbeat.js';
import { peerRef, PeerTable, type Peer } from '../peers/peer-table.js';
import { compatMode } from '../session/compat-mode.js';
import { Connector } from '../session/connector.js';
import type { Established } from '../session/handshake.js';
import { reachableListenAddress } from '../session/listen-address.js';
import { secureMode } from '../session/secure-mode.js';
import type { SessionMode } from '../session/session-mode.js';
import type { Session } from '../session/session.js';
import { tcpTransport } from '../transport/tcp.js';

/** What the mesh needs from the node above it: somewhere to report. */
export interface MeshHost {
  report(message: WithoutTime<MeshMessage>): void;
}

/**
 * The node's inside, below its public face: it builds the layers (connection setup, peer table
 * and heartbeat, discovery and its sources), keeps the mesh (who is connected, how a peer comes
 * online and leaves), routes every frame from a peer in one place ({@link Mesh.#route}), and
 * applies the node's dial policy. `P2PNode` validates the caller's arguments and turns what this
 * reports into events and message streams.
 */
export class Mesh {
  readonly #options: ResolvedOptions;
  readonly #host: MeshHost;
  readonly #mode: SessionMode;
  readonly #connector: Connector;
  #id: string | undefined;
  #table: PeerTable | undefined;
  readonly #discovery: Discovery;
  readonly #exchange: PeerExchange;
  readonly #heartbeat: Heartbeat;
  readonly #local: LocalSources;
  readonly #self: SelfAddresses;
  /** Peers whose messages a consumer of messages() is behind on: their sockets are paused. */
  readonly #pausedPeers = new Set<string>();
  readonly #timers: NodeJS.Timeout[] = [];
  #port = 0;
  #closed = false;
  /** Counted from the start for what only the inside sees (handshakes, dials, pauses). */
  readonly #metrics = new NodeMetrics();
  /** Message traffic is counted from the first use of the metrics on (it costs per message). */
  #metricsCollecting = false;
  /** What this node sent, as plain numbers (cheap on the send path), read into the metrics on render. */
  readonly #sent = { chat: { messages: 0, bytes: 0 }, bytes: { messages: 0, bytes: 0 } };
  /** The gossip overlay (option `overlay`), created once the identity is known. */
  #overlay: OverlayDriver | undefined;

  constructor(resolved: ResolvedOptions, host: MeshHost) {
    this.#options = resolved;
    this.#host = host;
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
        // With the overlay, it decides the connections: discovery only finds a first contact.
        freeSlots: () =>
          resolved.overlay ? (this.#peers().size === 0 ? 1 : 0) : resolved.maxPeers - this.#peers().size,
        isDialing: (address) => this.#connector.isDialing(address),
        dial: (address) => this.connect(address),
        report: (message) => this.#host.report(message),
      },
      resolved,
    );
    this.#self = new SelfAddresses(resolved, this.#discovery.book);
    this.#local = new LocalSources(this.#discovery, (error) => this.#host.report({ type: 'error', error }));
    this.#exchange = new PeerExchange(
      {
        peers: () => this.#peers().values(),
        isConnected: (address, id) => this.#isConnected(address, id),
        send: (peer, frame) => this.#sendControl(peer, frame),
        report: (message) => this.#host.report(message),
        debug: resolved.debug,
      },
      this.#discovery,
    );
    this.#heartbeat = new Heartbeat(
      {
        send: (peer, frame) => this.#sendControl(peer, frame),
        dropSilent: (peer, error) => this.#disconnect(peer, 'timeout', error),
        report: (message) => this.#host.report(message),
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
          name: this.#options.name ?? this.id,
          listen: [this.#self.advertisedFor(connection.localHost, this.#port)],
          version: 1,
          features: this.#options.overlay ? [OVERLAY_FEATURE] : [],
        }),
        advertisedAddress: (connection) => this.#self.advertisedFor(connection.localHost, this.#port),
        hasPeer: (id) => this.#peers().get(id) !== undefined,
        admit: (session) => this.#peers().admit(asPeer(session)),
        online: (result) => this.#online(result),
        inboundFailed: (address, error) => this.#host.report({ type: 'error', error, address }),
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
  }

  /** This node's peer ID (secure mode: known once listen() has loaded the identity). */
  get id(): string {
    if (!this.#id)
      throw new MeshwireError('ERR_NOT_STARTED', 'the node ID is known once start() has loaded the identity');
    return this.#id;
  }

  get port(): number {
    return this.#port;
  }

  /** Secure mode, after listen(): signs with the identity key (file offers); compat: undefined. */
  get signer(): { readonly publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array } | undefined {
    if (!this.#mode.identity || !this.#id) return undefined;
    const identity = this.#mode.identity();
    return { publicKey: identity.publicKeyRaw, sign: (data) => edSign(null, data, identity.privateKey) };
  }

  /** True when a network key is set; the key itself never leaves the session layer. */
  get hasNetworkKey(): boolean {
    return this.#options.networkKey !== undefined;
  }

  /** Loads the identity, listens, starts the local discovery sources; resolves with the port. */
  async listen(): Promise<number> {
    const id = await this.#mode.init();
    if (id) this.#setId(id);
    if (this.#closed) throw new MeshwireError('ERR_CLOSED', 'node closed while starting');
    this.#port = await this.#connector.listen();
    this.#self.rememberListening(this.#port);
    if (this.#options.overlay) this.#startOverlay();
    const { host, mode, lan, lanInterfaces, peerBookFile } = this.#options;
    const name = this.#options.name ?? this.id;
    this.#host.report({ type: 'system-start', id: this.id, name, host, port: this.#port, mode });
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
  startTimers(): void {
    if (this.#timers.length > 0 || this.#closed) return;
    const discovery = setInterval(() => this.discover(), this.#options.discoveryIntervalMs);
    const maintenance = setInterval(() => this.#maintain(), this.#options.maintenanceIntervalMs);
    discovery.unref();
    maintenance.unref();
    this.#timers.push(discovery, maintenance);
  }

  /** The heartbeat round; with the overlay, only of peers not heard from lately (overlay-pacing.ts). */
  #maintain(): void {
    const now = Date.now();
    const { maintenanceIntervalMs: period, peerTimeoutMs, overlay } = this.#options;
    const peers = this.#peers().values();
    this.#heartbeat.tick(overlay ? peersToPing(peers, now, period, peerTimeoutMs) : peers, now);
  }

  /** Dials `address` under the node's dial policy (see {@link Mesh.#dial}). */
  connect(address: string, options: ConnectOptions = {}): Promise<PeerRef> {
    if (this.#closed) return Promise.reject(new MeshwireError('ERR_CLOSED', 'node is closed'));
    try {
      const { host, port } = parseAddress(address);
      return this.#dial(address, host, port, options);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The bootstrap source: joins through `address` on the retry schedule. */
  bootstrap(address: string, signal?: AbortSignal): Promise<PeerRef> {
    parseAddress(address);
    return bootstrap(
      {
        isClosed: () => this.#closed,
        dial: (target, opts) => this.connect(target, opts),
        connectedAt: (target) => {
          const peer = [...this.#peers().values()].find((p) => p.address === target);
          return peer ? peerRef(peer) : undefined;
        },
        report: (message) => this.#host.report(message),
      },
      address,
      this.#options.bootstrapRetryMs,
      signal,
    );
  }

  /** A discovery round now: asks every peer for its peers and dials known ones. */
  discover(): void {
    this.#exchange.requestAll();
    this.#discovery.autoConnect(Number.MAX_SAFE_INTEGER);
  }

  /**
   * Sends a chat or bytes frame to every connected peer (encoded once), or, with the overlay,
   * to the whole overlay (the report names the neighbours that took the payload).
   */
  broadcast(frame: Frame): Promise<SendReport> {
    if (this.#overlay && (frame.type === 'chat' || frame.type === 'bytes')) {
      let report: SendReport;
      try {
        const payload = frame.type === 'chat' ? Buffer.from(frame.text, 'utf8') : frame.data;
        report = this.#overlay.broadcast(frame.type === 'chat' ? 0 : 1, payload);
        const counter = this.#sent[frame.type];
        counter.messages += report.sent.length;
        counter.bytes += payload.length * report.sent.length;
      } catch (err) {
        return Promise.reject(toMeshwireError(err));
      }
      // Direct peers that do not speak the overlay get the plain frame, as without the option.
      if (![...this.#peers().values()].some((p) => !speaksOverlay(p))) return Promise.resolve(report);
      return this.#broadcast(frame, (p) => !speaksOverlay(p)).then((direct) => ({
        sent: [...report.sent, ...direct.sent],
        failed: [...report.failed, ...direct.failed],
      }));
    }
    return this.#broadcast(frame);
  }

  /** The overlay's views and counters (option `overlay`), else undefined. */
  overlayStats(): NodeOverlayStats | undefined {
    return this.#overlay?.stats();
  }

  /** Queues a chat or bytes frame to one peer. */
  sendTo(peerId: string, frame: Extract<Frame, { type: 'chat' | 'bytes' }>): Promise<void> {
    const sent = this.#peerOrThrow(peerId).connection.send(frame);
    const counter = this.#sent[frame.type];
    counter.messages++;
    counter.bytes += frame.type === 'chat' ? Buffer.byteLength(frame.text) : frame.data.length;
    return sent;
  }

  /** Closes the connection to one peer with a goodbye (secure mode), so it does not redial. */
  disconnectPeer(peerId: string): void {
    this.#disconnect(this.#peerOrThrow(peerId), 'local-close');
  }

  /**
   * The metric families; traffic is counted from the first call on, from `node`'s events (the
   * public face that reports what this mesh does).
   */
  metricsRegistry(node: CollectedNode): NodeMetrics {
    if (!this.#metricsCollecting) {
      this.#metricsCollecting = true;
      const m = this.#metrics;
      collectNodeMetrics(node, m);
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
  peerInfo(): NetworkInfo {
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
    const { maxPeers, mode } = this.#options;
    const name = this.#options.name ?? this.id;
    return { id: this.id, name, port: this.#port, mode, maxPeers, peers, known };
  }

  /** Pauses or resumes reading from one peer (a consumer of messages() is behind on it). */
  setPaused(peerId: string, paused: boolean): void {
    if (paused === this.#pausedPeers.has(peerId)) return;
    if (paused) {
      this.#pausedPeers.add(peerId);
      this.#metrics.hooks.backpressurePause();
    } else this.#pausedPeers.delete(peerId);
    this.#table?.get(peerId)?.connection.setPaused(paused);
  }

  /** Closes every connection (peers see the disconnect at once), the sources and the listener. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#discovery.stop();
    this.#overlay?.close();
    if (this.#table) for (const peer of [...this.#table.values()]) this.#disconnect(peer, 'local-close');
    await Promise.all([
      this.#local.close().catch((err) => this.#host.report({ type: 'error', error: toMeshwireError(err) })),
      this.#connector.close(this.#options.writeTimeoutMs),
    ]);
  }

  #setId(id: string): void {
    this.#id = id;
    // With the overlay, maxPeers bounds its active view; the slack lets a full node still take
    // the short-lived connections of joins and shuffles, which the overlay closes again.
    const slack = this.#options.overlay ? OVERLAY_CONNECTION_SLACK : 0;
    this.#table = new PeerTable(id, this.#options.maxPeers + slack);
  }

  #startOverlay(): void {
    const signer = this.signer;
    if (!signer) throw new MeshwireError('ERR_INVALID_OPTION', 'option overlay needs secure mode');
    const { host, advertiseHost } = this.#options;
    const wildcard = host === '0.0.0.0' || host === '::';
    this.#overlay = new OverlayDriver(
      {
        peer: (id) => this.#table?.get(id),
        peers: () => this.#peers().values(),
        dial: (address, expectedId) => this.connect(address, { expectedId }),
        disconnect: (id) => {
          const peer = this.#table?.get(id);
          if (peer) this.#disconnect(peer, 'local-close');
        },
        dropPeer: (peer, error, malformed) =>
          this.#disconnect(peer, malformed ? 'protocol-error' : 'send-failed', error),
        report: (message) => this.#host.report(message),
        knownPeers: () => {
          const book = this.#discovery.book;
          const known: { id: string; address: string; verified: boolean }[] = [];
          for (const e of book.values()) {
            if (e.id && !book.isSelf(e.address))
              known.push({ id: e.id, address: e.address, verified: e.verified });
          }
          return known;
        },
      },
      {
        selfId: this.id,
        // Bound to a wildcard without advertiseHost, this node cannot know its address: peers fill
        // in the one its hello advertised on their connection.
        selfAddress: advertiseHost || !wildcard ? this.#self.advertisedFor(host, this.#port) : '',
        signer,
        maxPeers: this.#options.maxPeers,
        maxPayloadBytes: this.#options.maxBytesPerMessage,
        core: NODE_OVERLAY_CORE,
        testHook: overlayTestHooks.get(this.#options),
      },
    );
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

  /** Encodes once and queues to every peer synchronously (so sends keep their call order). */
  async #broadcast(frame: Frame, only?: (peer: Peer) => boolean): Promise<SendReport> {
    const buffers = this.#mode.encode(frame);
    const report: SendReport = { sent: [], failed: [] };
    const counter = frame.type === 'chat' ? this.#sent.chat : this.#sent.bytes;
    const size =
      frame.type === 'chat' ? Buffer.byteLength(frame.text) : frame.type === 'bytes' ? frame.data.length : 0;
    let waits: Promise<void>[] | undefined;
    for (const peer of this.#peers().values()) {
      if (only && !only(peer)) continue;
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
      if (!this.#closed) this.#host.report({ type: 'connection-failed', address, error });
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
      if (peer.address === address && (peer.direction === 'outbound' || this.#options.mode === 'compat'))
        return peer;
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
      this.#host.report({
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
    if (this.#options.mode === 'secure' && !connection.closed) this.#heartbeat.ping(peer, Date.now());
    connection.setFrameHandler((frame) => this.#route(peer, frame));
    if (this.#overlay && !replaced && !connection.closed && speaksOverlay(peer)) {
      this.#overlay.peerUp(peer);
    }
  }

  /** Every frame from a connected peer comes here. Anything out of place drops that peer, never the node. */
  #route(peer: Peer, frame: Frame): void {
    const now = Date.now();
    this.#heartbeat.heard(peer, now);
    switch (frame.type) {
      case 'chat':
        return this.#host.report({ type: 'chat', from: peerRef(peer), text: frame.text });
      case 'bytes':
        return this.#host.report({ type: 'bytes', from: peerRef(peer), data: frame.data });
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
      case 'overlay':
        if (this.#overlay) return this.#overlay.frame(peer, frame.body);
        return this.#disconnect(
          peer,
          'protocol-error',
          new MeshwireError(
            'ERR_UNEXPECTED_FRAME',
            'overlay frame, but this node did not enable the overlay',
          ),
        );
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
      if (this.#options.mode === 'secure') {
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
    this.#overlay?.peerDown(peer.id);
    if (reason === 'protocol-error' || reason === 'write-timeout') {
      this.#host.report({
        type: 'error',
        error: error ?? new MeshwireError('ERR_MALFORMED_FRAME', reason),
        peer: peerRef(peer),
      });
    }
    this.#host.report({
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
}

function speaksOverlay(peer: Peer): boolean {
  return peer.features?.includes(OVERLAY_FEATURE) ?? false;
}

/** Connections allowed beyond maxPeers with the overlay on (see {@link Mesh.#setId}). */
const OVERLAY_CONNECTION_SLACK = 4;

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
