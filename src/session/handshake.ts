import type { TLSSocket } from 'node:tls';
import type { Frame, HelloFrame, RejectReason } from '../codec/frame.js';
import { PROTOCOL_VERSION } from '../codec/native.js';
import { MeshwireError } from '../errors.js';
import type { Direction } from '../messages.js';
import { networkKeyProof, verifyNetworkKeyProof } from '../secure/network-key.js';
import type { Connection } from './connection.js';
import { reachableListenAddress } from './listen-address.js';
import type { Admission, Session } from './session.js';

/** What the handshakes need from the node. */
export interface HandshakeContext {
  selfHello(connection: Connection): HelloFrame;
  /** The address to advertise on this connection (`host:port`). */
  advertisedAddress(connection: Connection): string;
  /** Atomic check-and-insert into the peer table. */
  admit(session: Session): Admission;
  /** Secure mode: the derived network key, if the network is private. */
  networkKey?: Buffer;
  /** Secure mode: allow-list and firewall hook. */
  authorize?(id: string, address: string, direction: Direction): Promise<boolean>;
}

/** Known facts about the remote end before its hello is read. */
export interface Remote {
  connection: Connection;
  direction: Direction;
  /** Outbound: the dialled address. Inbound: the socket's remote `host:port`. */
  address: string;
  remoteAddress: string;
  /** Secure mode: the ID proven by the peer's certificate. */
  certifiedId?: string;
}

const REJECT_ERRORS: Record<RejectReason, MeshwireError['code']> = {
  duplicate: 'ERR_DUPLICATE_PEER',
  'max-peers': 'ERR_MAX_PEERS',
  unauthorized: 'ERR_UNAUTHORIZED',
  version: 'ERR_VERSION_MISMATCH',
};

/** Errors that report the peer's own reject or goodbye: the connection is over, nothing is answered. */
const endedByPeer = new WeakSet<MeshwireError>();

function rejectedBy(reason: RejectReason, address: string): MeshwireError {
  const text: Record<RejectReason, string> = {
    duplicate: 'already connected to that peer (DUPLICATE)',
    'max-peers': 'the peer has no free slot (MAX_PEERS)',
    unauthorized: 'the peer refused us as unauthorized',
    version: 'the peer speaks another protocol version',
  };
  const error = new MeshwireError(REJECT_ERRORS[reason], `${address}: ${text[reason]}`);
  endedByPeer.add(error);
  return error;
}

async function expectFrame<T extends Frame['type']>(
  connection: Connection,
  types: T[],
): Promise<Extract<Frame, { type: T }>> {
  const frame = await connection.nextFrame();
  if (!(types as string[]).includes(frame.type)) {
    throw new MeshwireError(
      'ERR_UNEXPECTED_FRAME',
      `expected ${types.join(' or ')} during handshake, got ${frame.type}`,
    );
  }
  return frame as Extract<Frame, { type: T }>;
}

function newPeer(remote: Remote, hello: HelloFrame, address: string): Session {
  return {
    id: hello.id,
    name: hello.name || hello.id,
    address,
    remoteAddress: remote.remoteAddress,
    direction: remote.direction,
    connection: remote.connection,
    // An inbound peer known only by its socket's address (an ephemeral port) cannot be dialled:
    // it must not reach peer lists or the peer book until it says where it listens.
    advertised: remote.direction === 'outbound' || address !== remote.remoteAddress,
  };
}

