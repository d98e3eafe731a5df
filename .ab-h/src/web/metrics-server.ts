/**
 * `startMetricsServer`: a listener that serves only `GET /metrics` in the Prometheus text
 * format, for monitoring (the CLI's `--metrics <port>`).
 */
import http from 'node:http';
import { MeshwireError } from '../errors.js';
import {
  allowedHosts,
  checkHostAndOrigin,
  refuse,
  requestToken,
  securityHeaders,
  tokenMatches,
} from './http-guard.js';
import { closeHttp, httpUrl, listenHttp, resolveListen, type ListenOptions } from './listen-options.js';
import {
  collectNodeMetrics,
  collectReceiverMetrics,
  NodeMetrics,
  type CollectedNode,
  type CollectedReceiver,
} from '../metrics/node-metrics.js';
import { PROMETHEUS_CONTENT_TYPE } from '../metrics/registry.js';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions extends ListenOptions {
  /**
   * The node's metrics. When omitted, a new {@link NodeMetrics} is filled from the node's public
   * events (hook-fed families then stay at zero).
   */
  metrics?: NodeMetrics;
  /** Also count received files from this receiver (only when `metrics` is omitted). */
  receiver?: CollectedReceiver;
  /** When set, scrapes must carry it (`Authorization: Bearer` or `?token=`). @default none */
  token?: string;
}

/** A running metrics listener. */
export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Obtains the metrics of `node`: the given ones, else the node's own registry (which also holds
 * what only the node's inside sees: handshakes, dials, pauses), else new ones with a collector
 * attached. A receiver's file events are added to whichever it is.
 */
export function metricsFor(
  node: CollectedNode & { readonly metricsRegistry?: NodeMetrics },
  metrics: NodeMetrics | undefined,
  receiver: CollectedReceiver | undefined,
): { metrics: NodeMetrics; detach: () => void } {
  const chosen = metrics ?? node.metricsRegistry;
  if (chosen) {
    const detach = receiver ? collectReceiverMetrics(receiver, chosen) : () => undefined;
    return { metrics: chosen, detach };
  }
  const own = new NodeMetrics();
  return { metrics: own, detach: collectNodeMetrics(node, own, receiver ? { receiver } : {}) };
}

/** Writes the Prometheus text of `metrics`. */
export function serveMetrics(res: http.ServerResponse, metrics: NodeMetrics, head: boolean): void {
  const body = metrics.render();
  res.writeHead(200, {
    ...securityHeaders(),
    'content-type': PROMETHEUS_CONTENT_TYPE,
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
  });
  res.end(head ? undefined : body);
}

/** Serves `GET /metrics` for `node` on its own port (loopback by default). */
export async function startMetricsServer(
  node: CollectedNode,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const opts = resolveListen(options, 'metrics');
  if (options.token !== undefined && (typeof options.token !== 'string' || options.token.length < 16))
    throw new MeshwireError('ERR_INVALID_OPTION', 'metrics token must be a string of at least 16 characters');
  const { metrics, detach } = metricsFor(node, options.metrics, options.receiver);
  let allowed = new Set<string>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = checkHostAndOrigin(req, allowed);
    if (refusal) return refuse(res, refusal.status);
    if (options.token !== undefined && !tokenMatches(requestToken(req, url, true), options.token))
      return refuse(res, 401);
    if (url.pathname !== '/metrics') return refuse(res, 404);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405);
    serveMetrics(res, metrics, req.method === 'HEAD');
  });
  let port: number;
  try {
    port = await listenHttp(server, opts, 'metrics listener');
  } catch (err) {
    detach();
    throw err;
  }
  allowed = allowedHosts(opts.host, port, opts.allowedHosts);
  return {
    url: `${httpUrl(opts.host, port)}/metrics`,
    port,
    close: async () => {
      detach();
      await closeHttp(server);
    },
  };
}
