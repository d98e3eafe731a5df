import type { MeshwireError } from '../errors.js';

/** Codec and protocol violations: the peer is dropped as `protocol-error`. */
const PROTOCOL_ERRORS = new Set<string>([
  'ERR_FRAME_TOO_LARGE',
  'ERR_LINE_TOO_LONG',
  'ERR_MALFORMED_FRAME',
  'ERR_UNEXPECTED_FRAME',
  'ERR_TOO_MANY_ENTRIES',
]);

/** Drops after which the peer is not redialled: it left on purpose, went silent, or misbehaved. */
export const NO_REDIAL_REASONS = new Set(['local-close', 'timeout', 'goodbye', 'protocol-error']);

/** The short reason reported in peer-disconnected for a connection that ended with `error`. */
export function closeReason(error: MeshwireError | undefined): string {
  if (!error) return 'local-close';
  if (error.code === 'ERR_WRITE_TIMEOUT') return 'write-timeout';
  if (PROTOCOL_ERRORS.has(error.code)) return 'protocol-error';
  return 'closed';
}
