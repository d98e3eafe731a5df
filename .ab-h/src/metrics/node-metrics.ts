/**
 * The metric families of one meshwire node, the public-event collector that fills most of them,
 * and the {@link MetricsHooks} the node core calls for what only it can see.
 */
import type { ErrorCode } from '../errors.js';
import type { FrameType } from '../codec/frame.js';
import type { Direction, MeshMessage, MessageType, NodeEvents } from '../messages.js';
import type { FileReceiverEvents } from '../files/types.js';
import { Registry, type Counter, type FamilySnapshot, type Gauge, type Histogram } from './registry.js';

/** Histogram buckets of handshake durations, in seconds. */
export const HANDSHAKE_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Histogram buckets of round-trip times, in seconds. */
export const RTT_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** How often the collector samples each peer's RTT from `getPeerInfo()`, in ms. */
export const DEFAULT_RTT_SAMPLE_INTERVAL_MS = 5_000;

/**
 * What only the node's inside knows. The node core calls these (cheap, synchronous, never
 * throwing); until it does, the families they feed stay at zero.
 */
export interface MetricsHooks {
  /** A handshake ended after `durationMs`; `error` is the failure's code, absent on success. */
  handshake(direction: Direction, durationMs: number, error?: ErrorCode): void;
  /** A dial was attempted; `error` is the failure's code, absent once connected. */
  dial(error?: ErrorCode): void;
  /** A frame of `type` and `bytes` on the wire was handed to `peerId`'s send queue. */
  frameSent(peerId: string, type: FrameType, bytes: number): void;
  /** A send queue now holds `bytes`; the highest value is kept. */
  sendQueueBytes(bytes: number): void;
  /** Reading from the sockets was paused because a consumer fell behind. */
  backpressurePause(): void;
}

/** The message types {@link NodeMetrics.onMessage} counts. */
export const COUNTED_TYPES: readonly MessageType[] = [
  'peer-connected',
  'peer-disconnected',
  'connection-failed',
  'bootstrap-failed',
  'error',
  'peers-discovered',
  'pong',
  'chat',
  'bytes',
];

/** Payload bytes of a message as counted in `meshwire_received_bytes_total`. */
function payloadBytes(m: MeshMessage): number {
  if (m.type === 'chat') return Buffer.byteLength(m.text, 'utf8');
  if (m.type === 'bytes') return m.data.byteLength;
  return 0;
}

/** Traffic of one connected peer, for the dashboard's table (never exported as labels). */
export interface PeerTraffic {
  bytesIn: number;
  bytesOut: number;
  messagesIn: number;
  messagesOut: number;
}

