import { constants, promises as fs } from 'node:fs';
import { MeshwireError } from '../errors.js';

/**
 * Largest secret file we read. Key files are a few hundred bytes; the cap keeps a mistaken path
 * (a log file, a disk image) from being slurped into memory.
 */
export const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** POSIX permission bits that let anyone but the owner read, write or execute a file. */
const GROUP_OTHER_BITS = 0o077;

/**
 * True where POSIX permission bits are meaningful. On Windows `stat().mode` is synthesised from
 * the read-only flag, so checking it would only refuse perfectly private files.
 */
const CHECK_MODE = process.platform !== 'win32';

/**
 * Reads a secret file (identity key or network key) after checking that it is a regular file, at
 * most {@link MAX_SECRET_FILE_BYTES} long and, on POSIX, owned by the user running this process
 * and not accessible by group or others.
 *
 * Checks run on the opened descriptor (fstat), so the file cannot be swapped between check and
 * read. Symlinks are followed on purpose: secret managers (Kubernetes, NixOS, Docker secrets)
 * mount secrets as symlinks, and what matters is the file actually read.
 *
 * @param file - Path of the file.
 * @param what - Human name used in error messages, for example `'key file'`.
 * @returns The file contents, or `undefined` when the file (or a parent directory) does not exist.
 * @throws MeshwireError `ERR_KEY_FILE` for anything else that prevents a safe read.
 */
export async function readSecretFile(file: string, what: string): Promise<Buffer | undefined> {
  let handle: fs.FileHandle;
  try {
    // O_NONBLOCK so that a FIFO at the path fails the regular-file check instead of hanging open().
    const flags = CHECK_MODE ? constants.O_RDONLY | constants.O_NONBLOCK : 'r';
    handle = await fs.open(file, flags);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw new MeshwireError('ERR_KEY_FILE', `Cannot open ${what} ${file}: ${errMessage(err)}`, {
      cause: err,
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new MeshwireError('ERR_KEY_FILE', `The ${what} ${file} is not a regular file`);
    }
    // A file someone else owns could be replaced or read by them at will: refuse it, also when we
    // run as root (where permission bits alone would let us read anything).
    const uid = process.getuid?.();
    if (CHECK_MODE && uid !== undefined && stat.uid !== uid) {
      throw new MeshwireError(
        'ERR_KEY_FILE',
        `The ${what} ${file} is owned by another user (uid ${stat.uid}, this process runs as uid ${uid}); ` +
          `use a ${what} of your own, or take it over with: chown ${uid} ${JSON.stringify(file)}`,
      );
    }
    if (CHECK_MODE && (stat.mode & GROUP_OTHER_BITS) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw new MeshwireError(
        'ERR_KEY_FILE',
        `The ${what} ${file} is accessible by group or others (mode ${mode}); ` +
          `restrict it with: chmod 600 ${JSON.stringify(file)}`,
      );
    }
    if (stat.size > MAX_SECRET_FILE_BYTES) {
      throw new MeshwireError(
        'ERR_KEY_FILE',
        `The ${what} ${file} is ${stat.size} bytes; at most ${MAX_SECRET_FILE_BYTES} are allowed`,
      );
    }
    const data = await handle.readFile();
    // The size may have grown after fstat; re-check what was actually read.
    if (data.length > MAX_SECRET_FILE_BYTES) {
      throw new MeshwireError(
        'ERR_KEY_FILE',
        `The ${what} ${file} is larger than ${MAX_SECRET_FILE_BYTES} bytes`,
      );
    }
    return data;
  } catch (err) {
    if (err instanceof MeshwireError) throw err;
    throw new MeshwireError('ERR_KEY_FILE', `Cannot read ${what} ${file}: ${errMessage(err)}`, {
      cause: err,
    });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Reads a secret passphrase file (a network key file): {@link readSecretFile}'s checks, then
 * UTF-8 text with surrounding whitespace (the editor's trailing newline) removed.
 *
 * @throws MeshwireError `ERR_KEY_FILE` if the file is missing, unsafe, unreadable or empty.
 */
export async function readSecretText(file: string, what: string): Promise<string> {
  const data = await readSecretFile(file, what);
  if (data === undefined) throw new MeshwireError('ERR_KEY_FILE', `The ${what} ${file} does not exist`);
  const text = data.toString('utf8').trim();
  data.fill(0);
  if (text === '') throw new MeshwireError('ERR_KEY_FILE', `The ${what} ${file} is empty`);
  return text;
}

/** True when `err` is a Node system error with the given `code`. */
export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/** The message of an unknown thrown value, for embedding in our own messages. */
export function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
