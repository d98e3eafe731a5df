import { randomBytes } from 'node:crypto';

/** Bits of randomness in a key from {@link generateNetworkKey}. */
export const GENERATED_NETWORK_KEY_BITS = 256;

/**
 * A new random network key: 256 bits from the system's CSPRNG, as 43 base64url characters,
 * usable anywhere a network key passphrase is (`networkKey`, `MESHWIRE_NETWORK_KEY`, a network
 * key file). Prefer it to a passphrase a person made up: with 256 random bits there is nothing
 * to guess. The CLI prints one with `meshwire keygen --network`.
 */
export function generateNetworkKey(): string {
  return randomBytes(GENERATED_NETWORK_KEY_BITS / 8).toString('base64url');
}
