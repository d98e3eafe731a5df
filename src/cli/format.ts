/**
 * Everything the CLI prints, as pure functions of the event and a little context: the
 * original's `[HH:MM:SS] [CATEGORY] text` lines, colour, `--json` lines, progress bars and the
 * `/peers` table. No I/O and no clock reads here (the caller passes `now`), so it is unit-tested
 * directly.
 */
import type { MeshwireError } from '../errors.js';
import type { FileCompleteEvent, FileErrorEvent, FileProgressEvent, FileStartEvent } from '../files/index.js';
import type { MeshMessage, PeerRef } from '../messages.js';
import type { NetworkInfo } from '../node.js';

/** Category of a printed line; chat lines are labelled with the sender's name instead. */
export type Category =
  | 'SYSTEM'
  | 'NETWORK'
  | 'DISCOVERY'
  | 'BOOTSTRAP'
  | 'MAINTENANCE'
  | 'FILE'
  | 'BYTES'
  | 'PEERS'
  | 'ERROR'
  | 'DEBUG';

/** One printed line before rendering. */
export interface Line {
  time: number;
  /** `chat` lines are labelled `[name]`; `own-chat` is this node's echoed message. */
  kind: Category | 'chat' | 'own-chat';
  /** The bracketed label: the category, or the (sanitized) sender name for chat. */
  label: string;
  text: string;
}

/** Lines without timestamp and label (table rows), printed indented under the previous line. */
export interface Detail {
  kind: 'detail';
  text: string;
}

/** An error as the CLI reports it (library errors carry a stable `code`). */
export interface ErrorLike {
  code?: string;
  message: string;
}

/** A file event of the receiver, tagged with its type and time. */
export type ReceiverEvent =
  | ({ type: 'file-start'; time: number } & FileStartEvent)
  | ({ type: 'file-progress'; time: number } & FileProgressEvent)
  | ({ type: 'file-complete'; time: number } & FileCompleteEvent)
  | ({ type: 'file-error'; time: number } & FileErrorEvent);

/** Events the CLI itself produces (outgoing files, command results). */
export type CliOwnEvent =
  | { type: 'send-start'; time: number; id: number; name: string; size: number; to: PeerRef[] }
  | {
      type: 'send-progress';
      time: number;
      id: number;
      name: string;
      bytesSent: number;
      totalBytes: number;
      rate: number;
      etaMs: number;
    }
  | {
      type: 'send-complete';
      time: number;
      id: number;
      name: string;
      size: number;
      sha256: string;
      sent: PeerRef[];
      failed: { peer: PeerRef; error: ErrorLike }[];
      elapsedMs: number;
    }
  | { type: 'send-error'; time: number; id: number; name: string; error: ErrorLike }
  | { type: 'chat-sent'; time: number; name: string; text: string; sent: number; failed: number }
  | { type: 'peers'; time: number; info: NetworkInfo }
  | { type: 'command-error'; time: number; message: string; code?: string }
  | { type: 'info'; time: number; category: Category; text: string; details?: string[] };

/** Everything the CLI reports. */
export type CliEvent = MeshMessage | ReceiverEvent | CliOwnEvent;

