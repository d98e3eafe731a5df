/**
 * SHA-256 of files this process sent before, so sending one file to several peers in turn
 * (the original's FILESTART must carry the whole file's hash before the first chunk) reads and
 * hashes it once for the announcement instead of once per send.
 *
 * An entry is keyed by device and inode and trusted only while size, mtime and ctime (in
 * nanoseconds) are all unchanged: any write to the file moves its ctime, which no user can set
 * back. Timestamps advance by clock ticks, though, so a write in the same tick as the stat would
 * go unseen; a file changed less than {@link RACY_MARGIN_MS} before its stat is therefore
 * "racy" and not recorded (git's "racily clean" rule; a network file system whose clock runs
 * seconds behind ours weakens it, as it weakens git). The same stat rule is the sender's end
 * check (send-file.ts): a send fails before FILEEND if the stat moved, and then the entry is
 * forgotten. And every receiver checks the SHA-256 of what it got anyway.
 */
import type { BigIntStats } from 'node:fs';

/** Entries kept; the least recently used goes first. */
export const MAX_HASH_CACHE_ENTRIES = 64;
/** A file whose ctime is this close to the time of its stat is "racy" (2 s: FAT timestamps). */
export const RACY_MARGIN_MS = 2000;

interface Entry {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  sha256: string;
}

const keyOf = (st: BigIntStats): string => `${st.dev}:${st.ino}`;

/** Whether two stats of one open file show no change (size, mtime, ctime, to the nanosecond). */
export function unchangedSince(before: BigIntStats, after: BigIntStats): boolean {
  return (
    before.ino === after.ino &&
    before.size === after.size &&
    before.mtimeNs === after.mtimeNs &&
    before.ctimeNs === after.ctimeNs
  );
}

/** A bounded cache of file hashes, checked against the file's stat. */
export class FileHashCache {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  /** Lookups answered from the cache (for tests and statistics). */
  hits = 0;
  /** See {@link RACY_MARGIN_MS} (tests lower it). */
  racyMarginMs = RACY_MARGIN_MS;

  constructor(max = MAX_HASH_CACHE_ENTRIES) {
    this.#max = max;
  }

  /** The hash recorded for this file, if it has not changed since. */
  get(st: BigIntStats): string | undefined {
    const key = keyOf(st);
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (e.size !== st.size || e.mtimeNs !== st.mtimeNs || e.ctimeNs !== st.ctimeNs) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used last.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    this.hits++;
    return e.sha256;
  }

  /**
   * Whether the file with this stat, taken at `statAtMs` (epoch ms, read before the stat),
   * changed so recently that a later write could leave its timestamps as they are.
   */
  isRacy(st: BigIntStats, statAtMs: number): boolean {
    return statAtMs - Number(st.ctimeNs / 1_000_000n) <= this.racyMarginMs;
  }

  /**
   * Records `sha256` as the content of the file with this stat, taken at `statAtMs`; not when
   * {@link FileHashCache.isRacy}.
   */
  set(st: BigIntStats, sha256: string, statAtMs: number): void {
    if (this.isRacy(st, statAtMs)) return;
    const key = keyOf(st);
    this.#entries.delete(key);
    this.#entries.set(key, { size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs, sha256 });
    while (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /** Forgets the file with this stat (its content was not what the entry said). */
  delete(st: BigIntStats): void {
    this.#entries.delete(keyOf(st));
  }

  /** Forgets every file. */
  clear(): void {
    this.#entries.clear();
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The cache {@link sendFile} uses (one per process). */
export const sentFileHashes = new FileHashCache();
