import { randomBytes } from 'node:crypto';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { MeshwireError } from '../errors.js';

/** Longest file name accepted, in UTF-8 bytes (NAME_MAX on common file systems). */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * How many numbered candidates (`name`, `name-(1).ext`, ..., `name-(15).ext`) {@link uniqueFinalPath}
 * tries before it falls back to random ones. Small on purpose: every candidate costs a disk
 * operation, and a sender must not be able to make one FILESTART cost thousands of them by
 * filling the directory with `a-(n).txt` files (the Go original probes up to 10,000).
 */
export const MAX_NAME_CANDIDATES = 16;

/** Random `name-(xxxxxxxx).ext` candidates tried after the numbered ones (a collision is ~2^-32 each). */
export const MAX_RANDOM_CANDIDATES = 4;

function refuse(name: string, why: string): never {
  throw new MeshwireError('ERR_FILE_NAME', `refused file name ${JSON.stringify(name)}: ${why}`);
}

/**
 * Checks a file name that came from the network and returns it unchanged when it is a plain base
 * name that stays inside the downloads directory on every platform. Throws `MeshwireError`
 * `ERR_FILE_NAME` otherwise.
 *
 * Refused: empty, `.` or `..`, `/` or `\` anywhere, control characters (C0, DEL, C1; NUL and
 * newlines included), a Windows drive prefix (`C:`), more than {@link MAX_FILE_NAME_BYTES} UTF-8
 * bytes, and `|`, which would break the FILESTART / FILEEND frame format.
 *
 * On Windows (`platform` `'win32'`, by default the running platform) it also refuses what
 * Win32 would not store under that name or would treat as a device: `< > : " ? *`, a trailing
 * dot or space, and reserved device names (`CON`, `nul.txt`, `COM1`, ...).
 *
 * The name is not rewritten (no stripping or normalization): the same string keys the transfer
 * in FILECHUNK and FILEEND, so a silently "fixed" name would stop matching.
 */
export function sanitizeFileName(name: string, options: { platform?: NodeJS.Platform } = {}): string {
  if (typeof name !== 'string') refuse(String(name), 'not a string');
  if (name.length === 0) refuse(name, 'empty');
  if (name === '.' || name === '..') refuse(name, 'a directory reference');
  if (name.includes('/') || name.includes('\\')) refuse(name, 'contains a path separator');
  if (/\p{Cc}/u.test(name)) refuse(name, 'contains a control character');
  if (/^[A-Za-z]:/.test(name)) refuse(name, 'starts with a drive letter');
  if (name.includes('|')) refuse(name, "contains '|', which the file frames use as separator");
  // Lone surrogates have no UTF-8 form: Buffer would write U+FFFD and the file would carry
  // another name than the one the transfer is keyed by.
  if (/[\uD800-\uDFFF]/u.test(name)) refuse(name, 'is not valid Unicode');
  if (Buffer.byteLength(name, 'utf8') > MAX_FILE_NAME_BYTES) {
    refuse(name, `longer than ${MAX_FILE_NAME_BYTES} bytes`);
  }
  if ((options.platform ?? process.platform) === 'win32') {
    if (/[<>:"?*]/.test(name)) refuse(name, 'contains a character Windows does not allow in file names');
    if (/[. ]$/.test(name)) refuse(name, 'ends with a dot or space, which Windows strips');
    // Win32 maps these to devices in any directory, with any extension: writing "downloads/NUL.txt"
    // would not create a file in downloads at all.
    if (/^(?:con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(?:[ .].*)?$/i.test(name)) {
      refuse(name, 'is a reserved device name on Windows');
    }
  }
  return name;
}

/**
 * The `n`-th candidate for `name`: `name` itself for 0, else `base-(n).ext`, where `.ext` is the
 * last extension (`archive.tar.gz` -> `archive.tar-(1).gz`; a dot file such as `.env` has none).
 * `n` may also be a string (the random candidates use 8 hex digits).
 */
export function candidateName(name: string, n: number | string): string {
  if (n === 0) return name;
  const ext = path.extname(name);
  const base = name.slice(0, name.length - ext.length);
  return `${base}-(${n})${ext}`;
}

/**
 * The bounded list of final names tried for `name`, in order: {@link MAX_NAME_CANDIDATES}
 * numbered ones, then {@link MAX_RANDOM_CANDIDATES} random ones (fresh on every call). Whoever
 * walks it spends at most a constant number of disk operations per candidate.
 */
export function nameCandidates(name: string): string[] {
  const out: string[] = [];
  for (let n = 0; n < MAX_NAME_CANDIDATES; n++) out.push(candidateName(name, n));
  for (let i = 0; i < MAX_RANDOM_CANDIDATES; i++)
    out.push(candidateName(name, randomBytes(4).toString('hex')));
  return out;
}

/**
 * Resolves `candidate` inside `root` and checks that it stays there. A sanitized name cannot climb
 * out, but a future change to the rules must not be able to turn into a path traversal.
 */
export function resolveInside(root: string, name: string, candidate: string): string {
  const full = path.resolve(root, candidate);
  if (path.dirname(full) !== root || path.basename(full) !== candidate) {
    refuse(name, 'resolves outside the downloads directory');
  }
  return full;
}

/** Whether `p` exists (as anything, a dangling symlink included). Throws for other errors. */
export async function pathTaken(p: string): Promise<boolean> {
  try {
    // lstat, not stat: a dangling symlink occupies the name as much as a file does.
    await lstat(p);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Picks where a file called `name` should land in `dir` without overwriting anything: the first
 * of {@link nameCandidates} (`name`, `base-(1).ext`, ..., then random `base-(3f9a0c1e).ext`) that
 * neither exists in `dir` nor is in `reserved` (names claimed by other in-flight transfers, so
 * two concurrent transfers of one name get different files). Returns the absolute path.
 *
 * Costs at most {@link MAX_NAME_CANDIDATES} + {@link MAX_RANDOM_CANDIDATES} `lstat` calls however
 * many files the directory holds. The check is advisory (another process may create the file
 * right after); the receiver opens with exclusive flags and links without overwriting.
 *
 * Throws `ERR_FILE_NAME` for a name {@link sanitizeFileName} refuses or whose candidate would
 * resolve outside `dir`, and `ERR_FILE_IO` when no candidate is free or `dir` cannot be read.
 */
export async function uniqueFinalPath(
  dir: string,
  name: string,
  reserved: ReadonlySet<string> = new Set(),
): Promise<string> {
  sanitizeFileName(name);
  const root = path.resolve(dir);
  for (const candidate of nameCandidates(name)) {
    if (reserved.has(candidate)) continue;
    const full = resolveInside(root, name, candidate);
    let taken: boolean;
    try {
      taken = await pathTaken(full);
    } catch (err) {
      throw new MeshwireError('ERR_FILE_IO', `cannot check ${full}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!taken) return full;
  }
  throw new MeshwireError('ERR_FILE_IO', `no free name for ${JSON.stringify(name)} in ${root}`);
}
