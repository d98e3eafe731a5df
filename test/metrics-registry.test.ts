/**
 * The metrics registry and renderer: valid Prometheus text 0.0.4 (checked with a parser),
 * escaping, name rules, bounded series, the collector's counts from node events, and the
 * render-time budget (<= 2 ms with 1,000 peers).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import type { MeshMessage, MessageType, NodeEvents, PeerRef } from '../src/messages.js';
import {
  collectNodeMetrics,
  Counter,
  MAX_SERIES_PER_FAMILY,
  NodeMetrics,
  Registry,
  type CollectedNode,
} from '../src/metrics/index.js';
import { parsePrometheus, sample } from './support-web/prometheus.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as MeshwireError).code;
  }
  return undefined;
}

/** A stand-in node with `n` connected peers, driven by hand (the collector uses only this surface). */
class FakeNode implements CollectedNode {
  readonly listeners = new Map<string, Set<(m: MeshMessage) => void>>();
  peers: { id: string; name: string; address: string; rttMs?: number; lastSeen: number }[] = [];
  known: unknown[] = [];
  constructor(n: number) {
    for (let i = 0; i < n; i++) {
      const id = i.toString(16).padStart(32, '0');
      this.peers.push({
        id,
        name: `p${i}`,
        address: `10.0.${i >> 8}.${i & 255}:4000`,
        rttMs: 1 + (i % 300),
        lastSeen: i,
      });
      this.known.push({ address: `10.0.${i >> 8}.${i & 255}:4000` });
    }
  }
  on<K extends MessageType>(type: K, l: (m: NodeEvents[K]) => void): void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(l as unknown as (m: MeshMessage) => void);
  }
  off<K extends MessageType>(type: K, l: (m: NodeEvents[K]) => void): void {
    this.listeners.get(type)?.delete(l as unknown as (m: MeshMessage) => void);
  }
  /** Listeners still attached, over all types. */
  get listenerTotal(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }
  getPeerInfo() {
    // Copies, as the real getPeerInfo() builds fresh objects: that is the part that scales.
    return { peers: this.peers.map((p) => ({ ...p })), known: this.known.map((k) => ({ ...(k as object) })) };
  }
  emit(m: MeshMessage): void {
    for (const l of this.listeners.get(m.type) ?? []) l(m);
  }
}

const ref = (id: string): PeerRef => ({ id, name: id, address: '127.0.0.1:1' });

describe('metrics registry', () => {
  it('renders valid exposition text with HELP, TYPE, labels, escaping and histograms', () => {
    const r = new Registry();
    const c = r.counter('demo_requests_total', 'Requests.\nSecond line \\ here.', ['kind']);
    const g = r.gauge('demo_queue_bytes', 'Queue.');
    const h = r.histogram('demo_latency_seconds', 'Latency.', [0.01, 0.1, 1]);
    c.inc(['a "quoted"\nvalue \\ x']);
    c.inc(['b'], 5);
    g.set(42);
    g.max(7);
    for (const v of [0.005, 0.05, 0.5, 5]) h.observe(v);
    const text = r.render();
    assert.match(
      text,
      /^# HELP demo_requests_total Requests\.\\nSecond line \\\\ here\.\n# TYPE demo_requests_total counter\n/,
    );
    assert.match(text, /demo_requests_total\{kind="a \\"quoted\\"\\nvalue \\\\ x"\} 1\n/);
    assert.match(text, /demo_latency_seconds_bucket\{le="0\.1"\} 2\n/);
    assert.match(text, /demo_latency_seconds_bucket\{le="\+Inf"\} 4\n/);
    assert.match(text, /demo_latency_seconds_count 4\n/);
    const parsed = parsePrometheus(text);
    assert.deepEqual(
      parsed.map((f) => [f.name, f.type]),
      [
        ['demo_requests_total', 'COUNTER'],
        ['demo_queue_bytes', 'GAUGE'],
        ['demo_latency_seconds', 'HISTOGRAM'],
      ],
    );
    assert.equal(sample(parsed, 'demo_requests_total', { kind: 'b' }), 5);
    assert.equal(sample(parsed, 'demo_requests_total', { kind: 'a "quoted"\nvalue \\ x' }), 1);
    assert.equal(sample(parsed, 'demo_queue_bytes'), 42);
    const hist = parsed[2]!.metrics[0]!;
    assert.equal(hist.buckets?.['1'], '3');
    assert.equal(Number(hist.sum), 5.555);
  });

  it('refuses bad names, decreasing counters, duplicate families and wrong label counts', () => {
    const r = new Registry();
    assert.equal(
      code(() => r.counter('requests', 'x')),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => r.gauge('bad-name', 'x')),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => r.gauge('ok_bytes', 'x', ['le'])),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => r.histogram('h_seconds', 'x', [1, 1])),
      'ERR_INVALID_ARGUMENT',
    );
    const c = r.counter('c_total', 'x', ['a']);
    assert.equal(
      code(() => c.inc(['x'], -1)),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => c.inc([])),
      'ERR_INVALID_ARGUMENT',
    );
    assert.equal(
      code(() => r.counter('c_total', 'again')),
      'ERR_INVALID_ARGUMENT',
    );
  });

  it('caps the series of one family and counts the rest under "other"', () => {
    const c = new Counter('many_total', 'x', ['v']);
    for (let i = 0; i < MAX_SERIES_PER_FAMILY + 50; i++) c.inc([`v${i}`]);
    const values = c.values();
    assert.equal(values.length, MAX_SERIES_PER_FAMILY + 1);
    assert.equal(c.get(['other']), 50);
  });
});

