/**
 * What the CLI says about each event, as pure functions of the event and a little context: the
 * original's `[HH:MM:SS] [CATEGORY] text` status lines, `<name id> text` chat lines and the
 * `/peers` table, before colour. Errors are put in words a person can act on. No I/O and no
 * clock reads here (the caller passes `now`), so it is unit-tested directly.
 */
import type { PeerRef } from '../messages.js';
import type { NetworkInfo } from '../node.js';
import type { Category, CliEvent } from './cli-events.js';
import { dialErrorText, errorText, rootCause, type DialContext } from './error-text.js';
import { sanitize, sanitizeLabel } from './sanitize.js';
import { describeShare, isShareEvent } from './share-text.js';
import { formatAgo, formatBytes, formatDelay, formatElapsed, progressSummary } from './units.js';

/** One printed line before rendering. */
export interface Line {
  time: number;
  /** `chat` lines are labelled `<name id>`; `own-chat` is this node's echoed message. */
  kind: Category | 'chat' | 'own-chat';
  /** The label: the category, or for chat the (sanitized) sender name and short ID. */
  label: string;
  text: string;
}

/** Lines without timestamp and label (table rows), printed indented under the previous line. */
export interface Detail {
  kind: 'detail';
  text: string;
}

/** What the formatter needs to know about the running node. */
export interface FormatContext extends DialContext {
  /** This node's MaxPeers, for the `(n/max peers)` suffix. */
  maxPeers: number;
  /** Current time (for "seen 3s ago"). */
  now: number;
  /** Directory paths are shown relative to (the process's working directory). */
  cwd?: string;
  /** Whether BYTES payloads that are file frames should be hidden (they are, by the receiver). */
  isFileFrame?: (data: Uint8Array) => boolean;
}

/** The short form of a peer ID: its first 8 characters (short IDs such as the Go original's `peer-8001` stay whole). */
export function shortId(id: string): string {
  return id.length <= 12 ? id : id.slice(0, 8);
}

/** A peer's name for display: its name, or its short ID when it has none (the name defaults to the ID). */
export function displayName(peer: Pick<PeerRef, 'id' | 'name'>): string {
  return sanitize(peer.name && peer.name !== peer.id ? peer.name : shortId(peer.id));
}

/**
 * The label of a chat line: `name shortid` (or just the short ID when the peer has no name),
 * with angle brackets escaped. Rendered as `<alice 1a2b3c4d>`, never as a `[CATEGORY]`, so a
 * peer named `FILE` or `SYSTEM` cannot pass its chat off as a status line.
 */
export function chatLabel(peer: Pick<PeerRef, 'id' | 'name'>): string {
  const id = shortId(peer.id);
  return peer.name && peer.name !== peer.id
    ? `${sanitizeLabel(peer.name)} ${sanitizeLabel(id)}`
    : sanitizeLabel(id);
}

/** Shows `p` relative to `cwd` when it lies inside it (`downloads/x.txt`), else as given. */
export function displayPath(p: string, cwd?: string): string {
  if (cwd) {
    const prefix = cwd.endsWith('/') || cwd.endsWith('\\') ? cwd : cwd + (cwd.includes('\\') ? '\\' : '/');
    if (p.startsWith(prefix)) return sanitize(p.slice(prefix.length));
  }
  return sanitize(p);
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

/** Words for a failed bootstrap attempt, and whether and when the next one comes. */
function attemptText(event: Extract<CliEvent, { type: 'bootstrap-attempt' }>, ctx: FormatContext): string {
  const head = `Attempt ${event.attempt}/${event.attempts} to reach ${sanitize(event.address)} failed: ${dialErrorText(event.error, ctx, event.address)}`;
  if (event.retryInMs !== undefined) return `${head}; retrying in ${formatDelay(event.retryInMs)}`;
  return event.attempt < event.attempts ? `${head}; not retrying (this will not heal by itself)` : head;
}

/**
 * The human line(s) for an event, or `[]` for events that print nothing (file frames inside
 * BYTES; progress, which the progress view renders). Details are table rows printed below.
 */
export function describe(event: CliEvent, ctx: FormatContext): (Line | Detail)[] {
  const t = event.time;
  const peers = (count: number): string => `(${count}/${ctx.maxPeers} peers)`;
  if (isShareEvent(event)) {
    return describeShare(
      event,
      (kind, text) => line(t, kind, text),
      table,
      (p) => displayPath(p, ctx.cwd),
    );
  }
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
          `Could not reach ${sanitize(event.address)} after ${event.attempts} ${event.attempts === 1 ? 'attempt' : 'attempts'}: ${dialErrorText(rootCause(event.error), ctx, event.address)}`,
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
      return [line(t, 'chat', sanitize(event.text), chatLabel(event.from))];
    case 'bytes':
      if (ctx.isFileFrame?.(event.data)) return [];
      return [line(t, 'BYTES', `from ${displayName(event.from)} (${formatBytes(event.data.length)})`)];
    case 'overlay-report':
      // Overlay drops and gaps (option overlay): one line each, never silent.
      return [
        line(
          t,
          'NETWORK',
          `Overlay: ${sanitize(event.report.kind)}${event.peer ? ` (neighbour ${displayName(event.peer)})` : ''}`,
        ),
      ];
    case 'maintenance-cleanup':
      return [line(t, 'MAINTENANCE', `Removed stale peer ${displayName(event.peer)} (${event.reason})`)];
    case 'connection-failed':
      return [
        line(
          t,
          'NETWORK',
          `Could not connect to ${sanitize(event.address)}: ${dialErrorText(event.error, ctx, event.address)}`,
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
      return [line(t, 'own-chat', sanitize(event.text), chatLabel({ id: event.id, name: event.name }))];
    case 'bootstrap-attempt':
      return [line(t, 'BOOTSTRAP', attemptText(event, ctx))];
    case 'peers': {
      const table = peersTable(event.info, ctx.now, t);
      if (!event.overlay) return table;
      const { joined, active, passive, sizeEstimate } = event.overlay;
      return [
        ...table,
        line(
          t,
          'PEERS',
          `Overlay: ${joined ? 'joined' : 'not joined yet'}; active view ${active.length} (${active.map(shortId).join(', ') || 'none'}), passive view ${passive.length} (backups); network of about ${sizeEstimate} nodes`,
        ),
      ];
    }
    case 'command-error': {
      const text = event.code ? `${event.message} (${event.code})` : event.message;
      return [line(t, 'ERROR', event.hint ? `${text}; ${event.hint}` : text)];
    }
    case 'dashboard':
      return [line(t, 'SYSTEM', `Dashboard: ${event.url}`)];
    case 'metrics':
      return [line(t, 'SYSTEM', `Metrics: ${event.url}`)];
    case 'info':
      return [
        line(t, event.category, event.text),
        ...(event.details ?? []).map((text): Detail => ({ kind: 'detail', text })),
      ];
  }
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
