/**
 * Where a received file lives on disk: a `.part` file created exclusively under a free final
 * name, then moved to that name without ever replacing anything. Both steps cost a bounded number
 * of disk operations, whatever the downloads directory holds.
 */
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { MeshwireError } from '../errors.js';
import { MAX_FILE_NAME_BYTES, nameCandidates, pathTaken, resolveInside, sanitizeFileName } from './names.js';

/** Suffix of the file a transfer is written to until it is verified. */
export const PART_SUFFIX = '.part';

/** link() errors meaning "this file system has no hard links", where rename is the fallback. */
const NO_LINK_CODES = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/**
 * How many times {@link commitPart} walks the candidate list when every name it tried was taken
 * meanwhile. Each walk is bounded; this bounds the walks.
 */
const MAX_COMMIT_ROUNDS = 2;

/** An open `.part` file and the final base name reserved for it. */
export interface OpenedPart {
  finalName: string;
  partPath: string;
  fh: FileHandle;
}

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Picks a final name for `name` in `dir` and creates its `.part` exclusively. The final name is
 * added to `reserved` (synchronously, before any await, so concurrent callers never pick the same
 * one) and stays there until the caller deletes it. At most two disk operations per candidate of
 * {@link nameCandidates}: an `lstat` of the final name and an `O_CREAT|O_EXCL` open of the part.
 *
 * Throws `ERR_FILE_NAME` when the name (with the suffix) cannot be stored, `ERR_FILE_IO` when no
 * candidate is free, or the error of the first unexpected disk failure.
 */
export async function openPart(dir: string, name: string, reserved: Set<string>): Promise<OpenedPart> {
  sanitizeFileName(name);
  for (const finalName of nameCandidates(name)) {
    if (reserved.has(finalName)) continue;
    const finalPath = resolveInside(dir, name, finalName);
    if (Buffer.byteLength(finalName + PART_SUFFIX) > MAX_FILE_NAME_BYTES) {
      throw new MeshwireError(
        'ERR_FILE_NAME',
        `${JSON.stringify(name)} is too long to store with the ${PART_SUFFIX} suffix (${MAX_FILE_NAME_BYTES} bytes max)`,
      );
    }
    const partPath = finalPath + PART_SUFFIX;
    reserved.add(finalName);
    try {
      if (!(await pathTaken(finalPath))) {
        // 'wx' = O_CREAT|O_EXCL: never truncates or follows an existing file or symlink.
        const fh = await open(partPath, 'wx');
        return { finalName, partPath, fh };
      }
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') {
        reserved.delete(finalName);
        throw err;
      }
    }
    reserved.delete(finalName);
  }
  throw new MeshwireError('ERR_FILE_IO', `no free name for ${JSON.stringify(name)} in ${dir}`);
}

/**
 * Moves a verified (and closed) `.part` to its final name without ever replacing an existing
 * file: link() fails with EEXIST instead of overwriting, unlike rename(). If the reserved name
 * was taken meanwhile (by another process), the next free candidate is used. `reserved` holds the
 * names of other transfers in flight, which are skipped. Returns the final path.
 */
export async function commitPart(
  dir: string,
  name: string,
  part: { finalName: string; partPath: string },
  reserved: ReadonlySet<string>,
): Promise<string> {
  const tried = new Set<string>();
  const attempt = async (finalName: string): Promise<string | undefined> => {
    tried.add(finalName);
    const target = resolveInside(dir, name, finalName);
    try {
      await link(part.partPath, target);
      await unlink(part.partPath).catch(() => undefined);
      return target;
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'EEXIST') return undefined;
      if (code === undefined || !NO_LINK_CODES.has(code)) throw err;
      // No hard links here (FAT, some network shares): check-then-rename, with a window in which
      // another process could slip a file in; nothing in this process can.
      if (await pathTaken(target)) return undefined;
      await rename(part.partPath, target);
      return target;
    }
  };
  const first = await attempt(part.finalName);
  if (first !== undefined) return first;
  for (let round = 0; round < MAX_COMMIT_ROUNDS; round++) {
    for (const candidate of nameCandidates(name)) {
      if (tried.has(candidate) || reserved.has(candidate)) continue;
      const done = await attempt(candidate);
      if (done !== undefined) return done;
    }
  }
  throw new MeshwireError('ERR_FILE_IO', `no free name to store ${JSON.stringify(name)} in ${dir}`);
}

/** Writes all of `data` at `position` (a positional write may write less than asked). */
export async function writeFully(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await fh.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}
