/**
 * The page's side of the dashboard API: the token (taken from the URL fragment, then kept in
 * session storage and removed from the address bar), authenticated requests, and the live
 * stream read with fetch so the token travels in a header, never in a URL.
 */
import type { LiveUpdate } from '../../src/web/live-types.js';

const STORAGE_KEY = 'meshwire-token';

/** Reads the token from `#token=…` (or this tab's storage) and hides it from the address bar. */
export function takeToken(): string | undefined {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]{16,256})/.exec(location.hash);
  if (match?.[1]) {
    sessionStorage.setItem(STORAGE_KEY, match[1]);
    history.replaceState(null, '', location.pathname + location.search);
    return match[1];
  }
  return sessionStorage.getItem(STORAGE_KEY) ?? undefined;
}

/** An HTTP error from the dashboard, with the meshwire error code when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export class Api {
  constructor(readonly token: string) {}

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  async #check(res: Response): Promise<Response> {
    if (res.ok) return res;
    let code: string | undefined;
    let message = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: string; message?: string };
      code = body.error;
      if (body.message) message = body.message;
      else if (code) message = code;
    } catch {
      // Empty body (401, 403, 404): the status says it all.
    }
    throw new ApiError(res.status, code, message);
  }

  async chat(text: string, to?: string): Promise<void> {
    await this.#check(
      await fetch('/api/chat', {
        method: 'POST',
        headers: this.#headers({ 'content-type': 'application/json' }),
        body: JSON.stringify(to ? { text, to } : { text }),
      }),
    );
  }

  async sendFile(file: File, to?: string): Promise<void> {
    const q = new URLSearchParams({ name: file.name });
    if (to) q.set('to', to);
    await this.#check(
      await fetch(`/api/files?${q.toString()}`, {
        method: 'POST',
        headers: this.#headers({ 'content-type': 'application/octet-stream' }),
        body: file,
      }),
    );
  }

  /** Fetches a received file and hands it to the browser as a download. */
  async download(id: string, name: string): Promise<void> {
    const res = await this.#check(
      await fetch(`/api/files/${encodeURIComponent(id)}`, { headers: this.#headers() }),
    );
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  /**
   * Follows the live stream, reconnecting with backoff; each connection starts with a snapshot.
   * `onState` reports 'live', 'connecting' or an error text.
   */
  follow(onUpdate: (u: LiveUpdate) => void, onState: (state: string, fatal?: boolean) => void): void {
    let delay = 500;
    const run = async (): Promise<void> => {
      for (;;) {
        onState('connecting');
        try {
          const res = await fetch('/api/live', { headers: this.#headers(), cache: 'no-store' });
          if (res.status === 401) {
            onState('invalid or missing token: open the URL the node printed', true);
            return;
          }
          if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
          onState('live');
          delay = 500;
          await readEvents(res.body, onUpdate);
        } catch {
          // Fall through to the reconnect below.
        }
        onState('reconnecting');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5_000);
      }
    };
    void run();
  }
}

/** Parses a `text/event-stream` body into JSON updates (only `data:` lines are used). */
async function readEvents(
  body: ReadableStream<Uint8Array>,
  onUpdate: (u: LiveUpdate) => void,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      if (data) onUpdate(JSON.parse(data) as LiveUpdate);
    }
  }
}
