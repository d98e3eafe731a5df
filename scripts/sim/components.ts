/**
 * Connected components of the live nodes' active views (an edge when either side lists the
 * other), as the simulator reports them.
 */
import type { Overlay } from '../../src/overlay/index.js';

/** Number of connected components among the nodes with `alive[i]` set. */
export function countComponentsOf(
  nodes: readonly Overlay[],
  alive: Uint8Array,
  index: ReadonlyMap<string, number>,
): number {
  const N = nodes.length;
  const seen = new Uint8Array(N);
  const adj: number[][] = nodes.map(() => []);
  for (let i = 0; i < N; i++) {
    if (!alive[i]) continue;
    for (const p of nodes[i]!.membership.active.values()) {
      const j = index.get(p.id)!;
      if (alive[j]) {
        adj[i]!.push(j);
        adj[j]!.push(i);
      }
    }
  }
  let components = 0;
  const stack: number[] = [];
  for (let i = 0; i < N; i++) {
    if (!alive[i] || seen[i]) continue;
    components++;
    seen[i] = 1;
    stack.push(i);
    while (stack.length > 0) {
      const x = stack.pop()!;
      for (const y of adj[x]!) {
        if (!seen[y]) {
          seen[y] = 1;
          stack.push(y);
        }
      }
    }
  }
  return components;
}
