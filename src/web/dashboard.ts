/**
 * `startDashboard`: the node's live web dashboard. A node:http server that serves the built page
 * (no data, no token needed), and behind the token: the state, the live channel (server-sent
 * events), chat and file actions, downloads of received files, and `/metrics`.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import { MeshwireError, toMeshwireError } from '../errors.js';
import { sanitizeFileName } from '../files/names.js';
import { metricsFor, serveMetrics } from './metrics-server.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { P2PNode } from '../node.js';
import { DashboardModel, type ModelReceiver, type ModelShare } from './dashboard-model.js';
import {
  allowedHosts,
  checkHostAndOrigin,
  generateToken,
  refuse,
  requestToken,
  securityHeaders,
  sendJson,
  tokenMatches,
} from './http-guard.js';
import { closeHttp, httpUrl, listenHttp, resolveListen, type ListenOptions } from './listen-options.js';
import { DEFAULT_FLUSH_INTERVAL_MS, LiveHub } from './live-hub.js';
import { defaultAssetsDir, StaticAssets } from './static-assets.js';
import { DEFAULT_MAX_UPLOAD_BYTES, receiveUpload, sendUpload } from './uploads.js';

/** Largest JSON body of an action (a chat message), in bytes. */
export const MAX_ACTION_BODY_BYTES = 256 * 1024;
/** How often peer rows are resent while a page is open (RTT and byte counts move), in ms. */
export const PEER_REFRESH_MS = 2_000;

/** Options of {@link startDashboard}. */
export interface DashboardOptions extends ListenOptions {
  /** Shows incoming files (with progress) and serves finished ones for download. */
  receiver?: ModelReceiver;
  /**
   * Shows the FileShare's downloads (secure mode's pieces: progress, rate, sources) and serves
   * finished ones for download, like the receiver's.
   */
  share?: ModelShare;
  /** The node's metrics for `/metrics` and the per-peer bytes; by default collected from events. */
  metrics?: NodeMetrics;
  /** The access token; by default 256 random bits. 16 to 256 characters of `A-Za-z0-9_-`. */
  token?: string;
  /** Directory of the built page. @default dist/web-ui of this package */
  assetsDir?: string;
  /** Largest file accepted from the page, in bytes. @default 1073741824 (1 GiB) */
  maxUploadBytes?: number;
  /** Time between batched live updates, in ms. @default 200 */
  flushIntervalMs?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** The page's address with the token in the fragment: `http://127.0.0.1:<port>/#token=<token>`. */
  url: string;
  /** The address without the token. */
  origin: string;
  port: number;
  token: string;
  metrics: NodeMetrics;
  /** Stops serving and closes every connection. */
  close(): Promise<void>;
}

function invalid(message: string): MeshwireError {
  return new MeshwireError('ERR_INVALID_OPTION', message);
}

