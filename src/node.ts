import { MeshwireError, toMeshwireError } from './errors.js';
import { Mesh } from './mesh/mesh.js';
import { MessageStream, type MessageStreamOptions } from './message-stream.js';
import type { MeshMessage, NodeEvents, PeerRef, SendReport, WithoutTime } from './messages.js';
import type { NodeMetrics } from './metrics/node-metrics.js';
import type { FamilySnapshot } from './metrics/registry.js';
import { resolveOptions, type Mode, type NodeOptions, type ResolvedOptions } from './options.js';
import type { NodeOverlayStats } from './mesh/overlay-driver.js';
import { TypedEmitter } from './typed-emitter.js';
import type { ConnectOptions, NetworkInfo } from './node-types.js';

export type { ConnectOptions, KnownPeerInfo, NetworkInfo, PeerInfo } from './node-types.js';

/** Resolved options of each node, kept off the public object (they hold the network key). */
const optionsOf = new WeakMap<P2PNode, ResolvedOptions>();

/** The resolved options of `node` (internal: tests and tools). */
export function nodeOptions(node: P2PNode): Readonly<ResolvedOptions> {
  return optionsOf.get(node) as ResolvedOptions;
}

/**
 * A meshwire node: listens, dials, keeps a full mesh with everyone it learns of (up to
 * `maxPeers`), and reports everything as typed messages: as events (`node.on('chat', …)`) and as
 * an async iterator with backpressure (`for await (const m of node.messages())`).
 *
 * This class is the public face: it validates arguments, and turns what the mesh reports into
 * events and message streams. The layers themselves are built and wired by `Mesh`
 * (src/mesh/mesh.ts); ARCHITECTURE.md draws them.
 */
export class P2PNode extends TypedEmitter<NodeEvents> {
  readonly #options: ResolvedOptions;
  readonly #mesh: Mesh;
  readonly #streams = new Set<MessageStream>();
  #listening: Promise<number> | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(options: NodeOptions = {}) {
    super();
    const resolved = resolveOptions(options);
    this.#options = resolved;
    optionsOf.set(this, resolved);
    this.#mesh = new Mesh(resolved, { report: (message) => this.#report(message) });
    this.setListenerErrorHandler((err) =>
      this.#report({ type: 'error', error: toMeshwireError(err, 'ERR_INVALID_ARGUMENT') }),
    );
  }

  /** This node's peer ID (secure mode: derived from its key, available after `start()`). */
  get id(): string {
    return this.#mesh.id;
  }

  /** Display name (the ID unless `name` was given). */
  get name(): string {
    return this.#options.name ?? this.id;
  }

  /** The bound TCP port (after `start()` / `listen()`). */
  get port(): number {
    return this.#mesh.port;
  }

  get mode(): Mode {
    return this.#options.mode;
  }

  /** Most connected peers (`maxPeers`). */
  get maxPeers(): number {
    return this.#options.maxPeers;
  }

  /**
   * With `overlay: true`, after `start()`: the overlay's active view (neighbours), passive view
   * (backups), learned candidates, the network-size estimate (`sizeEstimate`), every report
   * counted by kind (`reports`: what the overlay dropped), payloads relayed for others and the
   * relays blocked after a bad signature, for `/peers` and the application; otherwise `undefined`.
   */
  overlayStats(): NodeOverlayStats | undefined {
    return this.#mesh.overlayStats();
  }

  /**
   * Secure mode, after `start()`: signs data with this node's identity key (its ID is derived
   * from `publicKey`); `FileShare` signs its offers with it. `undefined` in compat mode.
   */
  get signer(): { readonly publicKey: Uint8Array; sign(data: Uint8Array): Uint8Array } | undefined {
    return this.#mesh.signer;
  }

  /** True when a network key is set (secure mode); the key itself is never exposed. */
  get hasNetworkKey(): boolean {
    return this.#mesh.hasNetworkKey;
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
    this.#listening ??= this.#mesh.listen().then((port) => {
      if (this.#closed) throw new MeshwireError('ERR_CLOSED', 'node closed while starting');
      return port;
    });
    return this.#listening;
  }

  /** Starts the periodic discovery and maintenance (heartbeat, stale-peer cleanup) timers. */
  startDiscoveryAndMaintenance(): void {
    if (!this.#closed) this.#mesh.startTimers();
  }

  /**
   * Connects to `address` (`host:port`) and completes the handshake. Resolves with the peer,
   * also when it is connected already (with `expectedId`: only the peer whose certificate
   * proved that ID).
   */
  connectToPeer(address: string, options: ConnectOptions = {}): Promise<PeerRef> {
    return this.#mesh.connect(address, options);
  }

  /** Bootstraps through `address` with retries; reports bootstrap-success / bootstrap-failed. */
  bootstrap(address: string, options: { signal?: AbortSignal } = {}): Promise<PeerRef> {
    return this.#mesh.bootstrap(address, options.signal);
  }

  /** Runs a discovery round now: asks every peer for its peers and dials known ones. */
  discover(): void {
    this.#mesh.discover();
  }

  // Every send below queues its frame synchronously, within the call: messages from one node to a
  // peer go on the wire in call order, whatever their kind (a deferred write would let a chat sent
  // later overtake a BYTES message sent earlier). Errors still come back as rejected promises.

  /** Sends a chat message to every connected peer. */
  broadcastMessage(text: string): Promise<SendReport> {
    if (typeof text !== 'string')
      return Promise.reject(new MeshwireError('ERR_INVALID_ARGUMENT', 'text must be a string'));
    return this.#mesh.broadcast({ type: 'chat', text });
  }

  /** Sends a BYTES message to every connected peer. */
  broadcastBytes(data: Uint8Array): Promise<SendReport> {
    try {
      this.#checkBytes(data);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#mesh.broadcast({ type: 'bytes', data });
  }

  /** Sends a BYTES message to one peer. Resolves once queued below the high-water mark. */
  sendBytesToPeer(peerId: string, data: Uint8Array): Promise<void> {
    try {
      this.#checkBytes(data);
      return this.#mesh.sendTo(peerId, { type: 'bytes', data });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Sends a chat message to one peer. */
  sendMessageToPeer(peerId: string, text: string): Promise<void> {
    try {
      if (typeof text !== 'string') throw new MeshwireError('ERR_INVALID_ARGUMENT', 'text must be a string');
      return this.#mesh.sendTo(peerId, { type: 'chat', text });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Closes the connection to one peer (with a goodbye in secure mode, so it does not redial).
   * Throws `ERR_UNKNOWN_PEER` if it is not connected.
   */
  disconnectPeer(peerId: string): void {
    this.#mesh.disconnectPeer(peerId);
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
    return this.#mesh.metricsRegistry(this);
  }

  /** Connected peers and known addresses. */
  getPeerInfo(): NetworkInfo {
    return this.#mesh.peerInfo();
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
    await this.#mesh.close();
    for (const stream of [...this.#streams]) stream.end(true);
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
    this.#mesh.setPaused(peerId, over);
  }
}

/** Creates a node and starts it. */
export async function createNode(options: NodeOptions = {}): Promise<P2PNode> {
  const node = new P2PNode(options);
  await node.start();
  return node;
}
