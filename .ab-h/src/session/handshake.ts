import type { HelloFrame, RejectReason } from '../codec/frame.js';
import { PROTOCOL_VERSION } from '../codec/native.js';
import { MeshwireError } from '../errors.js';
import type { Direction } from '../messages.js';
import type { AttemptLimiter } from '../secure/attempt-limiter.js';
import type { Connection } from './connection.js';
import { reachableListenAddress } from './listen-address.js';
import type { Admission, Session } from './session.js';
import { endedByPeer, expectFrame, REJECT_ERRORS, rejectedBy, saidGoodbye } from './handshake-frames.js';
import { dialerKeyExchange, listenerKeyExchange } from './network-key-handshake.js';

/** What the handshakes need from the node. */
export interface HandshakeContext {
  selfHello(connection: Connection): HelloFrame;
  /** The address to advertise on this connection (`host:port`). */
  advertisedAddress(connection: Connection): string;
  /** Atomic check-and-insert into the peer table. */
  admit(session: Session): Admission;
  /** Secure mode: the derived network key, if the network is private. */
  networkKey?: Buffer;
  /** Secure mode: this node's ID (needed by the network-key exchange). */
  selfId?: string;
  /** Secure mode: failed network-key attempts per source address (listener side). */
  networkKeyAttempts?: AttemptLimiter;
  /** Secure mode: allow-list and firewall hook. */
  authorize?(id: string, address: string, direction: Direction): Promise<boolean>;
}

/** Known facts about the remote end before its hello is read. */
export interface OpenConnection {
  connection: Connection;
  direction: Direction;
  /** Outbound: the dialled address. Inbound: the socket's remote `host:port`. */
  address: string;
  remoteAddress: string;
  /** Secure mode: the ID proven by the peer's certificate. */
  certifiedId?: string;
}

function sessionFrom(remote: OpenConnection, hello: HelloFrame, address: string): Session {
  return {
    id: hello.id,
    name: hello.name || hello.id,
    address,
    remoteAddress: remote.remoteAddress,
    direction: remote.direction,
    connection: remote.connection,
    features: hello.features,
    // An inbound peer known only by its socket's address (an ephemeral port) cannot be dialled:
    // it must not reach peer lists or the peer book until it says where it listens.
    advertised: remote.direction === 'outbound' || address !== remote.remoteAddress,
  };
}

/** Registers the peer or explains the refusal; returns the admitted peer and who it replaced. */
function admitSession(
  ctx: HandshakeContext,
  peer: Session,
):
  | { peer: Session; replaced?: Session; refusal?: undefined }
  | { refusal: RejectReason | 'self'; error: MeshwireError } {
  // The handshake awaited the peer (and maybe a slow firewall hook): a connection that closed
  // meanwhile must not take a slot as a ghost without a socket.
  if (peer.connection.closed) {
    throw new MeshwireError('ERR_CONNECTION_CLOSED', `${peer.address}: closed during the handshake`);
  }
  const admission = ctx.admit(peer);
  if (admission.accept) return { peer, replaced: admission.replaced };
  const code = admission.reason === 'self' ? 'ERR_SELF_CONNECTION' : REJECT_ERRORS[admission.reason];
  return {
    refusal: admission.reason,
    error: new MeshwireError(code, `${peer.address}: ${admission.message}`),
  };
}

/** Result of a successful handshake. */
export interface Established {
  /** The admitted session (the object the host's `admit` accepted). */
  peer: Session;
  replaced?: Session;
}

/** Compat dialer: `ID:NAME` + `LISTEN:`, then the listener's hello or DUPLICATE / MAX_PEERS. */
export async function compatOutbound(ctx: HandshakeContext, remote: OpenConnection): Promise<Established> {
  const { connection } = remote;
  connection.write(ctx.selfHello(connection));
  connection.write({ type: 'listen', address: ctx.advertisedAddress(connection) });
  const answer = await expectFrame(connection, ['hello', 'reject']);
  if (answer.type === 'reject') throw rejectedBy(answer.reason, remote.address);
  const result = admitSession(ctx, sessionFrom(remote, answer, remote.address));
  if (result.refusal) throw result.error;
  return result;
}

