/**
 * Every error meshwire raises or reports is a {@link MeshwireError} with a stable string `code`,
 * so applications can branch on `err.code` instead of parsing messages.
 */
export type ErrorCode =
  | 'ERR_INVALID_OPTION'
  | 'ERR_INVALID_ARGUMENT'
  | 'ERR_FRAME_TOO_LARGE'
  | 'ERR_LINE_TOO_LONG'
  | 'ERR_MALFORMED_FRAME'
  | 'ERR_UNEXPECTED_FRAME'
  | 'ERR_TOO_MANY_ENTRIES'
  | 'ERR_HANDSHAKE_TIMEOUT'
  | 'ERR_CONNECT_TIMEOUT'
  | 'ERR_CONNECTION_CLOSED'
  | 'ERR_CONNECTION_REFUSED'
  | 'ERR_DUPLICATE_PEER'
  | 'ERR_MAX_PEERS'
  | 'ERR_SELF_CONNECTION'
  | 'ERR_UNAUTHORIZED'
  | 'ERR_VERSION_MISMATCH'
  | 'ERR_PEER_ID_MISMATCH'
  | 'ERR_PLAINTEXT_REJECTED'
  | 'ERR_TLS'
  | 'ERR_PEER_TIMEOUT'
  | 'ERR_WRITE_TIMEOUT'
  | 'ERR_SEND_QUEUE_FULL'
  | 'ERR_UNKNOWN_PEER'
  | 'ERR_NOT_STARTED'
  | 'ERR_CLOSED'
  | 'ERR_ABORTED'
  | 'ERR_CHAT_NOT_ENCODABLE'
  | 'ERR_BOOTSTRAP_FAILED'
  | 'ERR_TOO_MANY_PENDING'
  | 'ERR_FILE_NAME'
  | 'ERR_FILE_TOO_LARGE'
  | 'ERR_FILE_PROTOCOL'
  | 'ERR_FILE_INTEGRITY'
  | 'ERR_FILE_IO'
  | 'ERR_FILE_REFUSED'
  | 'ERR_DISK_QUOTA'
  | 'ERR_KEY_FILE'
  | 'ERR_RATE_LIMITED'
  | 'ERR_BAD_SIGNATURE'
  | 'ERR_TIMEOUT'
  | 'ERR_ADDRESS_IN_USE'
  | 'ERR_HOST_NOT_FOUND'
  | 'ERR_MODE_MISMATCH'
  | 'ERR_DISCOVERY_SOCKET';

/** Base class of all meshwire errors. `code` is stable across versions; `message` is for humans. */
export class MeshwireError extends Error {
  readonly code: ErrorCode;
  /** The peer the error is about, when one is known (e.g. the connected peer of `ERR_DUPLICATE_PEER`). */
  readonly peerId?: string;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; peerId?: string }) {
    super(message, options);
    this.name = 'MeshwireError';
    this.code = code;
    if (options?.peerId !== undefined) this.peerId = options.peerId;
  }
}

/** Thrown by the pure codecs for any input that violates the protocol or a limit. */
export class CodecError extends MeshwireError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'CodecError';
  }
}

/** Wraps anything thrown into a MeshwireError, keeping the original as `cause`. */
export function toMeshwireError(err: unknown, fallback: ErrorCode = 'ERR_CONNECTION_CLOSED'): MeshwireError {
  if (err instanceof MeshwireError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if ((err as NodeJS.ErrnoException)?.code === 'ECONNREFUSED') {
    return new MeshwireError('ERR_CONNECTION_REFUSED', message, { cause: err });
  }
  if (err instanceof Error && err.name === 'AbortError')
    return new MeshwireError('ERR_ABORTED', message, { cause: err });
  return new MeshwireError(fallback, message, { cause: err });
}

/**
 * Dial failures that retrying cannot fix: the name does not exist, the other side speaks the
 * other mode, refuses us, or is this node itself. Bootstrap stops at once on these (and the CLI
 * says so) instead of retrying on its schedule.
 */
export const PERMANENT_DIAL_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_HOST_NOT_FOUND',
  'ERR_MODE_MISMATCH',
  'ERR_UNAUTHORIZED',
  'ERR_SELF_CONNECTION',
  'ERR_PEER_ID_MISMATCH',
  'ERR_VERSION_MISMATCH',
  'ERR_PLAINTEXT_REJECTED',
]);

/**
 * Redial failures that end the redialling of a lost peer: the permanent ones, the peer is back
 * already (duplicate), or this node is closing.
 */
export const REDIAL_FINAL_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ...PERMANENT_DIAL_ERRORS,
  'ERR_DUPLICATE_PEER',
  'ERR_CLOSED',
  'ERR_ABORTED',
]);

/** Codec and protocol violations: the peer is dropped as `protocol-error` and not redialled. */
export const PROTOCOL_ERRORS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_FRAME_TOO_LARGE',
  'ERR_LINE_TOO_LONG',
  'ERR_MALFORMED_FRAME',
  'ERR_UNEXPECTED_FRAME',
  'ERR_TOO_MANY_ENTRIES',
]);
