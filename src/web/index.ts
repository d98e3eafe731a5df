/**
 * The live web dashboard and the Prometheus metrics of a meshwire node. Importable as
 * `meshwire/web`.
 */
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard.js';
export type { ModelReceiver, ModelShare } from './dashboard-model.js';
export { DEFAULT_WEB_HOST, type ListenOptions } from './listen-options.js';
export { CONTENT_SECURITY_POLICY, generateToken } from './http-guard.js';
export type {
  Batch,
  ChatLine,
  Link,
  LiveUpdate,
  NodeFacts,
  PeerRow,
  Snapshot,
  TransferRow,
} from './live-types.js';
export * from '../metrics/index.js';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics-server.js';
