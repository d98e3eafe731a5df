/**
 * The live channel: server-sent events (`text/event-stream`) to every open page. Updates are
 * batched: changes mark the model dirty and one flush per {@link DEFAULT_FLUSH_INTERVAL_MS}
 * writes a single event to each page.
 *
 * Server-sent events rather than WebSocket: the page only needs server-to-page pushes (its few
 * actions are POSTs that carry the token in a header), SSE is plain HTTP through the same
 * token/Host/Origin checks as every data request, and it needs no runtime dependency.
 */
import type { ServerResponse } from 'node:http';
import { securityHeaders } from './http-guard.js';
import type { LiveUpdate } from './live-types.js';

/** Time between flushes of batched updates, in ms. */
export const DEFAULT_FLUSH_INTERVAL_MS = 200;
/** Most pages connected at once; more get 503. */
export const MAX_LIVE_CLIENTS = 16;
/**
 * Bytes a page may leave unread before it is disconnected. It reconnects and starts again from a
 * fresh snapshot, so a stalled tab never makes the node buffer without bound (and loses nothing
 * it would not see in that snapshot).
 */
export const MAX_CLIENT_BACKLOG_BYTES = 4 * 1024 * 1024;
/** Comment line sent this often so proxies and the page can tell the stream is alive, in ms. */
export const KEEPALIVE_MS = 15_000;

/** Open live connections and the batching timer. */
export class LiveHub {
  readonly #clients = new Set<ServerResponse>();
  readonly #flushMs: number;
  readonly #takeBatch: () => LiveUpdate | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly #keepalive: NodeJS.Timeout;
  /** Updates written, for tests and the benchmark. */
  flushes = 0;

  constructor(takeBatch: () => LiveUpdate | undefined, flushMs = DEFAULT_FLUSH_INTERVAL_MS) {
    this.#takeBatch = takeBatch;
    this.#flushMs = flushMs;
    this.#keepalive = setInterval(() => this.#writeAll(': keepalive\n\n'), KEEPALIVE_MS);
    this.#keepalive.unref();
  }

  get size(): number {
    return this.#clients.size;
  }

  /** True when another page may connect. */
  hasRoom(): boolean {
    return this.#clients.size < MAX_LIVE_CLIENTS;
  }

  /** Starts an event stream on `res`, first writing `first` (the snapshot). */
  add(res: ServerResponse, first: LiveUpdate): void {
    // Changes made before this snapshot go to the pages already open, not to the new one twice.
    this.flush();
    res.writeHead(200, {
      ...securityHeaders(),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    this.#clients.add(res);
    res.on('close', () => this.#clients.delete(res));
    this.#write(res, `data: ${JSON.stringify(first)}\n\n`);
  }

  /** Schedules a flush (no-op when one is pending or nobody listens). */
  schedule(): void {
    if (this.#timer || this.#clients.size === 0) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#flushMs);
  }

  /** Sends the pending batch now. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#takeBatch();
    if (!batch || this.#clients.size === 0) return;
    this.flushes++;
    this.#writeAll(`data: ${JSON.stringify(batch)}\n\n`);
  }

  #writeAll(text: string): void {
    for (const res of this.#clients) this.#write(res, text);
  }

  #write(res: ServerResponse, text: string): void {
    if (res.writableLength > MAX_CLIENT_BACKLOG_BYTES) {
      this.#clients.delete(res);
      res.destroy();
      return;
    }
    res.write(text);
  }

  /** Ends every stream and stops the timers. */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    clearInterval(this.#keepalive);
    for (const res of this.#clients) res.end();
    this.#clients.clear();
  }
}
