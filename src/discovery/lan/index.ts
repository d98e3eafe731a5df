/** LAN discovery (mDNS / DNS-SD): the pieces the node wires in. */
export { LanDiscovery, type LanCounters, type LanPeer } from './lan-discovery.js';
export { LAN_DEFAULTS, type LanCandidate, type LanDiscoveryOptions, type LanGoneReason } from './options.js';
export { identitySigner, verifyPeerSignature, type LanSigner } from './signer.js';
export { SERVICE_TYPE, type LanMode, type RejectReason } from './record.js';
export { selectInterfaces, type LanInterface } from './interfaces.js';
