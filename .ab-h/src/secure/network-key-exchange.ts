import type * as tls from 'node:tls';
import { MeshwireError } from '../errors.js';
import {
  calculateGenerator,
  confirmationTag,
  intermediateSessionKey,
  isCanonicalU,
  lvCat,
  sampleScalar,
  scalarFromBytes,
  scalarMult,
  scalarMultVfy,
  tagsEqual,
  type CPaceScalar,
} from './cpace.js';
import { errMessage } from './key-file.js';

/**
 * TLS exporter label (RFC 8446 §7.5) of the CPace session identifier: 32 bytes of keying material
 * unique to this TLS session, so an exchange can neither be replayed nor relayed into another
 * connection (a man in the middle terminates two TLS sessions with two different exporters).
 */
export const NETWORK_KEY_EXPORTER_LABEL = 'EXPORTER-meshwire-network-key-v2';

/** Length of the exported session identifier, in bytes. */
export const NETWORK_KEY_SID_BYTES = 32;

/** First field of the channel identifier: separates this use of CPace from any other. */
export const NETWORK_KEY_CI_LABEL = 'meshwire/2 network key';

/** Which end of the TLS connection: the dialer is the client (CPace's initiator A). */
export type NetworkKeyRole = 'client' | 'server';

/** The public inputs both ends of one connection must agree on (besides the network key). */
export interface NetworkKeySession {
  /** CPace `sid`: the TLS exporter output. */
  sid: Uint8Array;
  /** CPace `CI`: `lv_cat("meshwire/2 network key", dialer ID, listener ID)`. */
  ci: Uint8Array;
}

/** No associated data: the IDs are in CI, which keeps them out of the messages. */
const NO_AD = new Uint8Array(0);

/**
 * The session inputs of a completed TLS handshake: the exporter output as `sid`, and both
 * certified peer IDs (the dialer's first) in `CI`. Binding the IDs means a key exchange run with
 * one peer cannot be passed off as one with another, even among holders of the same key.
 *
 * @throws MeshwireError `ERR_TLS` if keying material cannot be exported (handshake not done).
 */
export function networkKeySession(
  socket: tls.TLSSocket,
  dialerId: string,
  listenerId: string,
): NetworkKeySession {
  let sid: Buffer;
  try {
    // In TLS 1.3 an empty context is the same as no context (RFC 8446 §7.5).
    sid = socket.exportKeyingMaterial(NETWORK_KEY_SID_BYTES, NETWORK_KEY_EXPORTER_LABEL, Buffer.alloc(0));
  } catch (err) {
    throw new MeshwireError('ERR_TLS', `Cannot export TLS keying material: ${errMessage(err)}`, {
      cause: err,
    });
  }
  return { sid, ci: channelIdentifier(dialerId, listenerId) };
}

/** `CI = lv_cat("meshwire/2 network key", dialerId, listenerId)`, IDs as their ASCII bytes. */
export function channelIdentifier(dialerId: string, listenerId: string): Buffer {
  return lvCat(
    Buffer.from(NETWORK_KEY_CI_LABEL, 'latin1'),
    Buffer.from(dialerId, 'latin1'),
    Buffer.from(listenerId, 'latin1'),
  );
}

/**
 * One side of a network-key exchange (CPace, CPACE-X25519-SHA512, initiator-responder, with
 * explicit key confirmation). Proves knowledge of the network key without revealing anything an
 * eavesdropper or the other side could test guesses against offline: a peer that does not know
 * the key learns whether one guess was right per connection it completes, and nothing more.
 *
 * Usage: send {@link share}; pass the peer's share to {@link receive} (false: abort); then send
 * {@link tag} and check the peer's with {@link verify}. Who may send its tag when is the
 * handshake's business (PROTOCOL.md rules 25 to 27): the listener's tag goes first, and the
 * dialer sends its own only after verifying the listener's.
 */
export class NetworkKeyExchange {
  /** Our share (`Ya` for the client, `Yb` for the server), 32 bytes. */
  readonly share: Buffer;
  readonly #role: NetworkKeyRole;
  readonly #sid: Uint8Array;
  readonly #scalar: CPaceScalar;
  #isk: Buffer | undefined;
  #peerShare: Buffer | undefined;

  /**
   * @param key - The derived network key (CPace `PRS`).
   * @param role - Our role: `client` (dialer) or `server` (listener).
   * @param session - `sid` and `CI` (see {@link networkKeySession}).
   * @param scalar - Test vectors only: a fixed secret scalar (32 bytes, little-endian, as the
   *   draft writes them) instead of a random one.
   */
  constructor(key: Uint8Array, role: NetworkKeyRole, session: NetworkKeySession, scalar?: Uint8Array) {
    if (role !== 'client' && role !== 'server') {
      throw new MeshwireError('ERR_INVALID_ARGUMENT', `Invalid role ${String(role)}`);
    }
    if (key.length === 0) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'The network key is empty');
    this.#role = role;
    this.#sid = session.sid;
    this.#scalar = scalar ? scalarFromBytes(scalar) : sampleScalar();
    this.share = scalarMult(this.#scalar, calculateGenerator(key, session.ci, session.sid));
  }

  /**
   * Takes the peer's share and derives the intermediate session key. Returns false, and the
   * exchange must be abandoned, if the share is not 32 bytes, is not the canonical encoding of a
   * u-coordinate (X25519 never outputs another, so only a forger sends one; refusing it leaves
   * each share exactly one encoding), gives the neutral element (a low-order point: the draft's
   * check), or is our own share reflected back.
   */
  receive(peerShare: Uint8Array): boolean {
    if (this.#isk) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'peer share already received');
    if (!isCanonicalU(peerShare) || tagsEqual(this.share, peerShare)) return false;
    const k = scalarMultVfy(this.#scalar, peerShare);
    if (!k) return false;
    const peer = Buffer.from(peerShare);
    const [ya, yb] = this.#role === 'client' ? [this.share, peer] : [peer, this.share];
    this.#isk = intermediateSessionKey(this.#sid, k, ya, NO_AD, yb, NO_AD);
    this.#peerShare = peer;
    k.fill(0);
    return true;
  }

  /** Our key-confirmation tag (64 bytes), over our own share. Only after {@link receive}. */
  get tag(): Buffer {
    return confirmationTag(this.#sid, this.#requireIsk(), this.share, NO_AD);
  }

  /** Checks the peer's key-confirmation tag in constant time. Only after {@link receive}. */
  verify(peerTag: Uint8Array): boolean {
    const isk = this.#requireIsk();
    return tagsEqual(confirmationTag(this.#sid, isk, this.#peerShare as Buffer, NO_AD), peerTag);
  }

  /** The intermediate session key (64 bytes), for test vectors. Only after {@link receive}. */
  get isk(): Buffer {
    return Buffer.from(this.#requireIsk());
  }

  #requireIsk(): Buffer {
    if (!this.#isk) throw new MeshwireError('ERR_INVALID_ARGUMENT', 'no valid peer share received yet');
    return this.#isk;
  }
}
