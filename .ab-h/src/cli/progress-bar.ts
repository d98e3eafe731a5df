/**
 * The live progress bar of a file transfer, sized to the terminal, and the throttle that keeps
 * plain and JSON progress lines to about two per second. Pure.
 */
import { sanitize } from './sanitize.js';
import { displayWidth, truncateToWidth } from './text-width.js';
import { formatBytes, formatDuration, formatPercent, formatRate, SMALL_FILE } from './units.js';

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