/** Registers the peer or explains the refusal; returns the admitted peer and who it replaced. */
function admitOrThrow(
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
export interface Handshaken {
  /** The admitted session (the object the host's `admit` accepted). */
  peer: Session;
  replaced?: Session;
}

/** Compat dialer: `ID:NAME` + `LISTEN:`, then the listener's hello or DUPLICATE / MAX_PEERS. */
export async function compatOutbound(ctx: HandshakeContext, remote: Remote): Promise<Handshaken> {
  const { connection } = remote;
  connection.write(ctx.selfHello(connection));
  connection.write({ type: 'listen', address: ctx.advertisedAddress(connection) });
  const answer = await expectFrame(connection, ['hello', 'reject']);
  if (answer.type === 'reject') throw rejectedBy(answer.reason, remote.address);
  const result = admitOrThrow(ctx, newPeer(remote, answer, remote.address));
  if (result.refusal) throw result.error;
  return result;
}

/** Compat listener: reads the hello (and LISTEN if it came with it), answers at once. */
export async function compatInbound(ctx: HandshakeContext, remote: Remote): Promise<Handshaken> {
  const { connection } = remote;
  const hello = await expectFrame(connection, ['hello']);
  const listen = connection.takeHeldIf((f) => f.type === 'listen');
  const address =
    listen?.type === 'listen' ? reachableListenAddress(listen.address, remote.remoteAddress) : remote.address;
  const result = admitOrThrow(ctx, newPeer(remote, hello, address));
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

function proofFor(ctx: HandshakeContext, connection: Connection, role: 'client' | 'server'): Frame[] {
  if (!ctx.networkKey) return [];
  return [{ type: 'auth', proof: networkKeyProof(connection.socket as TLSSocket, ctx.networkKey, role) }];
}

/** Reads the peer's [auth] + hello and checks proof, claimed ID and version. Returns the hello. */
async function readNativeHello(
  ctx: HandshakeContext,
  remote: Remote,
  peerRole: 'client' | 'server',
): Promise<HelloFrame> {
  const { connection } = remote;
  // Rule 27: goodbye may come at any time; report its reason instead of "unexpected frame".
  let frame = await expectFrame(connection, ['auth', 'reject', 'hello', 'goodbye']);
  if (frame.type === 'reject') throw rejectedBy(frame.reason, remote.address);
  if (frame.type === 'goodbye') throw saidGoodbye(frame.reason, remote.address);
  if (ctx.networkKey) {
    if (
      frame.type !== 'auth' ||
      !verifyNetworkKeyProof(connection.socket as TLSSocket, ctx.networkKey, peerRole, frame.proof)
    ) {
      throw new MeshwireError('ERR_UNAUTHORIZED', `${remote.address}: peer did not prove the network key`);
    }
    frame = await expectFrame(connection, ['hello', 'reject', 'goodbye']);
    if (frame.type === 'reject') throw rejectedBy(frame.reason, remote.address);
    if (frame.type === 'goodbye') throw saidGoodbye(frame.reason, remote.address);
  } else if (frame.type === 'auth') {
    // Rule 25.1: a proof we cannot check is a configuration mismatch, refused as unauthorized.
    throw new MeshwireError(
      'ERR_UNAUTHORIZED',
      `${remote.address}: peer proves a network key, but this node has none (networkKey differs)`,
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

function saidGoodbye(reason: string, address: string): MeshwireError {
  const error = new MeshwireError(
    'ERR_CONNECTION_CLOSED',
    `${address}: peer said goodbye during the handshake: ${reason}`,
  );
  endedByPeer.add(error);
  return error;
}

async function authorize(ctx: HandshakeContext, id: string, remote: Remote): Promise<void> {
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

/** Rule 26: the goodbye reason a dialer sends when the listener's [auth] + hello fails its checks. */
function dialerGoodbyeReason(err: unknown): string | undefined {
  const code = err instanceof MeshwireError ? err.code : undefined;
  if (code === 'ERR_VERSION_MISMATCH') return 'version';
  if (code === 'ERR_UNAUTHORIZED' || code === 'ERR_PEER_ID_MISMATCH') return 'unauthorized';
  if (code === 'ERR_UNEXPECTED_FRAME') return 'protocol-error';
  return undefined;
}

/** Native dialer (inside TLS): [auth] + hello, then the listener's [auth] + hello or a reject. */
export async function nativeOutbound(ctx: HandshakeContext, remote: Remote): Promise<Handshaken> {
  const { connection } = remote;
  for (const frame of proofFor(ctx, connection, 'client')) connection.write(frame);
  connection.write(ctx.selfHello(connection));
  let hello: HelloFrame;
  try {
    hello = await readNativeHello(ctx, remote, 'server');
    await authorize(ctx, hello.id, remote);
  } catch (err) {
    // A reject or goodbye from the listener (or a closed connection) gets no answer.
    const reason = dialerGoodbyeReason(err);
    if (reason && !endedByPeer.has(err as MeshwireError) && !connection.closed) {
      connection.write({ type: 'goodbye', reason });
      connection.end();
    }
    throw err;
  }
  const result = admitOrThrow(ctx, newPeer(remote, hello, remote.address));
  if (result.refusal) {
    connection.write({ type: 'goodbye', reason: result.refusal });
    connection.end();
    throw result.error;
  }
  return result;
}

/** Native listener (inside TLS): verifies the dialer completely before it says anything. */
export async function nativeInbound(ctx: HandshakeContext, remote: Remote): Promise<Handshaken> {
  const { connection } = remote;
  let hello: HelloFrame;
  try {
    hello = await readNativeHello(ctx, remote, 'client');
    await authorize(ctx, hello.id, remote);
  } catch (err) {
    const reason: RejectReason =
      err instanceof MeshwireError && err.code === 'ERR_VERSION_MISMATCH' ? 'version' : 'unauthorized';
    // Rule 31: a peer that said goodbye is not answered.
    if (!connection.closed && !endedByPeer.has(err as MeshwireError)) {
      connection.write({ type: 'reject', reason });
      connection.end();
    }
    throw err;
  }
  const address = hello.listen[0]
    ? reachableListenAddress(hello.listen[0], remote.remoteAddress)
    : remote.address;
  const result = admitOrThrow(ctx, newPeer(remote, hello, address));
  if (result.refusal) {
    connection.write(
      result.refusal === 'self'
        ? { type: 'goodbye', reason: 'self' }
        : { type: 'reject', reason: result.refusal },
    );
    connection.end();
    throw result.error;
  }
  for (const frame of proofFor(ctx, connection, 'server')) connection.write(frame);
  connection.write(ctx.selfHello(connection));
  return result;
}
