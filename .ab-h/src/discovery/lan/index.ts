/** LAN discovery (mDNS / DNS-SD): the pieces the node wires in. */
export { LanDiscovery } from './lan-discovery.js';
export type { LanCounters } from './counters.js';
export type { LanPeer } from './lan-peers.js';
export { LAN_DEFAULTS, type LanCandidate, type LanDiscoveryOptions, type LanGoneReason } from './options.js';
export { identitySigner, verifyPeerSignature, type LanSigner } from './signer.js';
export { SERVICE_TYPE, type LanMode, type RejectReason } from './record.js';
export { selectInterfaces, type LanInterface } from './interfaces.js';
