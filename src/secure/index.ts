/**
 * Building blocks of secure mode: identities (Ed25519 key + self-signed certificate), TLS 1.3
 * options, peer verification, the optional network key, and TLS detection on a raw socket.
 */
export * from './identity.js';
export * from './tls-options.js';
export * from './verify.js';
export * from './network-key.js';
export * from './network-key-exchange.js';
export { loadCpace } from './cpace.js';
export * from './detect.js';
export { createSelfSignedCertificate, CERT_BACKDATE_MS, CERT_VALIDITY_MS } from './certificate.js';
export { readSecretFile, MAX_SECRET_FILE_BYTES } from './key-file.js';
export * from './new-keys.js';
