/**
 * What the application sees of a delivered overlay broadcast: a chat (kind 0, UTF-8) or bytes
 * (kind 1) message from the original sender; anything else is reported as an error, never
 * dropped silently.
 */
import { MeshwireError } from '../errors.js';
import type { MeshMessage, PeerRef, WithoutTime } from '../messages.js';
import { peerRef, type Peer } from '../peers/peer.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The message to report for a broadcast of `sender`: with its name and address when it is a
 * connected peer (`known`), else its ID as name and `''` as address.
 */
export function deliveryMessage(
  sender: string,
  kind: number,
  payload: Uint8Array,
  known: Peer | undefined,
): WithoutTime<MeshMessage> {
  const from: PeerRef = known ? peerRef(known) : { id: sender, name: sender, address: '' };
  if (kind === 1) return { type: 'bytes', from, data: payload };
  if (kind === 0) {
    try {
      return { type: 'chat', from, text: utf8.decode(payload) };
    } catch {
      const error = new MeshwireError('ERR_MALFORMED_FRAME', 'overlay chat broadcast is not valid UTF-8');
      return { type: 'error', error, peer: from };
    }
  }
  const error = new MeshwireError('ERR_MALFORMED_FRAME', `overlay broadcast of unknown kind ${kind}`);
  return { type: 'error', error, peer: from };
}
