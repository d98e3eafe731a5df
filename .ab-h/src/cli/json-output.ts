/**
 * The `--json` output: one line of JSON per event, for scripts. Pure.
 */
import type { CliEvent, ErrorLike } from './cli-events.js';

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
