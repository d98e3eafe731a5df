/**
 * `/get <root-prefix>`: which file a typed prefix of a Merkle root means. Pure.
 */

/** Shortest root prefix `/get` accepts. */
export const MIN_ROOT_PREFIX = 4;

/** Candidates listed in an "ambiguous" error. */
const MAX_LISTED = 5;

/** The root a prefix names, or what is wrong, with a hint. */
export type RootLookup = { root: string } | { error: string; hint: string };

/**
 * Resolves `prefix` (hex, case-insensitive) among `known` roots (root -> file name): exactly
 * one must start with it. All 64 digits name a root even when it was never offered (the
 * peers are then asked for it).
 */
export function resolveRootPrefix(prefix: string, known: ReadonlyMap<string, { name: string }>): RootLookup {
  const wanted = prefix.toLowerCase();
  if (!/^[0-9a-f]+$/.test(wanted) || wanted.length > 64) {
    return {
      error: `Not a root: ${JSON.stringify(prefix)}`,
      hint: 'a root is hexadecimal (up to 64 digits); peers print it when they /share a file',
    };
  }
  if (wanted.length < MIN_ROOT_PREFIX) {
    return {
      error: `Root prefix ${wanted} is too short`,
      hint: `give at least ${MIN_ROOT_PREFIX} digits of the root`,
    };
  }
  const matches = [...known].filter(([root]) => root.startsWith(wanted));
  if (matches.length === 1) return { root: (matches[0] as [string, unknown])[0] };
  if (matches.length > 1) {
    const list = matches
      .slice(0, MAX_LISTED)
      .map(([r, m]) => `${r.slice(0, 12)} ${JSON.stringify(m.name)}`)
      .join(', ');
    return {
      error: `Root prefix ${wanted} is ambiguous: ${list}${matches.length > MAX_LISTED ? ', ...' : ''}`,
      hint: 'type more digits of the root (/files lists them)',
    };
  }
  if (wanted.length === 64) return { root: wanted };
  return {
    error: `No file offered with a root starting with ${wanted}`,
    hint: 'roots are printed when a peer runs /share; /files lists the offers seen (or give all 64 digits to ask every peer)',
  };
}
