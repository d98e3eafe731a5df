import type { Frame, RejectReason } from '../codec/frame.js';
import { MeshwireError } from '../errors.js';
import type { Connection } from './connection.js';

/** The error a dialer reports for each reject reason of the listener. */
export const REJECT_ERRORS: Record<RejectReason, MeshwireError['code']> = {
  duplicate: 'ERR_DUPLICATE_PEER',
  'max-peers': 'ERR_MAX_PEERS',
  unauthorized: 'ERR_UNAUTHORIZED',
  version: 'ERR_VERSION_MISMATCH',
  'rate-limited': 'ERR_RATE_LIMITED',
};

/** Errors that report the peer's own reject or goodbye: the connection is over, nothing is answered. */
export const endedByPeer = new WeakSet<MeshwireError>();

/** The error for the listener's reject frame (marked as ended by the peer). */
export function rejectedBy(reason: RejectReason, address: string): MeshwireError {
  const text: Record<RejectReason, string> = {
    duplicate: 'already connected to that peer (DUPLICATE)',
    'max-peers': 'the peer has no free slot (MAX_PEERS)',
    unauthorized:
      'the peer refused us as unauthorized (its allow-list or firewall, or a network key that differs or is missing)',
    version: 'the peer speaks another protocol version',
    'rate-limited':
      'the peer refuses network-key attempts from this address for now (too many failed attempts; try again later)',
  };
  const error = new MeshwireError(REJECT_ERRORS[reason], `${address}: ${text[reason]}`);
  endedByPeer.add(error);
  return error;
}

/** The error for a goodbye received during the handshake (marked as ended by the peer). */
export function saidGoodbye(reason: string, address: string): MeshwireError {
  const error = new MeshwireError(
    'ERR_CONNECTION_CLOSED',
    `${address}: peer said goodbye during the handshake: ${reason}`,
  );
  endedByPeer.add(error);
  return error;
}

/** The next frame, which must be of one of `types` (else `ERR_UNEXPECTED_FRAME`). */
export async function expectFrame<T extends Frame['type']>(
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
