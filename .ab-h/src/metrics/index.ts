/** Metrics of a meshwire node in the Prometheus text format; re-exported by `meshwire/web`. */
export {
  Registry,
  Counter,
  Gauge,
  Histogram,
  PROMETHEUS_CONTENT_TYPE,
  MAX_SERIES_PER_FAMILY,
  type MetricFamily,
  type MetricKind,
  type FamilySnapshot,
  type SeriesSnapshot,
} from './registry.js';
export {
  NodeMetrics,
  collectNodeMetrics,
  collectReceiverMetrics,
  HANDSHAKE_BUCKETS_S,
  RTT_BUCKETS_S,
  DEFAULT_RTT_SAMPLE_INTERVAL_MS,
  type MetricsHooks,
  type PeerTraffic,
  type CollectOptions,
  type CollectedNode,
  type CollectedReceiver,
} from './node-metrics.js';
