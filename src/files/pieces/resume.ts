/**
 * Resuming a download after a restart: the state file must verify, its `.part` must exist with
 * the file's size, and the `.part` is checked against the piece layer (part-check.ts): claimed
 * pieces that fail are fetched again, and pieces written after the last state save are kept.
 * This re-reads the `.part` once and re-hashes only the pieces that hold data, only after a
 * restart.
 * A state that cannot be trusted is deleted with its `.part`, with a warning.
 */
import { open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { MeshwireError } from '../../errors.js';
import { sanitizeFileName } from '../names.js';
import { PART_SUFFIX } from '../part-files.js';
import { pieceCount } from './merkle.js';
import { checkPart } from './part-check.js';
import { loadLayer, loadState, removeState, STATE_SUFFIX, type DownloadState } from './state-file.js';

/** What a state resumes to. */
export interface Resumed {
  state: DownloadState;
  finalName: string;
  fh: FileHandle;
  /** Pieces verified in the `.part` now. */
  bitfield: Uint8Array;
  layer?: Buffer[];
}

/** Final names with a state file in `stateDir`. */
export function stateNames(names: readonly string[]): string[] {
  return names.filter((n) => n.endsWith(STATE_SUFFIX)).map((n) => n.slice(0, -STATE_SUFFIX.length));
}

/**
 * Loads and checks the state of the download `finalName`. Returns `undefined` (after `warn`) when
 * it was discarded; `isTaken` tells whether the name or root is already in use by another
 * download (then the state is a duplicate and discarded too).
 */
export async function loadResumable(
  dirs: { downloadsDir: string; stateDir: string },
  finalName: string,
  isTaken: (finalName: string, rootHex: string) => boolean,
  warn: (error: MeshwireError, rootHex?: string) => void,
): Promise<Resumed | undefined> {
  try {
    sanitizeFileName(finalName);
  } catch {
    warn(new MeshwireError('ERR_FILE_NAME', `ignoring state file ${finalName}${STATE_SUFFIX}`));
    return undefined;
  }
  const partPath = path.join(dirs.downloadsDir, finalName + PART_SUFFIX);
  const discard = async (why: string): Promise<undefined> => {
    warn(new MeshwireError('ERR_FILE_INTEGRITY', why));
    await removeState(dirs.stateDir, finalName);
    await unlink(partPath).catch(() => undefined);
    return undefined;
  };
  let state: DownloadState;
  try {
    state = await loadState(dirs.stateDir, finalName);
  } catch (err) {
    return discard((err as Error).message);
  }
  const { offer } = state;
  if (isTaken(finalName, offer.rootHex)) {
    return discard(`discarding resume state ${finalName}: duplicates another download`);
  }
  let fh: FileHandle | undefined;
  try {
    fh = await open(partPath, 'r+');
    const st = await fh.stat();
    if (!st.isFile() || st.size !== offer.size) {
      throw new Error(`${partPath} is ${st.size} bytes, expected ${offer.size}`);
    }
  } catch (err) {
    await fh?.close().catch(() => undefined);
    return discard(
      `discarding resume state ${finalName}: its .part does not match (${(err as Error).message})`,
    );
  }
  const pieces = pieceCount(offer.size, offer.pieceLength);
  const layer = pieces <= 1 ? undefined : await loadLayer(dirs.stateDir, finalName, offer);
  const hashes = layer ?? (pieces === 1 ? [offer.root] : undefined);
  let bitfield: Uint8Array = new Uint8Array(state.bitfield.length);
  let mismatched = 0;
  if (hashes) {
    ({ bitfield, mismatched } = await checkPart(fh, offer.size, offer.pieceLength, hashes, state.bitfield));
  }
  if (mismatched > 0) {
    warn(
      new MeshwireError(
        'ERR_FILE_INTEGRITY',
        `${offer.name}: ${mismatched} pieces the resume state claimed fail verification; fetching them again`,
      ),
      offer.rootHex,
    );
  }
  return { state, finalName, fh, bitfield, ...(layer ? { layer } : {}) };
}

/**
 * The downloads to resume from `stateDir`, loaded one at a time (each checked by
 * {@link loadResumable}); at most `max`, more are left on disk with a warning.
 */
export async function* resumables(
  dirs: { downloadsDir: string; stateDir: string },
  max: number,
  isTaken: (finalName: string, rootHex: string) => boolean,
  warn: (error: MeshwireError, rootHex?: string) => void,
): AsyncGenerator<Resumed> {
  let names: string[];
  try {
    names = stateNames(await readdir(dirs.stateDir));
  } catch {
    return;
  }
  if (names.length > max) {
    warn(new MeshwireError('ERR_TOO_MANY_PENDING', `${names.length} resume states; resuming ${max}`));
  }
  for (const finalName of names.slice(0, max)) {
    const r = await loadResumable(dirs, finalName, isTaken, warn);
    if (r) yield r;
  }
}