/** Every family of a node, by role. Names follow Prometheus conventions (see README "Metrics"). */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly peers: Gauge;
  readonly knownPeers: Gauge;
  readonly peersConnected: Counter;
  readonly peersDisconnected: Counter;
  readonly connectionsFailed: Counter;
  readonly errors: Counter;
  readonly messagesReceived: Counter;
  readonly receivedBytes: Counter;
  readonly messagesSent: Counter;
  readonly sentBytes: Counter;
  readonly peersDiscovered: Counter;
  readonly handshakeSeconds: Histogram;
  readonly rttSeconds: Histogram;
  readonly dials: Counter;
  readonly sendQueueHighWater: Gauge;
  readonly backpressurePauses: Counter;
  readonly fileReceivedBytes: Counter;
  readonly fileSentBytes: Counter;
  readonly fileTransfers: Counter;
  /** Per-peer traffic for the dashboard, keyed by peer ID; entries leave with their peer. */
  readonly traffic = new Map<string, PeerTraffic>();
  /** True once a hook reported sent frames (so "bytes out" can be shown as known). */
  sendHooksWired = false;
  /** The hooks for the node core, bound to this instance. */
  readonly hooks: MetricsHooks;
  /** Pre-resolved series of the per-message hot path. */
  readonly #in: Record<
    'chat' | 'bytes',
    { messages: { inc(n?: number): void }; bytes: { inc(n?: number): void } }
  >;

  constructor() {
    const r = this.registry;
    this.peers = r.gauge('meshwire_peers', 'Connected peers.');
    this.knownPeers = r.gauge('meshwire_known_peers', 'Addresses in the peer book.');
    this.peersConnected = r.counter('meshwire_peer_connections_total', 'Peer connections opened.', [
      'direction',
    ]);
    this.peersDisconnected = r.counter('meshwire_peer_disconnections_total', 'Peer connections closed.', [
      'reason',
    ]);
    this.connectionsFailed = r.counter(
      'meshwire_connection_failures_total',
      'Dials or handshakes that failed, by error code.',
      ['code'],
    );
    this.errors = r.counter('meshwire_errors_total', 'Errors reported by the node, by code.', ['code']);
    this.messagesReceived = r.counter('meshwire_messages_received_total', 'Messages received, by type.', [
      'type',
    ]);
    this.receivedBytes = r.counter(
      'meshwire_received_bytes_total',
      'Payload bytes received in chat and bytes messages.',
      ['type'],
    );
    this.messagesSent = r.counter(
      'meshwire_messages_sent_total',
      'Chat and bytes messages handed to send queues (one per peer), by type.',
      ['type'],
    );
    this.sentBytes = r.counter(
      'meshwire_sent_bytes_total',
      'Payload bytes of chat and bytes messages handed to send queues (per peer), by type.',
      ['type'],
    );
    this.peersDiscovered = r.counter(
      'meshwire_peers_discovered_total',
      'New addresses learnt from peer exchange.',
    );
    this.handshakeSeconds = r.histogram(
      'meshwire_handshake_duration_seconds',
      'Time from TCP connect to an admitted peer (or failure).',
      HANDSHAKE_BUCKETS_S,
      ['direction', 'result'],
    );
    this.rttSeconds = r.histogram('meshwire_rtt_seconds', 'Heartbeat round-trip times.', RTT_BUCKETS_S);
    this.dials = r.counter('meshwire_dials_total', 'Dials attempted, by result.', ['result']);
    this.sendQueueHighWater = r.gauge(
      'meshwire_send_queue_high_water_bytes',
      'Largest number of bytes any send queue held.',
    );
    this.backpressurePauses = r.counter(
      'meshwire_backpressure_pauses_total',
      'Times reading was paused for a slow consumer.',
    );
    this.fileReceivedBytes = r.counter('meshwire_file_received_bytes_total', 'File content bytes received.');
    this.fileSentBytes = r.counter('meshwire_file_sent_bytes_total', 'File content bytes sent (all peers).');
    this.fileTransfers = r.counter('meshwire_file_transfers_total', 'File transfers finished.', [
      'direction',
      'result',
    ]);
    this.#in = {
      chat: { messages: this.messagesReceived.labels(['chat']), bytes: this.receivedBytes.labels(['chat']) },
      bytes: {
        messages: this.messagesReceived.labels(['bytes']),
        bytes: this.receivedBytes.labels(['bytes']),
      },
    };
    this.hooks = {
      handshake: (direction, durationMs, error) =>
        this.handshakeSeconds.observe(durationMs / 1000, [direction, error ?? 'ok']),
      dial: (error) => this.dials.inc([error ?? 'ok']),
      frameSent: (peerId, type, bytes) => {
        this.sendHooksWired = true;
        this.messagesSent.inc([type]);
        this.sentBytes.inc([type], bytes);
        const t = this.traffic.get(peerId);
        if (t) {
          t.bytesOut += bytes;
          t.messagesOut++;
        }
      },
      sendQueueBytes: (bytes) => this.sendQueueHighWater.max(bytes),
      backpressurePause: () => this.backpressurePauses.inc(),
    };
  }

  /** Updates the families from one node message. */
  onMessage(m: MeshMessage): void {
    switch (m.type) {
      case 'peer-connected':
        this.peersConnected.inc([m.direction]);
        this.peers.set(m.peerCount);
        if (!this.traffic.has(m.peer.id))
          this.traffic.set(m.peer.id, { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 });
        return;
      case 'peer-disconnected':
        this.peersDisconnected.inc([m.reason]);
        this.peers.set(m.peerCount);
        this.traffic.delete(m.peer.id);
        return;
      case 'connection-failed':
      case 'bootstrap-failed':
        this.connectionsFailed.inc([m.error.code]);
        return;
      case 'error':
        this.errors.inc([m.error.code]);
        return;
      case 'peers-discovered':
        this.peersDiscovered.inc([], m.newCount);
        return;
      case 'pong':
        if (m.direction === 'received' && m.rttMs !== undefined) this.rttSeconds.observe(m.rttMs / 1000);
        return;
      case 'chat':
      case 'bytes': {
        const n = payloadBytes(m);
        const series = this.#in[m.type];
        series.messages.inc();
        series.bytes.inc(n);
        // Created on demand too: a collector attached after a peer connected never saw it join.
        // Entries of peers that left are pruned by the collector's sampling (see pruneTraffic).
        let t = this.traffic.get(m.from.id);
        if (!t) this.traffic.set(m.from.id, (t = { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 }));
        t.bytesIn += n;
        t.messagesIn++;
        return;
      }
      default:
        return;
    }
  }

  /** Drops per-peer traffic of peers not in `connected` (bounds the map by the peer count). */
  pruneTraffic(connected: ReadonlySet<string>): void {
    for (const id of this.traffic.keys()) if (!connected.has(id)) this.traffic.delete(id);
  }

  /** Counts `bytes` more file content handed to send queues. */
  fileBytesSent(bytes: number): void {
    this.fileSentBytes.inc([], bytes);
  }

  /** Counts one finished transfer. */
  fileTransferDone(direction: 'in' | 'out', result: 'ok' | ErrorCode): void {
    this.fileTransfers.inc([direction, result]);
  }

  /**
   * Every family as plain data, for `node.metrics()`: `{ meshwire_peers: { type, help,
   * series: [{ labels, value }] }, meshwire_rtt_seconds: { ..., series: [{ labels, buckets,
   * sum, count }] }, ... }`.
   */
  snapshot(): Record<string, FamilySnapshot> {
    return this.registry.snapshot();
  }

  /** The Prometheus text of every family. */
  render(): string {
    return this.registry.render();
  }
}