describe('node metrics collector', () => {
  it('counts peers, messages and bytes by type, failures by code and hook-fed families', () => {
    const node = new FakeNode(0);
    const m = new NodeMetrics();
    const detach = collectNodeMetrics(node, m, { rttSampleIntervalMs: 0 });
    const time = Date.now();
    node.emit({
      type: 'peer-connected',
      time,
      peer: ref('a'),
      direction: 'inbound',
      peerCount: 1,
      maxPeers: 10,
    });
    node.emit({ type: 'chat', time, from: ref('a'), text: 'héllo' });
    node.emit({ type: 'bytes', time, from: ref('a'), data: new Uint8Array(100) });
    const err = new MeshwireError('ERR_CONNECT_TIMEOUT', 'x');
    node.emit({ type: 'connection-failed', time, address: '1.2.3.4:5', error: err });
    node.emit({ type: 'pong', time, peer: ref('a'), direction: 'received', rttMs: 3 });
    m.hooks.handshake('outbound', 12, undefined);
    m.hooks.dial('ERR_CONNECTION_REFUSED');
    m.hooks.frameSent('a', 'chat', 40);
    m.hooks.sendQueueBytes(1000);
    m.hooks.sendQueueBytes(10);
    m.hooks.backpressurePause();
    const parsed = parsePrometheus(m.render());
    assert.equal(sample(parsed, 'meshwire_peer_connections_total', { direction: 'inbound' }), 1);
    assert.equal(sample(parsed, 'meshwire_messages_received_total', { type: 'chat' }), 1);
    assert.equal(sample(parsed, 'meshwire_received_bytes_total', { type: 'chat' }), 6);
    assert.equal(sample(parsed, 'meshwire_received_bytes_total', { type: 'bytes' }), 100);
    assert.equal(sample(parsed, 'meshwire_connection_failures_total', { code: 'ERR_CONNECT_TIMEOUT' }), 1);
    assert.equal(sample(parsed, 'meshwire_rtt_seconds'), 1);
    // The parser folds labelled histograms into one series, so this one is read from the text.
    assert.match(
      m.render(),
      /\nmeshwire_handshake_duration_seconds_count\{direction="outbound",result="ok"\} 1\n/,
    );
    assert.match(
      m.render(),
      /\nmeshwire_handshake_duration_seconds_bucket\{direction="outbound",result="ok",le="0\.025"\} 1\n/,
    );
    assert.equal(sample(parsed, 'meshwire_dials_total', { result: 'ERR_CONNECTION_REFUSED' }), 1);
    assert.equal(sample(parsed, 'meshwire_sent_bytes_total', { type: 'chat' }), 40);
    assert.equal(sample(parsed, 'meshwire_send_queue_high_water_bytes'), 1000);
    assert.equal(sample(parsed, 'meshwire_backpressure_pauses_total'), 1);
    const snap = m.snapshot();
    assert.deepEqual(snap.meshwire_messages_received_total, {
      type: 'counter',
      help: 'Messages received, by type.',
      series: [
        { labels: { type: 'chat' }, value: 1 },
        { labels: { type: 'bytes' }, value: 1 },
      ],
    });
    assert.deepEqual(snap.meshwire_handshake_duration_seconds?.series[0]?.labels, {
      direction: 'outbound',
      result: 'ok',
    });
    assert.equal(snap.meshwire_handshake_duration_seconds?.series[0]?.buckets?.['0.025'], 1);
    assert.equal(snap.meshwire_handshake_duration_seconds?.series[0]?.buckets?.['0.01'], 0);
    assert.equal(snap.meshwire_rtt_seconds?.series[0]?.sum, 0.003);
    assert.deepEqual(m.traffic.get('a'), { bytesIn: 106, bytesOut: 40, messagesIn: 2, messagesOut: 1 });
    node.emit({ type: 'peer-disconnected', time, peer: ref('a'), reason: 'closed', peerCount: 0 });
    assert.equal(m.traffic.size, 0, 'per-peer traffic leaves with the peer');
    detach();
    assert.equal(node.listenerTotal, 0);
  });

  it(`renders in <= 2 ms with 1,000 peers`, (t) => {
    const node = new FakeNode(1000);
    const m = new NodeMetrics();
    const detach = collectNodeMetrics(node, m, { rttSampleIntervalMs: 0 });
    const time = Date.now();
    for (const p of node.peers) {
      node.emit({
        type: 'peer-connected',
        time,
        peer: ref(p.id),
        direction: 'inbound',
        peerCount: 1,
        maxPeers: 1000,
      });
      node.emit({ type: 'chat', time, from: ref(p.id), text: 'x' });
      node.emit({ type: 'pong', time, peer: ref(p.id), direction: 'received', rttMs: p.rttMs ?? 1 });
      m.hooks.handshake('inbound', 5, undefined);
    }
    const times: number[] = [];
    let text = '';
    for (let i = 0; i < 200; i++) {
      const t0 = process.hrtime.bigint();
      text = m.render();
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    const median = times[times.length >> 1]!;
    const p95 = times[Math.floor(times.length * 0.95)]!;
    assert.equal(sample(parsePrometheus(text), 'meshwire_peers'), 1000);
    assert.ok(!/[0-9a-f]{32}/.test(text), 'no peer ID anywhere in the output');
    assert.ok(median <= 2, `median render ${median.toFixed(3)} ms`);
    t.diagnostic(
      `render with 1,000 peers: median ${median.toFixed(3)} ms, p95 ${p95.toFixed(3)} ms, ${text.length} bytes`,
    );
    detach();
  });
});
