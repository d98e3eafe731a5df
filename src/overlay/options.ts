/**
 * Options of the overlay core, their defaults and their validation. Every duration is in
 * milliseconds on the driver's clock (the same clock as the `now` passed to the core).
 */
import { MeshwireError } from '../errors.js';
import type { PeerInfo, Signer, Verifier } from './types.js';

/** How a broadcast spreads: Plumtree, or one of the two baselines the simulator compares with. */
export type BroadcastMode = 'plumtree' | 'flood' | 'direct';

/** A token bucket: `perSecond` tokens refill each second, at most `burst` are saved up. */
export interface RateLimit {
  perSecond: number;
  burst: number;
}

/** Options of {@link Overlay}. Only `self`, `signer` and `verifier` are required. */
export interface OverlayOptions {
  /** This node's ID and the address others should dial. */
  self: PeerInfo;
  /** Signs this node's broadcasts. */
  signer: Signer;
  /** Verifies every broadcast before it is delivered or relayed. */
  verifier: Verifier;
  /** Source of randomness in [0, 1). Inject a seeded one for determinism. @default Math.random */
  random?: () => number;
  /** The sender epoch of this run; must grow across restarts (e.g. start time in ms). @default 0 */
  epoch?: number;
  /** Active view size: the most neighbours (connections) the overlay keeps. @default 10 */
  maxPeers?: number;
  /** Passive view size (backup addresses). @default max(30, 6 × maxPeers) */
  passiveViewSize?: number;
  /** Active random walk length of FORWARD_JOIN (HyParView's ARWL). @default 6 */
  activeWalkLength?: number;
  /** Walk step at which a FORWARD_JOIN puts the newcomer in the passive view (PRWL). @default 3 */
  passiveWalkLength?: number;
  /** How often a shuffle starts. @default 10000 */
  shuffleIntervalMs?: number;
  /** Active-view entries in a shuffle. @default 3 */
  shuffleActive?: number;
  /** Passive-view entries in a shuffle. @default 4 */
  shufflePassive?: number;
  /** Random walk length of a shuffle. @default 6 */
  shuffleWalkLength?: number;
  /**
   * Entries of the network-size sketch (k of the k-minimum-values estimate, carried in shuffles:
   * 6 bytes each). Relative standard error about 1 / sqrt(k − 2); exact below k members. @default 128
   */
  sizeSketchSize?: number;
  /**
   * A sketch entry its owner has not refreshed for this long is dropped (departed members leave
   * the estimate; halves split this long no longer look alike). @default 12 × shuffleIntervalMs
   */
  sizeTtlMs?: number;
  /**
   * Every this long (jittered 0.5× to 1.5×) the node probes an address from its passive view or
   * learned candidates that is not a neighbour; if their size sketches show they are in different
   * overlays (split halves), the two become neighbours, which merges the halves. @default 30000
   */
  rejoinIntervalMs?: number;
  /** Most learned candidates (peer exchange, peer book), kept apart from the passive view. @default passiveViewSize */
  learnedViewSize?: number;
  /** Maintenance period: refill the active view, expire requests and caches. @default 1000 */
  tickMs?: number;
  /** A NEIGHBOR or JOIN request unanswered this long has failed. @default 10000 */
  neighborTimeoutMs?: number;
  /** IHAVE announcements are batched and sent this often. @default 50 */
  ihaveIntervalMs?: number;
  /** A message announced by IHAVE and not received this long after is grafted. @default 150 */
  graftTimeoutMs?: number;
  /** Time before grafting from the next announcer when a graft brought nothing. @default 75 */
  graftRetryMs?: number;
  /**
   * A broadcast is relayed at most this many hops; more is dropped and reported. Loops are
   * impossible anyway (every node relays a message once); the limit bounds abuse. Repairs after
   * losses lengthen paths (10 % loss: p99 24 hops in 1,000 nodes), hence the headroom. @default 64
   */
  maxHops?: number;
  /** How long a payload is kept to answer GRAFTs. @default 30000 */
  cacheRetentionMs?: number;
  /** Most payloads kept to answer GRAFTs. @default 1024 */
  maxCachedMessages?: number;
  /** Most out-of-order messages held back per sender; beyond, the gap is skipped. @default 256 */
  maxHoldBack?: number;
  /** A gap in a sender's sequence is skipped (and reported) after this long. @default 3000 */
  gapTimeoutMs?: number;
  /** Most senders whose order state is kept (least recently active forgotten). @default 10000 */
  maxSenders?: number;
  /** A sender silent this long is forgotten (its order restarts if it speaks again). @default 600000 */
  senderTtlMs?: number;
  /** Broadcast payloads accepted from one neighbour (relayed traffic). @default 5000/s, burst 10000 */
  peerRate?: RateLimit;
  /** Broadcasts accepted per original sender, own ones included. @default 200/s, burst 1000 */
  originRate?: RateLimit;
  /**
   * Announce (IHAVE) every payload to eager neighbours too, not only to lazy ones (the paper's
   * Plumtree trusts eager links). A payload lost on an eager link is then still announced by the
   * parent, so even the last message of a sender is repaired. In the simulator it costs ~4 % more
   * frames (IHAVEs are batched) and takes 10 % silent loss from 0.9995 to 1.0. @default true
   */
  announceToEager?: boolean;
  /**
   * Each node announces a message (IHAVE) to at most this many of its lazy neighbours for that
   * message's sender, picked at random per message (the paper's Plumtree announces to every lazy
   * neighbour). A node then hears of each message from about this many neighbours instead of
   * all of them: enough to repair a broken tree link, for a third of the IHAVE entries at
   * `maxPeers` 10 (README "Simulation"). The tick's re-announcement of a quiet sender's newest
   * message and the announcement to a new neighbour still go to every neighbour. Below 3, 10 %
   * frame loss in the simulator left messages undelivered. @default 3
   */
  lazyFanout?: number;
  /** Broadcast mode; `flood` and `direct` are baselines for the simulator. @default 'plumtree' */
  mode?: BroadcastMode;
  /**
   * Seed a new sender's tree from an existing pruned tree instead of flooding its first
   * broadcast (README "Simulation": ~2× fewer frames, but longer paths until the tree
   * optimisation has shortened them). @default false
   */
  seedTrees?: boolean;
}