/** The part of a node the collector reads: its events and `getPeerInfo()`. */
export interface CollectedNode {
  on<K extends MessageType>(type: K, listener: (m: NodeEvents[K]) => void): unknown;
  off<K extends MessageType>(type: K, listener: (m: NodeEvents[K]) => void): unknown;
  getPeerInfo(): {
    peers: ReadonlyArray<{ id: string; rttMs?: number; lastSeen: number }>;
    known: ReadonlyArray<unknown>;
  };
}

/** The part of a FileReceiver the collector reads. */
export interface CollectedReceiver {
  on<K extends keyof FileReceiverEvents>(type: K, listener: (e: FileReceiverEvents[K]) => void): unknown;
  off<K extends keyof FileReceiverEvents>(type: K, listener: (e: FileReceiverEvents[K]) => void): unknown;
}

/** Options of {@link collectNodeMetrics}. */
export interface CollectOptions {
  /** Also count received files from this receiver's events. */
  receiver?: CollectedReceiver;
  /**
   * How often each peer's RTT is sampled from `getPeerInfo()` (a peer counts once per new
   * heartbeat), in ms. 0 disables sampling (debug-mode pongs still count).
   * @default 5000
   */
  rttSampleIntervalMs?: number;
}

/**
 * Fills `metrics` from `node`'s public events (and `receiver`'s), samples RTTs and refreshes the
 * peer gauges before every render. Returns a function that detaches it.
 */
export function collectNodeMetrics(
  node: CollectedNode,
  metrics: NodeMetrics,
  options: CollectOptions = {},
): () => void {
  const interval = options.rttSampleIntervalMs ?? DEFAULT_RTT_SAMPLE_INTERVAL_MS;
  // Subscribed per type rather than to 'message': a type nobody follows costs the node nothing.
  const onMessage = (m: MeshMessage): void => metrics.onMessage(m);
  for (const type of COUNTED_TYPES) node.on(type, onMessage);

  /** Last heartbeat seen per peer, so one RTT counts once; pruned to the connected peers. */
  const sampled = new Map<string, number>();
  const sample = (): void => {
    const info = node.getPeerInfo();
    const live = new Set<string>();
    for (const p of info.peers) {
      live.add(p.id);
      if (p.rttMs === undefined || sampled.get(p.id) === p.lastSeen) continue;
      sampled.set(p.id, p.lastSeen);
      metrics.rttSeconds.observe(p.rttMs / 1000);
    }
    for (const id of sampled.keys()) if (!live.has(id)) sampled.delete(id);
    metrics.pruneTraffic(live);
  };
  // Peers that connected before the collector was attached get their traffic entries now.
  for (const p of node.getPeerInfo().peers)
    if (!metrics.traffic.has(p.id))
      metrics.traffic.set(p.id, { bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 });
  const timer = interval > 0 ? setInterval(sample, interval) : undefined;
  timer?.unref();
  const removeRefresh = metrics.registry.beforeRender(() => {
    const info = node.getPeerInfo();
    metrics.peers.set(info.peers.length);
    metrics.knownPeers.set(info.known.length);
  });

  const detachReceiver = options.receiver ? collectReceiverMetrics(options.receiver, metrics) : undefined;
  return () => {
    for (const type of COUNTED_TYPES) node.off(type, onMessage);
    if (timer) clearInterval(timer);
    removeRefresh();
    detachReceiver?.();
  };
}

/** Counts received file bytes and finished transfers from a FileReceiver's events; returns a detach function. */
export function collectReceiverMetrics(receiver: CollectedReceiver, metrics: NodeMetrics): () => void {
  /** Bytes already counted per transfer in flight (bounded by the receiver's concurrency cap). */
  const received = new Map<string, number>();
  const key = (e: { from: { id: string }; name?: string }): string => `${e.from.id}\u0000${e.name ?? ''}`;
  const onStart = (e: FileReceiverEvents['file-start']): void => void received.set(key(e), 0);
  const onProgress = (e: FileReceiverEvents['file-progress']): void => {
    const k = key(e);
    const before = received.get(k) ?? 0;
    if (e.bytesReceived > before) metrics.fileReceivedBytes.inc([], e.bytesReceived - before);
    received.set(k, e.bytesReceived);
  };
  const onComplete = (e: FileReceiverEvents['file-complete']): void => {
    const k = key(e);
    const before = received.get(k) ?? 0;
    if (e.size > before) metrics.fileReceivedBytes.inc([], e.size - before);
    received.delete(k);
    metrics.fileTransferDone('in', 'ok');
  };
  const onError = (e: FileReceiverEvents['file-error']): void => {
    received.delete(key(e));
    metrics.fileTransferDone('in', e.error.code);
  };
  receiver.on('file-start', onStart);
  receiver.on('file-progress', onProgress);
  receiver.on('file-complete', onComplete);
  receiver.on('file-error', onError);
  return () => {
    receiver.off('file-start', onStart);
    receiver.off('file-progress', onProgress);
    receiver.off('file-complete', onComplete);
    receiver.off('file-error', onError);
  };
}
