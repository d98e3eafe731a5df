/**
 * The small part of `@hyperswarm/secret-stream` (which ships no types) that the peers benchmark
 * uses: a Noise-encrypted duplex over a raw stream that keeps message boundaries.
 */
declare module '@hyperswarm/secret-stream' {
  import type { Duplex } from 'node:stream';

  interface KeyPair {
    publicKey: Buffer;
    secretKey: Buffer;
  }

  class SecretStream extends Duplex {
    constructor(isInitiator: boolean, rawStream: Duplex, options?: { keyPair?: KeyPair });
    static keyPair(seed?: Buffer): KeyPair;
    readonly remotePublicKey: Buffer | null;
  }

  export default SecretStream;
}
