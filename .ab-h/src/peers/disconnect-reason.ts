import { PROTOCOL_ERRORS, type MeshwireError } from '../errors.js';
import type { DisconnectReason } from '../messages.js';

/** Drops after which the peer is not redialled: it left on purpose, went silent, or misbehaved. */
export const NO_REDIAL_REASONS: ReadonlySet<DisconnectReason> = new Set<DisconnectReason>([
  'local-close',
  'timeout',
  'goodbye',
  'protocol-error',
]);

/** The reason reported in peer-disconnected for a connection that ended with `error`. */
export function closeReason(error: MeshwireError | undefined): DisconnectReason {
  if (!error) return 'local-close';
  if (error.code === 'ERR_WRITE_TIMEOUT') return 'write-timeout';
  if (PROTOCOL_ERRORS.has(error.code)) return 'protocol-error';
  return 'closed';
}
