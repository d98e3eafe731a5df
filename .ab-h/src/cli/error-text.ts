/**
 * Errors in words: an error's message and code for a line, and dial errors with advice in the
 * CLI's terms (CLI flags for a mode mismatch, "same key file" for a node with our identity).
 * Pure.
 */
import type { MeshwireError } from '../errors.js';
import type { ErrorLike } from './cli-events.js';
import { sanitize } from './sanitize.js';

/** What dial errors need to know about this node. */
export interface DialContext {
  /** This node's mode, for advice on a mode mismatch (`add --compat` / `remove --compat`). */
  mode?: 'secure' | 'compat';
  /** This node's listening port, to tell "this node itself" from "another node with our key". */
  port?: number;
  /** This node's identity key file, named when two nodes share it. */
  keyFile?: string;
}

/** The innermost MeshwireError-like cause (bootstrap-failed wraps the last attempt's error). */
export function rootCause(error: MeshwireError): ErrorLike {
  const cause = error.cause;
  return cause instanceof Error && typeof (cause as { code?: unknown }).code === 'string'
    ? (cause as ErrorLike)
    : error;
}

/** An error's message and code; a leading `<subject>: ` (address, file name) the line already says is dropped. */
export function errorText(error: ErrorLike, subject?: string): string {
  let text = error.message;
  if (subject && text.startsWith(`${subject}: `)) text = text.slice(subject.length + 2);
  const message = sanitize(text);
  return error.code ? `${message} (${error.code})` : message;
}

/** Marker of the session layer's mode-mismatch messages (until they carry ERR_MODE_MISMATCH). */
const MODE_MISMATCH_TEXT = 'both sides must use the same mode';

/** True when a dial failed because the other node runs in the other mode. */
export function isModeMismatch(error: ErrorLike): boolean {
  return error.code === 'ERR_MODE_MISMATCH' || error.message.includes(MODE_MISMATCH_TEXT);
}

/**
 * A dial error in words the CLI user can act on: CLI flags instead of library options for a
 * mode mismatch, "same key file" for a node that has our identity; else the error's own text.
 */
export function dialErrorText(error: ErrorLike, ctx: DialContext, address?: string): string {
  const code = error.code ? ` (${error.code})` : '';
  if (isModeMismatch(error) && ctx.mode) {
    return ctx.mode === 'secure'
      ? `it is a compat-mode (plaintext) node and this one is in secure mode; add --compat to join it${code}`
      : `it is a secure-mode node and this one runs with --compat; remove --compat to join it${code}`;
  }
  if (error.code === 'ERR_SELF_CONNECTION' && address !== undefined && ctx.port !== undefined) {
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    if (port !== ctx.port) {
      const file = ctx.keyFile ? ` (${sanitize(ctx.keyFile)})` : '';
      return `that node has this node's identity: both use the same key file${file}; give each node its own --key-file${code}`;
    }
    return `that is this node itself${code}`;
  }
  return errorText(error, address);
}
