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