/** Compat listener: reads the hello (and LISTEN if it came with it), answers at once. */
export async function compatInbound(ctx: HandshakeContext, remote: OpenConnection): Promise<Established> {
  const { connection } = remote;
  const hello = await expectFrame(connection, ['hello']);
  const listen = connection.takeHeldIf((f) => f.type === 'listen');
  const address =
    listen?.type === 'listen' ? reachableListenAddress(listen.address, remote.remoteAddress) : remote.address;
  const result = admitSession(ctx, sessionFrom(remote, hello, address));
  if (result.refusal) {
    // A self-dial gets our own hello back, so the dialer learns the address is its own.
    if (result.refusal === 'self') connection.write(ctx.selfHello(connection));
    else if (result.refusal !== 'unauthorized') connection.write({ type: 'reject', reason: result.refusal });
    connection.end();
    throw result.error;
  }
  connection.write(ctx.selfHello(connection));
  return result;
}

/** Reads the peer's hello and checks its version and claimed ID (rules 3 and 22). */
async function readNativeHello(ctx: HandshakeContext, remote: OpenConnection): Promise<HelloFrame> {
  const { connection } = remote;
  // Rule 27: goodbye may come at any time; report its reason instead of "unexpected frame".
  const frame = await expectFrame(connection, ['reject', 'hello', 'goodbye', 'pake', 'auth']);
  if (frame.type === 'reject') throw rejectedBy(frame.reason, remote.address);
  if (frame.type === 'goodbye') throw saidGoodbye(frame.reason, remote.address);
  if (frame.type === 'pake' || frame.type === 'auth') {
    // Rule 25.3: a key exchange we cannot take part in is a configuration mismatch, refused as
    // unauthorized; after our own exchange it is simply out of place.
    if (ctx.networkKey) {
      throw new MeshwireError('ERR_UNEXPECTED_FRAME', `expected hello during handshake, got ${frame.type}`);
    }
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `${remote.address}: unauthorized: the peer uses a network key, but this node has none (networkKey differs)`,
    );
  }
  if (frame.version !== PROTOCOL_VERSION) {
    throw new MeshwireError(
      'ERR_VERSION_MISMATCH',
      `${remote.address}: protocol version ${frame.version}, we speak ${PROTOCOL_VERSION}`,
    );
  }
  if (frame.id !== remote.certifiedId) {
    throw new MeshwireError(
      'ERR_PEER_ID_MISMATCH',
      `${remote.address}: hello claims ID ${frame.id} but the certificate proves ${remote.certifiedId}`,
    );
  }
  return frame;
}

