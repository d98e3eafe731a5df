/**
 * What the CLI says about secure-mode file events (offers, `/share`, `/get`, resumes, `/files`).
 * Pure, like event-text.ts, which calls it for these events.
 */
import type { PeerRef } from '../messages.js';
import type { FileRow, ShareEvent } from './cli-events.js';
import { errorText } from './error-text.js';
import type { Detail, Line } from './event-text.js';
import { sanitize } from './sanitize.js';
import {
  formatBytes,
  formatDuration,
  formatElapsed,
  formatPercent,
  formatRate,
  progressSummary,
} from './units.js';

/** Root digits shown in lines and tables; `/get` takes any unique prefix of 4 or more. */
export const SHORT_ROOT = 12;

/** The event types of {@link ShareEvent}. */
const SHARE_TYPES = new Set<string>([
  'file-offer',
  'file-shared',
  'file-offered',
  'file-sent',
  'file-offer-refused',
  'accept-question',
  'accept-answer',
  'download-start',
  'download-progress',
  'download-paused',
  'download-complete',
  'download-failed',
  'source-dropped',
  'file-warning',
  'files',
]);

/** Whether `event` is one of the secure-mode file events. */
export function isShareEvent(event: { type: string }): event is ShareEvent {
  return SHARE_TYPES.has(event.type);
}

function peerName(peer: Pick<PeerRef, 'id' | 'name'>): string {
  const id = peer.id.length <= 12 ? peer.id : peer.id.slice(0, 8);
  return sanitize(peer.name && peer.name !== peer.id ? peer.name : id);
}

function peerList(peers: readonly PeerRef[]): string {
  return peers.length === 0 ? 'nobody' : peers.map(peerName).join(', ');
}

function file(e: { name: string; size: number }): string {
  return `${sanitize(e.name)} (${formatBytes(e.size)})`;
}

function short(root: string): string {
  return root.slice(0, SHORT_ROOT);
}

/** The table of `/files`. */
function fileRows(files: readonly FileRow[]): string[][] {
  return files.map((f) => [
    f.status,
    short(f.root),
    sanitize(f.name),
    `${formatPercent(f.bytesDone, f.size)} of ${formatBytes(f.size)}`,
    f.status === 'active' ? formatRate(f.rate) : '-',
    f.status === 'available'
      ? `from ${peerList(f.sources)}`
      : f.status === 'failed'
        ? f.error
          ? errorText(f.error)
          : 'failed'
        : f.sources.length > 0
          ? `sources ${peerList(f.sources)}`
          : f.path !== undefined
            ? sanitize(f.path)
            : '-',
  ]);
}

/** The lines for a secure-mode file event (`[]` for progress, which the progress view shows). */
export function describeShare(
  event: ShareEvent,
  line: (kind: Line['kind'], text: string) => Line,
  table: (rows: string[][]) => string[],
  /** Shows a path relative to the working directory when it is inside it. */
  showPath: (p: string) => string = (p) => sanitize(p),
): (Line | Detail)[] {
  switch (event.type) {
    case 'file-offer':
      return [
        line(
          'FILE',
          event.push
            ? `${peerName(event.from)} offers ${file(event)}, root ${short(event.root)}`
            : `${peerName(event.from)} has ${file(event)}: /get ${short(event.root)}`,
        ),
      ];
    case 'file-shared':
      return [
        line(
          'FILE',
          `Sharing ${file(event)}, root ${event.root}; peers fetch it with /get ${short(event.root)}`,
        ),
      ];
    case 'file-offered':
      return [line('FILE', `Offered ${file(event)} to ${peerList(event.to)}, root ${short(event.root)}`)];
    case 'file-sent': {
      const parts: string[] = [];
      if (event.delivered.length > 0) parts.push(`${peerList(event.delivered)} received it`);
      if (event.refused.length > 0) parts.push(`${peerList(event.refused)} refused it`);
      return [line('FILE', `Sent ${file(event)}: ${parts.join('; ')} (${formatElapsed(event.elapsedMs)})`)];
    }
    case 'file-offer-refused':
      return [
        line(
          'FILE',
          `${peerName(event.peer)} refused ${event.name !== undefined ? sanitize(event.name) : `root ${short(event.root ?? '')}`}`,
        ),
      ];
    case 'accept-question':
      return [
        line(
          'FILE',
          `Accept ${file(event)} from ${peerName(event.from)}? Type y or n (refused in ${formatDuration(event.timeoutMs)})`,
        ),
      ];
    case 'accept-answer':
      if (event.by === 'policy' && event.accepted) return [];
      return [
        line(
          'FILE',
          event.accepted
            ? `Accepted ${file(event)} from ${peerName(event.from)}`
            : `Refused ${file(event)} from ${peerName(event.from)}` +
                (event.by === 'timeout'
                  ? ' (no answer in time)'
                  : event.by === 'policy'
                    ? ' (--accept-files none)'
                    : ''),
        ),
      ];
    case 'download-start':
      if (event.resumed) {
        return [
          line(
            'FILE',
            `Resuming ${file(event)}: ${formatPercent(event.bytesDone, event.size)} already verified; ` +
              `waiting for ${event.sources.length > 0 ? peerList(event.sources) : 'a source'}`,
          ),
        ];
      }
      return [line('FILE', `Downloading ${file(event)}, root ${short(event.root)}`)];
    case 'download-progress':
      return [
        line(
          'FILE',
          `${sanitize(event.name)} from ${event.sources} ${event.sources === 1 ? 'source' : 'sources'}: ${progressSummary(event.bytesDone, event.size, event.rate)}`,
        ),
      ];
    case 'download-paused':
      return [
        line(
          'FILE',
          `${sanitize(event.name)} paused at ${formatPercent(event.bytesDone, event.size)}: no source connected; it continues when one is back`,
        ),
      ];
    case 'download-complete':
      return [line('FILE', `Received ${file(event)} -> ${showPath(event.path)}`)];
    case 'download-failed':
      return [line('ERROR', `Download of ${sanitize(event.name)} failed: ${errorText(event.error)}`)];
    case 'source-dropped':
      return [
        line(
          'FILE',
          `Dropped ${peerName(event.peer)} as a source of ${sanitize(event.name)}: ${errorText(event.error)}`,
        ),
      ];
    case 'file-warning':
      return [line('FILE', `Warning: ${errorText(event.error)}`)];
    case 'files': {
      if (event.files.length === 0) {
        return [line('FILE', 'No transfers, shared files or offers yet (/share <file>, /get <root>)')];
      }
      const rows = table(fileRows(event.files)).map((text): Detail => ({ kind: 'detail', text }));
      return [line('FILE', `Files: ${event.files.length}`), ...rows];
    }
  }
}
