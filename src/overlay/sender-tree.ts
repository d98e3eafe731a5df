/**
 * A sender's broadcast tree as seen by one node, and small helpers of the broadcast layer. The
 * tree is the list of neighbours pruned from it (`SenderState.lazy`); every other neighbour is
 * eager. Lists stay tiny (at most about maxPeers), so arrays beat sets here.
 */
import type { SenderState } from './sender-order.js';
import type { GossipMessage, MessageId, PeerId } from './types.js';

/** Whether `peer` only gets IHAVEs (not payloads) of this sender from us. */
export function isLazy(state: SenderState | undefined, peer: PeerId): boolean {
  return state?.lazy?.includes(peer) ?? false;
}

/** Moves `peer` out of the sender's tree (lazy). */
export function makeLazy(
  state: SenderState | undefined,
  peer: PeerId,
  maxPeers: number,
  isNeighbor: (id: PeerId) => boolean,
): void {
  if (!state) return;
  let lazy = state.lazy;
  if (lazy === null) {
    state.lazy = [peer];
    return;
  }
  if (lazy.includes(peer)) return;
  // Entries of former neighbours are dropped when the list grows, so churn cannot bloat it.
  if (lazy.length >= maxPeers) lazy = lazy.filter((p) => isNeighbor(p));
  // A new array of exactly the right size: `push` would leave room for 16 more, and a
  // simulator holds a million of these lists (10,000 nodes × 100 senders). Prunes are rare.
  state.lazy = lazy.concat(peer);
}

/** Moves `peer` into the sender's tree (eager). */
export function makeEager(state: SenderState | undefined, peer: PeerId): void {
  const lazy = state?.lazy;
  if (!lazy) return;
  const i = lazy.indexOf(peer);
  if (i >= 0) lazy.splice(i, 1);
}

/** A copy with another hop count (a literal, not a spread: this runs for every relayed payload). */
export function withHops(m: GossipMessage, hops: number): GossipMessage {
  return {
    type: 'gossip',
    sender: m.sender,
    epoch: m.epoch,
    seq: m.seq,
    kind: m.kind,
    payload: m.payload,
    hops,
    signature: m.signature,
  };
}

/** The ID part of a message (reports must not keep payloads alive). */
export function idOf(m: MessageId): MessageId {
  return { sender: m.sender, epoch: m.epoch, seq: m.seq };
}

/** A string key for a message ID, for the (small) map of missing messages. */
export function keyOf(id: MessageId): string {
  return `${id.epoch}:${id.seq}:${id.sender}`;
}
