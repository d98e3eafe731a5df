/**
 * The `files` suite's data: random files in the OS temp directory, their SHA-256, and a copy
 * with some pieces corrupted (for the corrupting source), all streamed in bounded blocks.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { copyFile, open, readdir, rm, stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { mulberry32 } from '../../test/helpers/random.js';

const MiB = 1024 * 1024;

/** Writes `size` random bytes to `file`, 4 MiB at a time. */
export async function writeRandomFile(file: string, size: number): Promise<void> {
  const fh = await open(file, 'w');
  try {
    const block = Buffer.allocUnsafe(4 * MiB);
    for (let written = 0; written < size; written += block.length) {
      randomFillSync(block);
      await fh.write(block, 0, Math.min(block.length, size - written));
    }
  } finally {
    await fh.close();
  }
}

/** SHA-256 of a file, hex, read 4 MiB at a time. */
export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(file, 'r');
  try {
    const block = Buffer.allocUnsafe(4 * MiB);
    for (;;) {
      const { bytesRead } = await fh.read(block, 0, block.length, null);
      if (bytesRead === 0) break;
      hash.update(block.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** Deletes the files (not the folders: a share keeps its state folder there) of `dir`. */
export async function emptyDir(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isFile()) await rm(path.join(dir, entry.name), { force: true });
  }
}

/**
 * Copies `source` to `copy` and flips one byte in `fraction` of its pieces (at least `atLeast`,
 * chosen by `seed`), then gives the copy the source's mtime back. Shared before the corruption, the copy
 * is served as the shared file (same size and mtime), so every corrupted piece goes out as is:
 * the corrupting source of the tests (test/files-pieces.test.ts). Returns the corrupted indices.
 */
export async function corruptCopy(
  source: string,
  copy: string,
  pieceLength: number,
  fraction: number,
  seed: number,
  atLeast = 1,
): Promise<{ indices: number[]; corrupt: () => Promise<void> }> {
  await copyFile(source, copy);
  const { size } = await stat(copy);
  const pieces = Math.ceil(size / pieceLength);
  const want = Math.min(pieces, Math.max(atLeast, Math.round(pieces * fraction)));
  // mulberry32, so a run's corrupted pieces can be told again.
  const random = mulberry32(seed);
  const chosen = new Set<number>();
  while (chosen.size < want) chosen.add(Math.floor(random() * pieces));
  const indices = [...chosen].sort((a, b) => a - b);
  return {
    indices,
    // Called after the copy was shared (hashed clean): flip the bytes, then put the mtime back.
    corrupt: async () => {
      const st = await stat(copy);
      const fh = await open(copy, 'r+');
      try {
        const one = Buffer.alloc(1);
        for (const index of indices) {
          const at =
            index * pieceLength + Math.floor(random() * Math.min(pieceLength, size - index * pieceLength));
          await fh.read(one, 0, 1, at);
          one[0] = one[0]! ^ 0xff;
          await fh.write(one, 0, 1, at);
        }
      } finally {
        await fh.close();
      }
      await utimes(copy, st.atimeMs / 1000, st.mtimeMs / 1000);
    },
  };
}