async function readBody(req: http.IncomingMessage, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw new MeshwireError('ERR_INVALID_ARGUMENT', `body larger than ${max} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Serves the dashboard of `node`; see the README's "Dashboard" section for the security model. */
export async function startDashboard(node: P2PNode, options: DashboardOptions = {}): Promise<Dashboard> {
  const listen = resolveListen(options, 'dashboard');
  const token = options.token ?? generateToken();
  // The page reads the token from the URL fragment with this same pattern.
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{16,256}$/.test(token))
    throw invalid('dashboard token must be 16 to 256 characters of A-Z a-z 0-9 _ -');
  const maxUpload = options.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
  if (!Number.isSafeInteger(maxUpload) || maxUpload < 0)
    throw invalid(`dashboard maxUploadBytes must be a non-negative integer, got ${String(maxUpload)}`);
  const flushMs = options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS;
  if (!Number.isFinite(flushMs) || flushMs < 0 || flushMs > 60_000)
    throw invalid(`dashboard flushIntervalMs must be from 0 to 60000, got ${String(flushMs)}`);
  const assets = await StaticAssets.load(options.assetsDir ?? defaultAssetsDir());

  const { metrics, detach } = metricsFor(node, options.metrics, options.receiver);
  const model = new DashboardModel(node, metrics, options.receiver, options.share);
  const hub = new LiveHub(() => model.takeBatch(), flushMs);
  model.onChange = () => hub.schedule();
  const refresh = setInterval(() => {
    if (hub.size > 0) model.touchPeers();
  }, PEER_REFRESH_MS);
  refresh.unref();
  let allowed = new Set<string>();

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const refusal = checkHostAndOrigin(req, allowed);
    if (refusal) return refuse(res, refusal.status);
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const isData = path === '/metrics' || path.startsWith('/api/');
    if (!isData) {
      if ((method === 'GET' || method === 'HEAD') && assets.serve(path, res, method === 'HEAD')) return;
      return refuse(res, 404);
    }
    // Only /metrics takes ?token= (Prometheus scrapers cannot always set headers); the page
    // always sends the header, so the token never appears in a URL it requests.
    if (!tokenMatches(requestToken(req, url, path === '/metrics'), token)) return refuse(res, 401);

    if (path === '/metrics' && (method === 'GET' || method === 'HEAD'))
      return serveMetrics(res, metrics, method === 'HEAD');
    if (path === '/api/state' && method === 'GET') return sendJson(res, 200, model.snapshot());
    if (path === '/api/live' && method === 'GET') {
      if (!hub.hasRoom()) return refuse(res, 503);
      return hub.add(res, model.snapshot());
    }
    if (path === '/api/chat' && method === 'POST') return chat(req, res);
    if (path === '/api/files' && method === 'POST') return upload(req, res, url);
    const download = /^\/api\/files\/(t\d{1,12})$/.exec(path);
    if (download && method === 'GET') return serveDownload(res, download[1]!);
    return refuse(res, 404);
  };

  const chat = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    let body: { text?: unknown; to?: unknown };
    try {
      body = JSON.parse(await readBody(req, MAX_ACTION_BODY_BYTES)) as typeof body;
    } catch {
      return sendJson(res, 400, { error: 'ERR_INVALID_ARGUMENT', message: 'expected JSON {text, to?}' });
    }
    const { text, to } = body ?? {};
    if (typeof text !== 'string' || text.length === 0 || (to !== undefined && typeof to !== 'string'))
      return sendJson(res, 400, {
        error: 'ERR_INVALID_ARGUMENT',
        message: 'text must be a non-empty string',
      });
    try {
      if (to) {
        await node.sendMessageToPeer(to, text);
        model.addOutgoingChat(text, to);
        return sendJson(res, 200, { sent: [to], failed: [] });
      }
      const report = await node.broadcastMessage(text);
      model.addOutgoingChat(text);
      return sendJson(res, 200, {
        sent: report.sent,
        failed: report.failed.map((f) => ({ peerId: f.peerId, code: f.error.code })),
      });
    } catch (err) {
      const e = toMeshwireError(err, 'ERR_INVALID_ARGUMENT');
      return sendJson(res, 400, { error: e.code, message: e.message });
    }
  };

  const upload = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    let name: string;
    try {
      name = sanitizeFileName(url.searchParams.get('name') ?? '');
    } catch (err) {
      req.resume();
      const e = toMeshwireError(err, 'ERR_FILE_NAME');
      return sendJson(res, 400, { error: e.code, message: e.message });
    }
    const to = url.searchParams.get('to') ?? undefined;
    if (to !== undefined && !node.getPeerInfo().peers.some((p) => p.id === to)) {
      req.resume();
      return sendJson(res, 400, { error: 'ERR_UNKNOWN_PEER', message: 'no such connected peer' });
    }
    let received;
    try {
      received = await receiveUpload(req, maxUpload);
    } catch (err) {
      const e = toMeshwireError(err, 'ERR_FILE_IO');
      res.setHeader('connection', 'close');
      return sendJson(res, e.code === 'ERR_FILE_TOO_LARGE' ? 413 : 400, {
        error: e.code,
        message: e.message,
      });
    }
    const id = sendUpload(node, model, metrics, received, name, to);
    return sendJson(res, 202, { id });
  };

  const serveDownload = async (res: http.ServerResponse, id: string): Promise<void> => {
    const file = model.downloadPath(id);
    if (!file) return refuse(res, 404);
    let size: number;
    try {
      size = (await stat(file.path)).size;
    } catch {
      return refuse(res, 410);
    }
    res.writeHead(200, {
      ...securityHeaders(),
      'content-type': 'application/octet-stream',
      'content-length': String(size),
      'content-disposition': contentDisposition(file.name),
      'cache-control': 'no-store',
    });
    createReadStream(file.path)
      .on('error', () => res.destroy())
      .pipe(res);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A failure after the headers went out can only end the connection.
      if (res.headersSent) res.destroy();
      else sendJson(res, 500, { error: toMeshwireError(err).code });
    });
  });
  server.requestTimeout = 0; // uploads and the live stream may take long; idle sockets still time out
  server.headersTimeout = 10_000;

  let port: number;
  try {
    port = await listenHttp(server, listen, 'dashboard');
  } catch (err) {
    clearInterval(refresh);
    hub.close();
    model.close();
    detach();
    throw err;
  }
  allowed = allowedHosts(listen.host, port, listen.allowedHosts);
  const origin = httpUrl(listen.host, port);
  let closing: Promise<void> | undefined;
  return {
    url: `${origin}/#token=${token}`,
    origin,
    port,
    token,
    metrics,
    close: () =>
      (closing ??= (async () => {
        clearInterval(refresh);
        hub.close();
        model.close();
        detach();
        await closeHttp(server);
      })()),
  };
}