/** What the formatter needs to know about the running node. */
export interface FormatContext {
  /** This node's MaxPeers, for the `(n/max peers)` suffix. */
  maxPeers: number;
  /** Current time (for "seen 3s ago"). */
  now: number;
  /** Directory paths are shown relative to (the process's working directory). */
  cwd?: string;
  /** Whether BYTES payloads that are file frames should be hidden (they are, by the receiver). */
  isFileFrame?: (data: Uint8Array) => boolean;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `HH:MM:SS` in local time, as the original prints. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/**
 * Makes text from the network safe to print on a terminal: control characters (C0, DEL, C1,
 * which includes ESC and so every ANSI sequence) and bidi overrides become visible escapes, so
 * a peer cannot move the cursor, recolour or rewrite the user's screen, or fake a line.
 */
export function sanitize(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu, (c) => {
    const code = c.codePointAt(0) ?? 0;
    return code <= 0xff
      ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
      : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

/** The short form of a peer ID: its first 8 characters (short IDs such as the Go original's `peer-8001` stay whole). */
export function shortId(id: string): string {
  return id.length <= 12 ? id : id.slice(0, 8);
}

/** A peer's name for display: its name, or its short ID when it has none (the name defaults to the ID). */
export function displayName(peer: Pick<PeerRef, 'id' | 'name'>): string {
  return sanitize(peer.name && peer.name !== peer.id ? peer.name : shortId(peer.id));
}

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** `342 bytes`, `1.5 KiB`, `12.0 MiB`. */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '? bytes';
  if (Math.abs(n) < 1024) return `${n} ${n === 1 ? 'byte' : 'bytes'}`;
  let value = n;
  let unit = '';
  for (const u of UNITS) {
    value /= 1024;
    unit = u;
    if (Math.abs(value) < 1024) break;
  }
  return `${value.toFixed(1)} ${unit}`;
}

/** A transfer rate: `3.4 MiB/s`. */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '-- B/s';
  if (bytesPerSecond < 1024) return `${Math.round(bytesPerSecond)} B/s`;
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** A duration for ETAs and ages: `0:07`, `12:03`, `1:02:03`; `--:--` when unknown. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '--:--';
  const total = Math.ceil(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  return h > 0 ? `${h}:${pad2(m)}:${pad2(s)}` : `${m}:${pad2(s)}`;
}

/** A measured duration: `12 ms`, `3.4 s`, `2:05`. */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return formatDuration(ms);
}

/** How long ago: `now`, `4s ago`, `3m ago`, `2h ago`. */
export function formatAgo(ms: number): string {
  if (ms < 1000) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** `45.0%` of `done` out of `total` (an empty file is 100 %). */
export function formatPercent(done: number, total: number): string {
  const pct = total > 0 ? (done / total) * 100 : 100;
  return `${Math.min(100, Math.max(0, pct)).toFixed(1)}%`;
}

/** Shows `p` relative to `cwd` when it lies inside it (`downloads/x.txt`), else as given. */
export function displayPath(p: string, cwd?: string): string {
  if (cwd) {
    const prefix = cwd.endsWith('/') || cwd.endsWith('\\') ? cwd : cwd + (cwd.includes('\\') ? '\\' : '/');
    if (p.startsWith(prefix)) return sanitize(p.slice(prefix.length));
  }
  return sanitize(p);
}

/** The innermost MeshwireError-like cause (bootstrap-failed wraps the last attempt's error). */
function rootCause(error: MeshwireError): ErrorLike {
  const cause = error.cause;
  return cause instanceof Error && typeof (cause as { code?: unknown }).code === 'string'
    ? (cause as ErrorLike)
    : error;
}

/** An error's message and code; a leading `<subject>: ` (address, file name) the line already says is dropped. */
function errorText(error: ErrorLike, subject?: string): string {
  let text = error.message;
  if (subject && text.startsWith(`${subject}: `)) text = text.slice(subject.length + 2);
  const message = sanitize(text);
  return error.code ? `${message} (${error.code})` : message;
}

const DISCONNECT_REASONS: Record<string, string> = {
  closed: 'connection closed',
  timeout: 'timed out',
  'write-timeout': 'stopped reading (write timeout)',
  'protocol-error': 'protocol error',
  'local-close': 'closed by us',
  replaced: 'replaced by another connection',
  goodbye: 'left the network',
  'send-failed': 'send failed',
};

function peerList(peers: readonly PeerRef[]): string {
  if (peers.length === 0) return 'nobody';
  if (peers.length > 4) return `${peers.length} peers`;
  return peers.map(displayName).join(', ');
}

function line(time: number, kind: Line['kind'], text: string, label?: string): Line {
  return { time, kind, label: label ?? kind, text };
}

/**
 * The human line(s) for an event, or `[]` for events that print nothing (file frames inside
 * BYTES; progress, which the progress view renders). Details are table rows printed below.
 */
export function describe(event: CliEvent, ctx: FormatContext): (Line | Detail)[] {
  const t = event.time;
  const peers = (count: number): string => `(${count}/${ctx.maxPeers} peers)`;
  switch (event.type) {
    case 'system-start':
      return [
        line(
          t,
          'SYSTEM',
          `Node ${displayName(event)} listening on port ${event.port} (${event.mode} mode, ID ${shortId(event.id)})`,
        ),
      ];
    case 'error': {
      const about = event.peer
        ? `${displayName(event.peer)}: `
        : event.address
          ? `${sanitize(event.address)}: `
          : '';
      return [line(t, 'ERROR', `${about}${errorText(event.error, event.peer?.address ?? event.address)}`)];
    }
    case 'bootstrap-success':
      return [
        line(
          t,
          'BOOTSTRAP',
          `Joined the network through ${displayName(event.peer)} at ${sanitize(event.address)}` +
            (event.attempts > 1 ? ` (attempt ${event.attempts})` : ''),
        ),
      ];
    case 'bootstrap-failed':
      return [
        line(
          t,
          'BOOTSTRAP',
          `Could not reach ${sanitize(event.address)} after ${event.attempts} ${event.attempts === 1 ? 'attempt' : 'attempts'}: ${errorText(rootCause(event.error), event.address)}`,
        ),
      ];
    case 'peer-connected':
      return [
        line(
          t,
          'NETWORK',
          event.direction === 'inbound'
            ? `Peer ${displayName(event.peer)} connected from ${sanitize(event.peer.address)} ${peers(event.peerCount)}`
            : `Connected to peer ${displayName(event.peer)} at ${sanitize(event.peer.address)} ${peers(event.peerCount)}`,
        ),
      ];
    case 'peer-disconnected': {
      const why = DISCONNECT_REASONS[event.reason] ?? sanitize(event.reason);
      return [
        line(t, 'NETWORK', `Peer ${displayName(event.peer)} disconnected: ${why} ${peers(event.peerCount)}`),
      ];
    }
    case 'peers-discovered':
      return [
        line(
          t,
          'DISCOVERY',
          `Found ${event.newCount} ${event.newCount === 1 ? 'peer' : 'peers'} via ${event.from ? displayName(event.from) : event.source} (total known: ${event.totalKnown})`,
        ),
      ];
    case 'chat':
      return [line(t, 'chat', sanitize(event.text), displayName(event.from))];
    case 'bytes':
      if (ctx.isFileFrame?.(event.data)) return [];
      return [line(t, 'BYTES', `from ${displayName(event.from)} (${formatBytes(event.data.length)})`)];
    case 'maintenance-cleanup':
      return [line(t, 'MAINTENANCE', `Removed stale peer ${displayName(event.peer)} (${event.reason})`)];
    case 'connection-failed':
      return [
        line(
          t,
          'NETWORK',
          `Could not connect to ${sanitize(event.address)}: ${errorText(event.error, event.address)}`,
        ),
      ];
    case 'ping':
    case 'pong': {
      const verb = event.direction === 'sent' ? 'Sent' : 'Received';
      const prep = event.direction === 'sent' ? 'to' : 'from';
      const rtt = event.rttMs !== undefined ? ` (rtt ${event.rttMs} ms)` : '';
      return [
        line(t, 'DEBUG', `${verb} ${event.type.toUpperCase()} ${prep} ${displayName(event.peer)}${rtt}`),
      ];
    }
    case 'peer-request':
      return [
        line(
          t,
          'DEBUG',
          event.direction === 'sent'
            ? `Sent REQUEST_PEERS to ${displayName(event.peer)}`
            : `Received REQUEST_PEERS from ${displayName(event.peer)}`,
        ),
      ];
    case 'peer-response': {
      const list = sanitize((event.addresses ?? []).join(','));
      return [
        line(
          t,
          'DEBUG',
          event.direction === 'sent'
            ? `Sent PEERS: ${list} to ${displayName(event.peer)}`
            : `Received PEERS: ${list} from ${displayName(event.peer)}`,
        ),
      ];
    }
    case 'file-start':
      return [
        line(
          t,
          'FILE',
          `${displayName(event.from)} is sending ${sanitize(event.name)} (${formatBytes(event.size)})`,
        ),
      ];
    case 'file-progress':
      return [
        line(
          t,
          'FILE',
          `${sanitize(event.name)} from ${displayName(event.from)}: ${progressSummary(event.bytesReceived, event.size, event.rate)}`,
        ),
      ];
    case 'file-complete':
      return [
        line(
          t,
          'FILE',
          `${displayName(event.from)} sent file: ${sanitize(event.name)} (${formatBytes(event.size)}) -> ${displayPath(event.path, ctx.cwd)}`,
        ),
      ];
    case 'file-error': {
      const name = event.name !== undefined ? JSON.stringify(event.name) : 'a file';
      const verb =
        event.error.code === 'ERR_FILE_NAME' ||
        event.error.code === 'ERR_FILE_TOO_LARGE' ||
        event.error.code === 'ERR_TOO_MANY_PENDING'
          ? 'Refused'
          : 'Failed to receive';
      return [
        line(
          t,
          'FILE',
          `${verb} ${sanitize(name)} from ${displayName(event.from)}: ${errorText(event.error, event.name)}`,
        ),
      ];
    }
    case 'send-start':
      return [
        line(
          t,
          'SYSTEM',
          `Starting file transfer: ${sanitize(event.name)} (${formatBytes(event.size)}) to ${peerList(event.to)}`,
        ),
      ];
    case 'send-progress':
      return [
        line(
          t,
          'FILE',
          `Sending ${sanitize(event.name)}: ${progressSummary(event.bytesSent, event.totalBytes, event.rate, event.etaMs)}`,
        ),
      ];
    case 'send-complete': {
      const out: (Line | Detail)[] = [];
      if (event.sent.length > 0) {
        out.push(
          line(
            t,
            'FILE',
            `Sent ${sanitize(event.name)} (${formatBytes(event.size)}) to ${peerList(event.sent)} in ${formatElapsed(event.elapsedMs)}, sha256 ${event.sha256.slice(0, 16)}…`,
          ),
        );
      }
      for (const f of event.failed) {
        out.push(
          line(
            t,
            'ERROR',
            `Sending ${sanitize(event.name)} to ${displayName(f.peer)} failed: ${errorText(f.error)}`,
          ),
        );
      }
      return out;
    }
    case 'send-error':
      if (event.error.code === 'ERR_ABORTED')
        return [line(t, 'FILE', `Sending ${sanitize(event.name)} aborted`)];
      return [line(t, 'ERROR', `Sending ${sanitize(event.name)} failed: ${errorText(event.error)}`)];
    case 'chat-sent':
      return [line(t, 'own-chat', sanitize(event.text), sanitize(event.name))];
    case 'peers':
      return peersTable(event.info, ctx.now, t);
    case 'command-error':
      return [line(t, 'ERROR', event.code ? `${event.message} (${event.code})` : event.message)];
    case 'info':
      return [
        line(t, event.category, event.text),
        ...(event.details ?? []).map((text): Detail => ({ kind: 'detail', text })),
      ];
  }
}

/** Below this size progress shows exact byte counts, as the original (`512/1024 bytes`). */
const SMALL_FILE = 10 * 1024;

/** `45.0% (1.2 MiB/2.7 MiB, 3.4 MiB/s, ETA 0:01)`. */
export function progressSummary(done: number, total: number, rate: number, etaMs?: number): string {
  const eta = etaMs ?? (rate > 0 ? ((total - done) / rate) * 1000 : Infinity);
  const amounts =
    total < SMALL_FILE ? `${done}/${total} bytes` : `${formatBytes(done)}/${formatBytes(total)}`;
  const tail = done >= total ? formatRate(rate) : `${formatRate(rate)}, ETA ${formatDuration(eta)}`;
  return `${formatPercent(done, total)} (${amounts}, ${tail})`;
}

/** What a live progress bar shows. */
export interface ProgressState {
  /** `send` for our uploads, `recv` for downloads. */
  direction: 'send' | 'recv';
  name: string;
  /** Who it goes to / comes from, already display-ready. */
  peer: string;
  done: number;
  total: number;
  /** Bytes per second. */
  rate: number;
}

/**
 * A one-line progress bar that fits in `width` columns:
 * `↑ report.pdf → all (2)  [█████░░░░░]  45.0%  1.2 MiB/2.7 MiB  3.4 MiB/s  ETA 0:01`.
 */
export function renderProgressBar(state: ProgressState, width: number): string {
  const pct = formatPercent(state.done, state.total);
  const amounts =
    state.total < SMALL_FILE
      ? `${state.done}/${state.total} B`
      : `${formatBytes(state.done)}/${formatBytes(state.total)}`;
  const eta = state.rate > 0 ? ((state.total - state.done) / state.rate) * 1000 : Infinity;
  const stats = `${pct.padStart(6)}  ${amounts}  ${formatRate(state.rate)}  ETA ${formatDuration(eta)}`;
  const arrow = state.direction === 'send' ? '↑' : '↓';
  const dir = state.direction === 'send' ? '→' : '←';
  let label = `${arrow} ${sanitize(state.name)} ${dir} ${state.peer}`;
  const room = width - stats.length - 6;
  const barWidth = Math.max(0, Math.min(30, room - Math.min(displayWidth(label), 32)));
  label = truncateToWidth(label, Math.max(8, room - barWidth));
  const fraction = state.total > 0 ? Math.min(1, state.done / state.total) : 1;
  const filled = Math.round(fraction * barWidth);
  const bar = barWidth >= 5 ? `  [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]` : '';
  return truncateToWidth(`${label}${bar}  ${stats}`, Math.max(1, width));
}

/** Terminal columns taken by one code point: 0 for combining marks, 2 for wide (CJK, emoji). */
function charWidth(cp: number): number {
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if ((cp >= 0x300 && cp <= 0x36f) || cp === 0x200b || cp === 0x200d || (cp >= 0xfe00 && cp <= 0xfe0f))
    return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

// eslint-disable-next-line no-control-regex -- matching ESC is the point
const ANSI_SGR = /\u001b\[[0-9;]*m/g;

/** Columns `text` takes on a terminal (ANSI colour sequences count 0). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text.replace(ANSI_SGR, '')) width += charWidth(ch.codePointAt(0) ?? 0);
  return width;
}

/** Cuts `text` to at most `width` columns, marking a cut with `…`. */
export function truncateToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const ch of text) {
    const w = charWidth(ch.codePointAt(0) ?? 0);
    if (used + w > width - 1) break;
    out += ch;
    used += w;
  }
  return out + '…';
}

/** The `/peers` output: a summary line, connected peers, known addresses. */
export function peersTable(info: NetworkInfo, now: number, time = now): (Line | Detail)[] {
  const out: (Line | Detail)[] = [
    line(
      time,
      'PEERS',
      `${displayName(info)} (${shortId(info.id)}, ${info.mode}, port ${info.port}): ${info.peers.length}/${info.maxPeers} peers connected`,
    ),
  ];
  const rows = info.peers.map((p) => [
    displayName(p),
    shortId(p.id),
    sanitize(p.address),
    p.direction === 'inbound' ? 'in' : 'out',
    `seen ${formatAgo(Math.max(0, now - p.lastSeen))}`,
    p.rttMs !== undefined ? `rtt ${p.rttMs} ms` : 'rtt -',
  ]);
  out.push(...table(rows).map((text): Detail => ({ kind: 'detail', text })));
  out.push(line(time, 'PEERS', `Known peers: ${info.known.length}`));
  const known = info.known.map((k) => [
    sanitize(k.address),
    k.id ? shortId(k.id) : '-',
    k.connected ? 'connected: yes' : 'connected: no',
  ]);
  out.push(...table(known).map((text): Detail => ({ kind: 'detail', text })));
  return out;
}

/** Left-aligned columns separated by two spaces. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

const ESC = '\u001b[';
const COLORS: Record<Line['kind'], string> = {
  SYSTEM: '36', // cyan
  NETWORK: '32', // green
  DISCOVERY: '34', // blue
  BOOTSTRAP: '35', // magenta
  MAINTENANCE: '33', // yellow
  FILE: '96', // bright cyan
  BYTES: '94', // bright blue
  PEERS: '36',
  ERROR: '31', // red
  DEBUG: '90', // grey
  chat: '1', // bold
  'own-chat': '1;32', // bold green
};

function paint(code: string, text: string, color: boolean): string {
  return color ? `${ESC}${code}m${text}${ESC}0m` : text;
}

/** `[15:04:35] [NETWORK] Peer bob connected …`, coloured when `color` is set. */
export function renderLine(item: Line | Detail, color = false): string {
  if (item.kind === 'detail') return `    ${item.text}`;
  const time = paint('2', `[${formatTime(item.time)}]`, color);
  const label = paint(COLORS[item.kind], `[${item.label}]`, color);
  const text = item.kind === 'ERROR' ? paint('31', item.text, color) : item.text;
  return `${time} ${label} ${text}`;
}

/** The text of an input line echoed by the interactive prompt (dimmed). */
export function renderEcho(text: string, color = false): string {
  return paint('2', text, color);
}

/** Whether to colour output: only on a terminal, and never when `NO_COLOR` is set (no-color.org). */
export function shouldColor(isTTY: boolean | undefined, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return isTTY === true;
}

function errorJson(error: ErrorLike | Error): { code?: string; message: string } {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { code, message: error.message } : { message: error.message };
}

/**
 * The `--json` form of an event: one line of JSON with `type`, `time` (ISO 8601) and the event's
 * fields. Binary data is reported by length only (`dataLength`), errors as `{ code, message }`.
 */
export function toJsonLine(event: CliEvent): string {
  const { type, time, ...rest } = event as CliEvent & Record<string, unknown>;
  const out: Record<string, unknown> = { type, time: new Date(time).toISOString() };
  for (const [key, value] of Object.entries(rest)) {
    if (value instanceof Uint8Array) out[`${key}Length`] = value.length;
    else if (value instanceof Error) out[key] = errorJson(value);
    else out[key] = value;
  }
  return JSON.stringify(out, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return { byteLength: value.length };
    if (value instanceof Error) return errorJson(value);
    if (typeof value === 'bigint') return value.toString();
    if (typeof value === 'number' && !Number.isFinite(value)) return null;
    return value;
  });
}

/**
 * Limits progress reports to one per `intervalMs` per transfer, always letting the final one
 * (done) through: at most ~2 lines per second per transfer in plain and JSON output.
 */
export class ProgressThrottle {
  readonly #last = new Map<string, number>();

  constructor(readonly intervalMs = 500) {}

  /** True when a report for `key` at `now` should be shown. */
  shouldReport(key: string, now: number, final: boolean): boolean {
    const last = this.#last.get(key);
    if (final) {
      this.#last.delete(key);
      return true;
    }
    if (last !== undefined && now - last < this.intervalMs) return false;
    this.#last.set(key, now);
    return true;
  }

  /** Forgets `key` (its transfer ended). */
  forget(key: string): void {
    this.#last.delete(key);
  }
}
