/**
 * The gossip overlay (secure mode only): HyParView membership + Plumtree broadcast, sans-IO.
 * The node drives it; see README "How big networks work" for the driver contract.
 */
export { Overlay } from './overlay.js';
export type { OverlayStats } from './overlay.js';
export type { BroadcastResult } from './plumtree.js';
export { resolveOverlayOptions } from './options.js';
export type { BroadcastMode, OverlayOptions, RateLimit, ResolvedOverlayOptions } from './options.js';
export {
  decodeOverlayMessage,
  encodeOverlayMessage,
  signedBytes,
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_GRAFT_IDS,
  MAX_IHAVE_ENTRIES,
  MAX_SHUFFLE_PEERS,
  MAX_SIGNATURE_BYTES,
  OVERLAY_TYPE_CODES,
  SIGNING_CONTEXT,
} from './wire.js';
export type { OverlayDecodeLimits } from './wire.js';
export type * from './types.js';