/** Rule 25.1 / 26: the allow-list and firewall hook, on the ID the peer's certificate proves. */
async function authorize(ctx: HandshakeContext, remote: OpenConnection): Promise<void> {
  const id = remote.certifiedId;
  if (!id) throw new MeshwireError('ERR_UNAUTHORIZED', `${remote.address}: no certified peer ID`);
  if (!ctx.authorize) return;
  let allowed: boolean;
  try {
    allowed = await ctx.authorize(id, remote.address, remote.direction);
  } catch (err) {
    // A failing hook refuses the peer (fail closed) with the same code as a refusal.
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `${remote.address}: peer ${id} refused, the firewall hook failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  if (!allowed) throw new MeshwireError('ERR_UNAUTHORIZED', `${remote.address}: peer ${id} is not allowed`);
}

/** The parameters of the network-key exchange, or undefined for an open network. */
function keyExchange(ctx: HandshakeContext, connection: Connection) {
  if (!ctx.networkKey) return undefined;
  return {
    key: ctx.networkKey,
    selfId: ctx.selfId ?? ctx.selfHello(connection).id,
    ...(ctx.networkKeyAttempts ? { attempts: ctx.networkKeyAttempts } : {}),
  };
}

/** Rule 26: the goodbye reason a dialer sends when the listener's hello fails its checks. */
function dialerGoodbyeReason(err: unknown): string | undefined {
  const code = err instanceof MeshwireError ? err.code : undefined;
  if (code === 'ERR_VERSION_MISMATCH') return 'version';
  if (code === 'ERR_UNAUTHORIZED' || code === 'ERR_PEER_ID_MISMATCH') return 'unauthorized';
  if (code === 'ERR_UNEXPECTED_FRAME') return 'protocol-error';
  return undefined;
}

/**
 * Native dialer (inside TLS). Rule 26: the listener's certified ID passes the allow-list and
 * firewall (expectedId was checked by `connect`) before a single byte is sent, and with a network
 * key the listener proves the key before we send our own proof and hello. A failure in either
 * closes the connection without sending anything more.
 */
export async function nativeOutbound(ctx: HandshakeContext, remote: OpenConnection): Promise<Established> {
  const { connection } = remote;
  try {
    await authorize(ctx, remote);
    const exchange = keyExchange(ctx, connection);
    if (exchange) await dialerKeyExchange(remote, exchange);
  } catch (err) {
    // Silence towards an unproven listener: no goodbye, no reason, just the close.
    connection.end();
    throw err;
  }
  connection.write(ctx.selfHello(connection));
  let hello: HelloFrame;
  try {
    hello = await readNativeHello(ctx, remote);
  } catch (err) {
    // A reject or goodbye from the listener (or a closed connection) gets no answer.
    const reason = dialerGoodbyeReason(err);
    if (reason && !endedByPeer.has(err as MeshwireError) && !connection.closed) {
      connection.write({ type: 'goodbye', reason });
      connection.end();
    }
    throw err;
  }
  const result = admitSession(ctx, sessionFrom(remote, hello, remote.address));
  if (result.refusal) {
    connection.write({ type: 'goodbye', reason: result.refusal });
    connection.end();
    throw result.error;
  }
  return result;
}

/** The reject reason a listener answers a failed check with (rule 25). */
function listenerRejectReason(err: unknown): RejectReason {
  const code = err instanceof MeshwireError ? err.code : undefined;
  if (code === 'ERR_VERSION_MISMATCH') return 'version';
  if (code === 'ERR_RATE_LIMITED') return 'rate-limited';
  return 'unauthorized';
}

/**
 * Native listener (inside TLS): verifies the dialer completely (certified ID, network key, hello)
 * before it says anything but a refusal or its key-exchange messages.
 */
export async function nativeInbound(ctx: HandshakeContext, remote: OpenConnection): Promise<Established> {
  const { connection } = remote;
  let hello: HelloFrame;
  try {
    await authorize(ctx, remote);
    const exchange = keyExchange(ctx, connection);
    if (exchange) await listenerKeyExchange(remote, exchange);
    hello = await readNativeHello(ctx, remote);
  } catch (err) {
    // Rule 31: a peer that said goodbye is not answered.
    if (!connection.closed && !endedByPeer.has(err as MeshwireError)) {
      connection.write({ type: 'reject', reason: listenerRejectReason(err) });
      connection.end();
    }
    throw err;
  }
  const address = hello.listen[0]
    ? reachableListenAddress(hello.listen[0], remote.remoteAddress)
    : remote.address;
  const result = admitSession(ctx, sessionFrom(remote, hello, address));
  if (result.refusal) {
    connection.write(
      result.refusal === 'self'
        ? { type: 'goodbye', reason: 'self' }
        : { type: 'reject', reason: result.refusal },
    );
    connection.end();
    throw result.error;
  }
  connection.write(ctx.selfHello(connection));
  return result;
}
