/**
 * Connected components of the live nodes' active views (an edge when either side lists the
 * other), as the simulator reports them. One algorithm over node indices serves both engines:
 * the single-threaded one reads the cores directly, the parallel one gets each worker's views
 * as index lists.
 */
import type { Overlay } from '../../src/overlay/index.js';

/**
 * Number of connected components among the `n` nodes with `alive[i]` set, given each node's
 * neighbours as indices (`neighbors(i)`; `undefined` for none). Edges are made symmetric here.
 */
export function countComponentsIndexed(
  n: number,
  alive: ArrayLike<number>,
  neighbors: (i: number) => ArrayLike<number> | undefined,
): number {
  const seen = new Uint8Array(n);
  const adj: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++) {
    if (!alive[i]) continue;
    const list = neighbors(i);
    if (list === undefined) continue;
    for (let x = 0; x < list.length; x++) {
      const j = list[x]!;
      if (j >= 0 && j < n && alive[j]) {
        adj[i]!.push(j);
        adj[j]!.push(i);
      }
    }
  }
  let components = 0;
  const stack: number[] = [];
  for (let i = 0; i < n; i++) {
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

/** Number of connected components among the nodes with `alive[i]` set. */
export function countComponentsOf(
  nodes: readonly Overlay[],
  alive: Uint8Array,
  index: ReadonlyMap<string, number>,
): number {
  return countComponentsIndexed(nodes.length, alive, (i) =>
    Array.from(nodes[i]!.membership.active.values(), (p) => index.get(p.id) ?? -1),
  );
}
