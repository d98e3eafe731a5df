/**
 * The simulator's stand-in for Ed25519: a 4-byte FNV-1a checksum over the signed fields. Not
 * security, just enough for a relay that alters a payload to be caught, at simulator speed.
 */
import type { SignedFields } from '../../src/overlay/index.js';

/** The cheap stand-in signature: FNV-1a over sender, epoch, seq, kind and payload. */
function stubHash(f: SignedFields): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < f.sender.length; i++) h = Math.imul(h ^ f.sender.charCodeAt(i), 0x01000193);
  h = Math.imul(h ^ f.epoch, 0x01000193);
  h = Math.imul(h ^ f.seq, 0x01000193);
  h = Math.imul(h ^ f.kind, 0x01000193);
  for (let i = 0; i < f.payload.length; i++) h = Math.imul(h ^ f.payload[i]!, 0x01000193);
  return h >>> 0;
}

/** Signer of the simulator: a 4-byte checksum (a relay that alters a payload is caught). */
export const stubSigner = {
  sign(f: SignedFields): Uint8Array {
    const sig = new Uint8Array(4);
    new DataView(sig.buffer).setUint32(0, stubHash(f));
    return sig;
  },
};
/** Verifier of the simulator. */
export const stubVerifier = {
  verify(f: SignedFields, sig: Uint8Array): boolean {
    return (
      sig.length === 4 && ((sig[0]! << 24) | (sig[1]! << 16) | (sig[2]! << 8) | sig[3]!) >>> 0 === stubHash(f)
    );
  },
};
