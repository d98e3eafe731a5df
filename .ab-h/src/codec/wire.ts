/**
 * Wire constants both codecs share (and the modules that check the same things outside a
 * codec): one definition each, so a limit cannot drift between the two protocols.
 */

/** A peer ID on the wire: 1 to 128 of `[A-Za-z0-9._-]` (secure IDs are 32 hex characters). */
export const ID_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** Longest display name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 256;

/**
 * First byte of every TLS connection: the ClientHello travels in a record of content type
 * handshake (22). meshwire's plaintext protocols start with printable text or a length prefix,
 * so a server can tell a TLS client from a plaintext one by the first byte alone.
 */
export const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * True if a connection whose first byte is `firstByte` is starting a TLS handshake. Use it to
 * reject plaintext clients in secure mode (or TLS clients in plaintext mode) with a clear error
 * instead of a confusing parse failure.
 */
export function looksLikeTls(firstByte: number): boolean {
  return firstByte === TLS_HANDSHAKE_RECORD;
}

/** A Buffer view of `chunk` without copying (decoders take any Uint8Array). */
export function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
