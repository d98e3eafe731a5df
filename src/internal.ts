/**
 * Internals for meshwire's own tests and tools, kept out of the public surface (`index.ts`), as
 * nats.js does with its `internal_mod.ts`. Nothing here is covered by semver.
 */
export { nodeOptions } from './node.js';
export { Connection, type ConnectionLimits } from './session/connection.js';
export { PeerTable, peerRef, type Peer } from './peers/peer-table.js';
export { PeerBook, type KnownPeer } from './discovery/peer-book.js';
export { Discovery, type DiscoveryHost, type DiscoveryOptions } from './discovery/discovery.js';
export { DialBudget } from './discovery/dial-budget.js';
export { MessageStream } from './message-stream.js';
