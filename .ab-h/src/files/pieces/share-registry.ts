/**
 * The files this node serves, remembered across restarts in `<stateDir>/shares.json` (path,
 * mtime, signed offer, piece layer), so a restarted sender serves again without re-hashing. A
 * file whose size or mtime changed since it was shared is dropped from the list, with a warning.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MeshwireError } from '../../errors.js';
import { HASH_BYTES } from './merkle.js';
import { parseOffer } from './offer.js';
import type { SharedFile } from './source.js';

const SHARES_FILE = 'shares.json';
/** Most shares loaded from the list. */
const MAX_SHARES = 10_000;

/**
 * Whether a file still has the size and mtime it had when shared. Mtimes are compared within
 * 1 ms: sub-millisecond digits do not survive JSON, utimes or some copies, and a real change
 * moves the mtime further than that.
 */
export function sameFile(st: { size: number; mtimeMs: number }, size: number, mtimeMs: number): boolean {
  return st.size === size && Math.abs(st.mtimeMs - mtimeMs) < 1;
}

/** Shared files by root, persisted. */
export class ShareRegistry {
  readonly #file: string;
  readonly #shares = new Map<string, SharedFile>();
  #saved: Promise<void> = Promise.resolve();

  constructor(stateDir: string) {
    this.#file = path.join(stateDir, SHARES_FILE);
  }

  get(rootHex: string): SharedFile | undefined {
    return this.#shares.get(rootHex);
  }

  has(rootHex: string): boolean {
    return this.#shares.has(rootHex);
  }

  values(): IterableIterator<SharedFile> {
    return this.#shares.values();
  }

  /** Adds (or replaces) a share and saves the list. */
  add(shared: SharedFile): Promise<void> {
    this.#shares.set(shared.offer.rootHex, shared);
    return this.save();
  }

  /** Removes a share and saves the list; false when it was not shared. */
  async remove(rootHex: string): Promise<boolean> {
    if (!this.#shares.delete(rootHex)) return false;
    await this.save();
    return true;
  }

  /** Writes the list atomically; calls are serialized (one temporary file at a time). */
  save(): Promise<void> {
    const next = this.#saved.then(async () => {
      const list = [...this.#shares.values()].map((s) => ({
        path: s.path,
        mtimeMs: s.mtimeMs,
        offer: s.offer.body.toString('base64'),
        layer: Buffer.concat(s.layer).toString('base64'),
      }));
      await writeFile(`${this.#file}.tmp`, JSON.stringify(list), { mode: 0o600 });
      await rename(`${this.#file}.tmp`, this.#file);
    });
    this.#saved = next.catch(() => undefined);
    return next;
  }

  /** Loads the list; entries that do not verify or whose file changed are reported and dropped. */
  async load(warn: (error: MeshwireError) => void): Promise<void> {
    let list: unknown;
    try {
      list = JSON.parse(await readFile(this.#file, 'utf8'));
    } catch {
      return; // none yet (or unreadable: nothing is served that was not verified)
    }
    if (!Array.isArray(list)) return;
    for (const item of list.slice(0, MAX_SHARES) as Record<string, unknown>[]) {
      try {
        const offer = parseOffer(Buffer.from(String(item.offer), 'base64'));
        const layerBytes = Buffer.from(String(item.layer), 'base64');
        const layer: Buffer[] = [];
        for (let i = 0; i < layerBytes.length; i += HASH_BYTES) {
          layer.push(layerBytes.subarray(i, i + HASH_BYTES));
        }
        const st = await stat(String(item.path));
        if (!sameFile(st, offer.size, Number(item.mtimeMs))) throw new Error('changed since shared');
        this.#shares.set(offer.rootHex, { offer, path: String(item.path), layer, mtimeMs: st.mtimeMs });
      } catch (err) {
        warn(
          new MeshwireError(
            'ERR_FILE_IO',
            `no longer sharing ${String(item?.path)}: ${(err as Error).message}`,
          ),
        );
      }
    }
  }
}
