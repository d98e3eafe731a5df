/**
 * Internals for meshwire's own tests and tools, kept out of the public surface (`index.ts`), as
 * nats.js does with its `internal_mod.ts`. Nothing here is covered by semver.
 */
import { nodeOptions, type P2PNode } from './node.js';
import { overlayTestHooks, type OverlayTestHook } from './mesh/overlay-driver.js';

export { nodeOptions };
export type { OverlayTestHook };

/**
 * Makes `node`'s overlay misbehave or tunes its core, for tests only (set it before `start()`):
 * see {@link OverlayTestHook}.
 */
export function setOverlayTestHook(node: P2PNode, hook: OverlayTestHook): void {
  overlayTestHooks.set(nodeOptions(node), hook);
}
export { Connection, CONTROL_SLACK_BYTES, type ConnectionLimits } from './session/connection.js';
export { reachableListenAddress } from './session/listen-address.js';
export type { Session } from './session/session.js';
export { PeerTable, peerRef, type Admission, type Peer } from './peers/peer-table.js';
export {
  Heartbeat,
  type HeartbeatHost,
  type HeartbeatMessage,
  type HeartbeatOptions,
} from './peers/heartbeat.js';
export { closeReason, NO_REDIAL_REASONS } from './peers/disconnect-reason.js';
export { PeerBook, type KnownPeer } from './discovery/peer-book.js';
export {
  Discovery,
  type CandidateOptions,
  type DiscoveryHost,
  type DiscoveryOptions,
} from './discovery/discovery.js';
export { PeerExchange, type PeerExchangeHost } from './discovery/peer-exchange.js';
export { DialBudget } from './discovery/dial-budget.js';
export { bootstrap, type BootstrapHost } from './discovery/bootstrap.js';
export { SelfAddresses } from './discovery/self-addresses.js';
export { MessageStream, type MessageStreamOptions } from './message-stream.js';
export { MemoryNetwork } from './transport/memory.js';
export { tcpTransport } from './transport/tcp.js';
export type { Transport, TransportConnection } from './transport/transport.js';