/** Options with every default filled in. */
export type ResolvedOverlayOptions = Required<OverlayOptions>;

/** Largest value accepted for any count option: far beyond sensible, small enough to be safe. */
const MAX_COUNT = 1_000_000;

function count(name: keyof OverlayOptions, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min || value > MAX_COUNT) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      `overlay option ${String(name)} must be an integer in ${min}..${MAX_COUNT}, got ${String(value)}`,
    );
  }
  return value;
}

function duration(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 2 ** 31) {
    throw new MeshwireError('ERR_INVALID_OPTION', `overlay option ${name} must be a positive duration in ms`);
  }
  return value;
}

function rate(name: string, value: RateLimit): RateLimit {
  if (
    typeof value !== 'object' ||
    value === null ||
    !(value.perSecond > 0) ||
    !(value.burst >= 1) ||
    !Number.isFinite(value.perSecond) ||
    !Number.isFinite(value.burst)
  ) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      `overlay option ${name} needs perSecond > 0 and burst >= 1`,
    );
  }
  return { perSecond: value.perSecond, burst: value.burst };
}

/** Fills in defaults and validates; throws `ERR_INVALID_OPTION` naming the first bad option. */
export function resolveOverlayOptions(o: OverlayOptions): ResolvedOverlayOptions {
  if (!o.self || typeof o.self.id !== 'string' || o.self.id.length === 0) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option self needs a non-empty id');
  }
  if (!o.signer || typeof o.signer.sign !== 'function') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option signer must have a sign() method');
  }
  if (!o.verifier || typeof o.verifier.verify !== 'function') {
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option verifier must have a verify() method');
  }
  const maxPeers = count('maxPeers', o.maxPeers ?? 10, 1);
  const mode = o.mode ?? 'plumtree';
  if (mode !== 'plumtree' && mode !== 'flood' && mode !== 'direct') {
    throw new MeshwireError('ERR_INVALID_OPTION', `overlay option mode must be plumtree, flood or direct`);
  }
  const epoch = o.epoch ?? 0;
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option epoch must be a non-negative safe integer');
  }
  const activeWalkLength = count('activeWalkLength', o.activeWalkLength ?? 6, 0);
  const passiveWalkLength = count('passiveWalkLength', o.passiveWalkLength ?? 3, 0);
  if (activeWalkLength > 255 || passiveWalkLength > activeWalkLength) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      'overlay options activeWalkLength (<= 255) and passiveWalkLength (<= activeWalkLength) are inconsistent',
    );
  }
  const maxHops = count('maxHops', o.maxHops ?? 64, 1);
  if (maxHops > 255) throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option maxHops must be <= 255');
  const shuffleWalkLength = count('shuffleWalkLength', o.shuffleWalkLength ?? 6, 1);
  if (shuffleWalkLength > 255) {
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option shuffleWalkLength must be <= 255');
  }
  const cacheRetentionMs = duration('cacheRetentionMs', o.cacheRetentionMs ?? 30_000);
  const senderTtlMs = duration('senderTtlMs', o.senderTtlMs ?? 600_000);
  if (senderTtlMs <= cacheRetentionMs) {
    // A sender forgotten while its payloads can still be grafted could be delivered twice.
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option senderTtlMs must exceed cacheRetentionMs');
  }
  const shuffleIntervalMs = duration('shuffleIntervalMs', o.shuffleIntervalMs ?? 10_000);
  const sizeSketchSize = count('sizeSketchSize', o.sizeSketchSize ?? 128, 2);
  if (sizeSketchSize > 256)
    throw new MeshwireError('ERR_INVALID_OPTION', 'overlay option sizeSketchSize must be <= 256');
  const passiveViewSize = count('passiveViewSize', o.passiveViewSize ?? Math.max(30, 6 * maxPeers), 1);
  return {
    self: { id: o.self.id, address: o.self.address ?? '' },
    signer: o.signer,
    verifier: o.verifier,
    random: o.random ?? Math.random,
    epoch,
    maxPeers,
    passiveViewSize,
    learnedViewSize: count('learnedViewSize', o.learnedViewSize ?? passiveViewSize, 0),
    sizeSketchSize,
    sizeTtlMs: duration('sizeTtlMs', o.sizeTtlMs ?? 12 * shuffleIntervalMs),
    rejoinIntervalMs: duration('rejoinIntervalMs', o.rejoinIntervalMs ?? 30_000),
    activeWalkLength,
    passiveWalkLength,
    shuffleIntervalMs,
    shuffleActive: count('shuffleActive', o.shuffleActive ?? 3, 0),
    shufflePassive: count('shufflePassive', o.shufflePassive ?? 4, 0),
    shuffleWalkLength,
    tickMs: duration('tickMs', o.tickMs ?? 1000),
    neighborTimeoutMs: duration('neighborTimeoutMs', o.neighborTimeoutMs ?? 10_000),
    ihaveIntervalMs: duration('ihaveIntervalMs', o.ihaveIntervalMs ?? 50),
    graftTimeoutMs: duration('graftTimeoutMs', o.graftTimeoutMs ?? 150),
    graftRetryMs: duration('graftRetryMs', o.graftRetryMs ?? 75),
    maxHops,
    cacheRetentionMs,
    maxCachedMessages: count('maxCachedMessages', o.maxCachedMessages ?? 1024, 1),
    maxHoldBack: count('maxHoldBack', o.maxHoldBack ?? 256, 1),
    gapTimeoutMs: duration('gapTimeoutMs', o.gapTimeoutMs ?? 3000),
    maxSenders: count('maxSenders', o.maxSenders ?? 10_000, 1),
    senderTtlMs,
    peerRate: rate('peerRate', o.peerRate ?? { perSecond: 5000, burst: 10_000 }),
    originRate: rate('originRate', o.originRate ?? { perSecond: 200, burst: 1000 }),
    announceToEager: o.announceToEager ?? true,
    lazyFanout: count('lazyFanout', o.lazyFanout ?? 3, 0),
    mode,
    seedTrees: o.seedTrees ?? false,
  };
}
