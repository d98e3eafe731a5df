import { randomBytes } from 'node:crypto';
import type { Frame } from '../codec/frame.js';
import type { MeshCore } from '../core.js';
import type { Discovery } from '../discovery/discovery.js';
import { MeshwireError } from '../errors.js';
import { reachableListenAddress } from '../session/handshake.js';
import { peerRef, type Peer } from './peer-table.js';

/** Handles one frame from a connected peer. Anything out of place drops that peer, never the node. */
export function handlePeerFrame(core: MeshCore, discovery: Discovery, peer: Peer, frame: Frame): void {
  peer.lastSeen = Date.now();
  switch (frame.type) {
    case 'chat':
      core.report({ type: 'chat', from: peerRef(peer), text: frame.text });
      return;
    case 'bytes':
      core.report({ type: 'bytes', from: peerRef(peer), data: frame.data });
      return;
    case 'ping':
      if (core.options.debug) core.report({ type: 'ping', peer: peerRef(peer), direction: 'received' });
      if (!isBackedUp(core, peer)) core.sendControl(peer, { type: 'pong', nonce: frame.nonce });
      return;
    case 'pong':
      if (peer.pingSentAt !== undefined && (peer.pingNonce === undefined || peer.pingNonce === frame.nonce)) {
        peer.rttMs = Date.now() - peer.pingSentAt;
        peer.pingSentAt = undefined;
      }
      if (core.options.debug) {
        core.report({
          type: 'pong',
          peer: peerRef(peer),
          direction: 'received',
          ...(peer.rttMs !== undefined ? { rttMs: peer.rttMs } : {}),
        });
      }
      return;
    case 'request-peers':
      if (core.options.debug)
        core.report({ type: 'peer-request', peer: peerRef(peer), direction: 'received' });
      if (!isBackedUp(core, peer)) discovery.sharePeers(peer);
      return;
    case 'peers':
      discovery.onPeers(peer, frame);
      return;
    case 'listen':
      // A LISTEN line that arrived after the hello was answered: now we know where it listens.
      updateAddress(core, peer, reachableListenAddress(frame.address, peer.remoteAddress));
      return;
    case 'goodbye':
      core.dropPeer(
        peer,
        'goodbye',
        new MeshwireError('ERR_CONNECTION_CLOSED', `peer said goodbye: ${frame.reason}`),
      );
      return;
    default:
      core.dropPeer(
        peer,
        'protocol-error',
        new MeshwireError('ERR_UNEXPECTED_FRAME', `unexpected ${frame.type} frame after the handshake`),
      );
  }
}

/**
 * True while `peer` leaves more than a high-water mark of our data unread: its pings and peer
 * requests then go unanswered. Answering a peer that does not read only queues replies, and one
 * that floods requests (a few bytes each, answered with a whole peer list) could otherwise make
 * this node hold many times what it sends, up to maxSendQueueBytes per peer. Its liveness does
 * not suffer: the peer timeout counts any frame received, not pongs.
 */
function isBackedUp(core: MeshCore, peer: Peer): boolean {
  return peer.connection.queuedBytes > core.options.sendHighWaterMark;
}

function updateAddress(core: MeshCore, peer: Peer, address: string): void {
  if (peer.address === address) return;
  core.table.setAddress(peer, address);
  peer.advertised = true;
  core.book.recordClaim(address, peer.id, Date.now(), peer.id);
}

/** Sends one heartbeat ping (with a nonce when the protocol carries one, for RTT). */
export function pingPeer(core: MeshCore, peer: Peer, withNonce: boolean): void {
  const nonce = withNonce ? randomBytes(8).readBigUInt64BE() : 0n;
  peer.pingNonce = withNonce ? nonce : undefined;
  peer.pingSentAt = Date.now();
  core.sendControl(peer, { type: 'ping', nonce });
  if (core.options.debug) core.report({ type: 'ping', peer: peerRef(peer), direction: 'sent' });
}

/** Sends the heartbeat to every peer. */
export function pingAll(core: MeshCore, withNonce: boolean): void {
  for (const peer of [...core.table.values()]) pingPeer(core, peer, withNonce);
}
