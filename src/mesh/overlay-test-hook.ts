/**
 * Test-only hooks of the overlay driver (src/internal.ts `setOverlayTestHook`), never part of
 * the public API: they make a node misbehave (tamper with what it sends, send forged messages)
 * or tune its core, so the attack tests run over real sockets without a second implementation.
 */
import type { OverlayMessage, OverlayOptions } from '../overlay/index.js';

/** What a test may change in one node's overlay. */
export interface OverlayTestHook {
  /** Core options applied when the node starts (set the hook before `start()`). */
  core?: Partial<OverlayOptions>;
  /** Sees every overlay message this node sends: return it (possibly altered) or null to drop it. */
  outgoing?(to: string, message: OverlayMessage): OverlayMessage | null;
  /** Called once the driver exists, with a way to send any overlay message to a connected peer. */
  attach?(api: { send(to: string, message: OverlayMessage): void }): void;
}

/** Test hooks by the node's resolved options object (set through src/internal.ts). */
export const overlayTestHooks = new WeakMap<object, OverlayTestHook>();
