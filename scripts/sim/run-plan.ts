/**
 * A run's settings with their defaults, and its timeline, as both simulator engines read them:
 * one place, so the one-thread engine and every partition of the parallel one agree on when the
 * broadcasts start, when the kill happens and when the run ends.
 */
import type { BroadcastMode } from '../../src/overlay/index.js';
import type { SimOptions } from './types.js';

/** The resolved settings and timeline of a run (times in virtual ms). */
export interface RunPlan {
  N: number;
  M: number;
  seed: number;
  protocol: BroadcastMode;
  latMin: number;
  latMax: number;
  loss: number;
  /** Loss applies to every frame, not only the broadcast ones. */
  lossAll: boolean;
  /** Between two broadcasts. */
  interval: number;
  joinSpacing: number;
  warmup: number;
  settle: number;
  killFraction: number;
  /** Per-delivery order check: off by default above 5 M (message, node) pairs (memory). */
  checkOrder: boolean;
  senderCount: number;
  /** The last node's join. */
  joinEnd: number;
  /** The first broadcast. */
  tStart: number;
  /** Broadcasts before the kill (all of them without one). */
  killIndex: number;
  /** Halfway between broadcast killIndex - 1 and killIndex. */
  tKill: number;
  tEnd: number;
}

export function runPlan(opts: SimOptions): RunPlan {
  const N = opts.nodes;
  const M = opts.messages;
  const [latMin, latMax] = opts.latency ?? [5, 30];
  const interval = opts.intervalMs ?? 10;
  const joinSpacing = opts.joinSpacingMs ?? 2;
  const warmup = opts.warmupMs ?? 5000;
  const settle = opts.settleMs ?? 5000;
  const killFraction = opts.kill ?? 0;
  const joinEnd = (N - 1) * joinSpacing;
  const tStart = joinEnd + warmup;
  const killIndex = killFraction > 0 ? Math.floor(M / 2) : M;
  return {
    N,
    M,
    seed: opts.seed ?? 1,
    protocol: opts.protocol ?? 'plumtree',
    latMin,
    latMax,
    loss: opts.loss ?? 0,
    lossAll: opts.lossScope === 'all',
    interval,
    joinSpacing,
    warmup,
    settle,
    killFraction,
    checkOrder: opts.checkOrder ?? N * M <= 5_000_000,
    senderCount: Math.min(N, opts.senders ?? 100),
    joinEnd,
    tStart,
    killIndex,
    tKill: tStart + killIndex * interval - interval / 2,
    tEnd: tStart + M * interval + settle,
  };
}
