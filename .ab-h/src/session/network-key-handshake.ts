/**
 * The network-key exchange of the native handshake (PROTOCOL.md rules 4 and 25 to 27): CPace
 * bound to the TLS session, run inside TLS right after both certified IDs passed the
 * allow-list and firewall, and before either side says its name.
 *
 * ```
 * dialer (A)                                   listener (B)
 *   pake(Ya)                 ------------->      [rate limit]  K, ISK
 *                            <-------------      pake(Yb), auth(Tb)
 *   K, ISK, check Tb
 *   auth(Ta), hello          ------------->      check Ta, then the hello
 *                            <-------------      hello, peers
 * ```
 *
 * The dialer sends nothing that depends on the key (Ya is a uniformly random group element for
 * any key) before it has checked the listener's Tb; a wrong Tb makes it close without another
 * byte. The listener sends its Tb only in answer to a Ya, and its hello only after checking Ta.
 * So a rogue of either role learns whether one guess was right per connection it completes, and
 * the listener counts every exchange that ends without a valid Ta against the source's budget.
 */
import type { TLSSocket } from 'node:tls';
import { MeshwireError } from '../errors.js';
import type { AttemptLimiter } from '../secure/attempt-limiter.js';
import { NetworkKeyExchange, networkKeySession } from '../secure/network-key-exchange.js';
import { expectFrame, rejectedBy, saidGoodbye } from './handshake-frames.js';
import type { OpenConnection } from './handshake.js';

/** What the exchange needs besides the connection. */
export interface KeyExchangeParams {
  /** The derived network key. */
  key: Buffer;
  /** This node's ID (certified by its own TLS certificate). */
  selfId: string;
  /** Listener only: failed attempts per source address. */
  attempts?: AttemptLimiter;
}

function certified(remote: OpenConnection): string {
  if (!remote.certifiedId) {
    throw new MeshwireError('ERR_UNAUTHORIZED', `${remote.address}: no certified peer ID`);
  }
  return remote.certifiedId;
}

/**
 * Dialer side. Resolves once the listener has proved the key and our own tag is written; the
 * caller then writes its hello. Throws `ERR_UNAUTHORIZED` if the listener did not prove the key
 * (the caller must then close without sending anything), or the listener's reject / goodbye.
 */
export async function dialerKeyExchange(remote: OpenConnection, params: KeyExchangeParams): Promise<void> {
  const { connection, address } = remote;
  const session = networkKeySession(connection.socket as TLSSocket, params.selfId, certified(remote));
  const exchange = new NetworkKeyExchange(params.key, 'client', session);
  connection.write({ type: 'pake', share: exchange.share });
  const answer = await expectFrame(connection, ['pake', 'reject', 'goodbye']);
  if (answer.type === 'reject') throw rejectedBy(answer.reason, address);
  if (answer.type === 'goodbye') throw saidGoodbye(answer.reason, address);
  if (!exchange.receive(answer.share)) {
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `${address}: unauthorized: the listener sent an invalid network-key share`,
    );
  }
  const confirmation = await expectFrame(connection, ['auth', 'reject', 'goodbye']);
  if (confirmation.type === 'reject') throw rejectedBy(confirmation.reason, address);
  if (confirmation.type === 'goodbye') throw saidGoodbye(confirmation.reason, address);
  if (!exchange.verify(confirmation.proof)) {
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `${address}: unauthorized: the listener did not prove the network key (does it use another networkKey?)`,
    );
  }
  connection.write({ type: 'auth', proof: exchange.tag });
}

/**
 * Listener side. Resolves once the dialer has proved the key; the caller then reads its hello.
 * Throws `ERR_RATE_LIMITED` for a source over its budget (before any work), `ERR_UNAUTHORIZED`
 * when the dialer does not prove the key, or the dialer's goodbye. Every exchange that reached
 * our tag and ends without a valid one from the dialer (wrong tag, close, timeout) is counted
 * as a failure of its source address; so is an invalid share.
 */
export async function listenerKeyExchange(remote: OpenConnection, params: KeyExchangeParams): Promise<void> {
  const { connection, address } = remote;
  const host = hostOf(remote.remoteAddress);
  const wait = params.attempts?.retryAfterMs(host) ?? 0;
  if (wait > 0) {
    throw new MeshwireError(
      'ERR_RATE_LIMITED',
      `${address}: refused: too many failed network-key attempts from ${host}; it may try again in ${Math.ceil(wait / 1000)} s`,
    );
  }
  const session = networkKeySession(connection.socket as TLSSocket, certified(remote), params.selfId);
  // Computed before the dialer's share arrives: on two machines (or cores) both sides compute
  // their shares at the same time, which takes one scalar multiplication off the critical path.
  const exchange = new NetworkKeyExchange(params.key, 'server', session);
  const first = await expectFrame(connection, ['pake', 'hello', 'auth', 'goodbye']);
  if (first.type === 'goodbye') throw saidGoodbye(first.reason, address);
  if (first.type !== 'pake') {
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `${address}: unauthorized: the peer did not prove the network key (it has none, or another protocol version)`,
    );
  }
  let proved = false;
  try {
    if (!exchange.receive(first.share)) {
      throw new MeshwireError('ERR_UNAUTHORIZED', `${address}: unauthorized: invalid network-key share`);
    }
    connection.write({ type: 'pake', share: exchange.share });
    connection.write({ type: 'auth', proof: exchange.tag });
    const confirmation = await expectFrame(connection, ['auth', 'goodbye']).catch((err: unknown) => {
      if (err instanceof MeshwireError && err.code === 'ERR_CONNECTION_CLOSED') {
        throw new MeshwireError(
          'ERR_UNAUTHORIZED',
          `${address}: unauthorized: the peer closed the connection instead of confirming the network key (does it use another networkKey?)`,
          { cause: err },
        );
      }
      throw err;
    });
    if (confirmation.type === 'goodbye') throw saidGoodbye(confirmation.reason, address);
    if (!exchange.verify(confirmation.proof)) {
      throw new MeshwireError(
        'ERR_UNAUTHORIZED',
        `${address}: unauthorized: the peer did not prove the network key`,
      );
    }
    proved = true;
  } finally {
    if (!proved) params.attempts?.fail(host);
  }
}

/** The host part of `host:port` (IPv6 without brackets). */
function hostOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return (colon > 0 ? address.slice(0, colon) : address).replace(/^\[|\]$/g, '');
}
