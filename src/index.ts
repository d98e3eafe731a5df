/**
 * meshwire: small, fast, secure full-mesh peer-to-peer messaging for Node.js.
 * This module is the curated public surface; everything else is internal.
 */
export {
  P2PNode,
  createNode,
  type ConnectOptions,
  type PeerInfo,
  type KnownPeerInfo,
  type NetworkInfo,
} from './node.js';
export type { NodeOptions, Mode } from './options.js';
export {
  DEFAULT_MAX_PEERS,
  DEFAULT_DISCOVERY_INTERVAL_MS,
  DEFAULT_MAINTENANCE_INTERVAL_MS,
  DEFAULT_CONNECTION_TIMEOUT_MS,
  DEFAULT_PEER_TIMEOUT_MS,
  DEFAULT_MAX_BYTES_PER_MESSAGE,
  DEFAULT_BOOTSTRAP_RETRY_MS,
  DEFAULT_MAX_LINE_BYTES,
} from './options.js';
export type * from './messages.js';
export type { MessageStreamOptions } from './message-stream.js';
export type { NodeOverlayStats, OverlayCounters } from './mesh/overlay-driver.js';
export type { OverlayStats } from './overlay/overlay.js';
export type { OverlayReport, MessageId } from './overlay/types.js';
export { MeshwireError, CodecError, PERMANENT_DIAL_ERRORS, type ErrorCode } from './errors.js';
export { TypedEmitter, type WaitForOptions } from './typed-emitter.js';
export type { Frame, FrameType, PeerAddress } from './codec/frame.js';
export { CompatDecoder, CompatEncoder } from './codec/compat.js';
export { NativeDecoder, NativeEncoder, PROTOCOL_VERSION } from './codec/native.js';
export {
  DEFAULT_CODEC_LIMITS,
  type CodecLimits,
  type FrameDecoder,
  type FrameEncoder,
} from './codec/codec.js';
export {
  createIdentity,
  loadOrCreateIdentity,
  peerIdFromPublicKey,
  shortPeerId,
  type Identity,
} from './secure/identity.js';
export { deriveNetworkKey } from './secure/network-key.js';
export { generateNetworkKey, GENERATED_NETWORK_KEY_BITS } from './secure/network-key-gen.js';
export { parseAddress, tryParseAddress, formatAddress, type HostPort } from './address.js';
export type { Transport, TransportConnection, Listener, DialTarget } from './transport/transport.js';
export { tcpTransport } from './transport/tcp.js';
export { MemoryNetwork } from './transport/memory.js';
