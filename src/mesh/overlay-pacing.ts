/**
 * How a real overlay node paces its periodic work, where it differs from the core's defaults
 * (which the simulator uses): fewer, larger IHAVE batches, timers spread so that the nodes of one
 * process do not fire together, and no heartbeat on links that carry traffic. What each bought is
 * in bench/README.md ("Overlay latency at 20/s").
 */
import type { OverlayOptions, OverlayTimer } from '../overlay/index.js';

/**
 * Overlay core options of a real node that differ from the core's defaults.
 *
 * `ihaveIntervalMs` 200 instead of 50: every node announces every broadcast to its other
 * neighbours in batched IHAVEs, and at a few broadcasts per second a 50 ms batch holds one
 * message, so IHAVE frames (a TLS record, a write and a read each) outnumbered the payloads ~2 to
 * 1 (overlay-cpu probe at 20/s: 3.5-4.8 IHAVE frames per delivery, 1.4-1.7 at 200 ms). IHAVEs
 * only repair: over TCP a payload is lost only with its connection, so what waits longer is the
 * repair after a broken link (a graft after 200 ms + graftTimeoutMs instead of 50 ms + it), never
 * a delivery along the tree. Test hooks may override it.
 */
export const NODE_OVERLAY_CORE: Partial<OverlayOptions> = { ihaveIntervalMs: 200 };

/**
 * Extra delay for a core timer, random each time: a tick up to 20 %, an IHAVE batch up to 25 %
 * later. The nodes of one process hear a broadcast within a few ms of each other and arm their
 * IHAVE timers together, and a blocked event loop lets every tick due meanwhile fire in one batch
 * and re-arm for the same moment: without a spread, 25 nodes' timers run back to back and hold
 * the loop. Only later, never earlier: the core's clock must not run backwards.
 */
export function timerSpread(timer: OverlayTimer, delayMs: number): number {
  if (timer.kind === 'tick') return Math.random() * 0.2 * Math.max(0, delayMs);
  if (timer.kind === 'ihave') return Math.random() * 0.25 * Math.max(0, delayMs);
  return 0;
}

/**
 * The peers an overlay node's heartbeat round should ping (and judge): those not heard from
 * within the last period. A link that carries broadcasts needs no PING, and on an idle link the
 * one end that has not heard its neighbour for a period pings it (the other end hears that PING),
 * so it costs one PING and PONG per period instead of two of each. A skipped peer's RTT is the
 * one of its last PONG. Skipping holds only while two more silent periods stay within the timeout
 * (the next round pings, the one after judges), so a short `peerTimeoutMs` keeps every ping.
 */
export function peersToPing<P extends { lastSeen: number }>(
  peers: Iterable<P>,
  now: number,
  periodMs: number,
  peerTimeoutMs: number,
): P[] {
  const quietSince = now - Math.min(periodMs, peerTimeoutMs - 2 * periodMs);
  const quiet: P[] = [];
  for (const peer of peers) if (peer.lastSeen <= quietSince) quiet.push(peer);
  return quiet;
}
