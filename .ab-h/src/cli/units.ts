/**
 * Numbers as people read them: times, byte sizes, rates, durations, percentages. Pure.
 */

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `HH:MM:SS` in local time, as the original prints. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
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

/** A delay announced in advance: `500 ms`, `2 s`, `1.5 s`. */
export function formatDelay(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** How long ago: `just now`, `4s ago`, `3m ago`, `2h ago`. */
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

/** Below this size progress shows exact byte counts, as the original (`512/1024 bytes`). */
export const SMALL_FILE = 10 * 1024;

/** `45.0% (1.2 MiB/2.7 MiB, 3.4 MiB/s, ETA 0:01)`. */
export function progressSummary(done: number, total: number, rate: number, etaMs?: number): string {
  const eta = etaMs ?? (rate > 0 ? ((total - done) / rate) * 1000 : Infinity);
  const amounts =
    total < SMALL_FILE ? `${done}/${total} bytes` : `${formatBytes(done)}/${formatBytes(total)}`;
  const tail = done >= total ? formatRate(rate) : `${formatRate(rate)}, ETA ${formatDuration(eta)}`;
  return `${formatPercent(done, total)} (${amounts}, ${tail})`;
}
