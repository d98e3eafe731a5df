/**
 * The run's scripted steps that both simulator engines make identically: which node sends a
 * broadcast, the broadcast itself, and which nodes die. The draws come from the run's global
 * stream in the same order in every engine and every partition.
 */
import { MeshwireError } from '../../src/errors.js';
import type { Overlay, OverlayAction } from '../../src/overlay/index.js';

/** A live sender for the next broadcast: from the sender pool, else any live node. */
export function drawSender(rng: () => number, pool: readonly number[], alive: Uint8Array): number {
  let sender = pool[Math.floor(rng() * pool.length)]!;
  for (let tries = 0; !alive[sender] && tries < 100; tries++) {
    sender = pool[Math.floor(rng() * pool.length)]!;
  }
  while (!alive[sender]) sender = Math.floor(rng() * alive.length);
  return sender;
}

/**
 * Broadcast number `k` from `node`: an 8-byte payload that starts with `k` (little endian, what
 * `msgIndex` reads). A refusal (the sender's own rate limit) is counted in `reports`.
 */
export function sendBroadcast(
  node: Overlay,
  k: number,
  now: number,
  out: OverlayAction[],
  reports: Record<string, number>,
): void {
  const payload = new Uint8Array(8);
  payload[0] = k & 0xff;
  payload[1] = (k >>> 8) & 0xff;
  payload[2] = (k >>> 16) & 0xff;
  payload[3] = (k >>> 24) & 0xff;
  try {
    node.broadcast(1, payload, now, out);
  } catch (err) {
    if (!(err instanceof MeshwireError)) throw err;
    reports['broadcast-refused'] = (reports['broadcast-refused'] ?? 0) + 1;
  }
}

/** Kills random live nodes until `want` are dead; returns the new count of the dead. */
export function killRandom(rng: () => number, alive: Uint8Array, killed: number, want: number): number {
  while (killed < want) {
    const v = Math.floor(rng() * alive.length);
    if (!alive[v]) continue;
    alive[v] = 0;
    killed++;
  }
  return killed;
}

/** The nodes broadcasts come from: `count` distinct random nodes (the run's first draws). */
export function drawSenderPool(rng: () => number, nodes: number, count: number): number[] {
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(rng() * nodes));
  return [...chosen];
}
