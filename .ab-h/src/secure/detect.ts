/** TLS detection by the first byte; defined with the other wire constants in codec/wire.ts. */
export { looksLikeTls, TLS_HANDSHAKE_RECORD } from '../codec/wire.js';
