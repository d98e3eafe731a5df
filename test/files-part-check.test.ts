/**
 * The restart check of a `.part` (part-check.ts) on real files: claimed pieces are re-hashed and
 * a bad one is reported, unclaimed pieces that hold data are kept when they match, pieces never
 * written are skipped without hashing (unless the file's own content there is zeros, which then
 * verifies), and a `.part` shorter than the file leaves its tail unverified.
 */
import assert from 'node:assert/strict';
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { PieceHasher, choosePieceLength } from '../src/files/index.js';
import { isSet } from '../src/files/pieces/bitfield.js';
import { checkPart } from '../src/files/pieces/part-check.js';
import { mulberry32, seededBytes } from './helpers/random.js';
import { tempDir } from './helpers/temp-dir.js';

const KiB = 1024;

function layerOf(data: Buffer): { pieceLength: number; layer: Buffer[] } {
  const pieceLength = choosePieceLength(data.length);
  const h = new PieceHasher(data.length, pieceLength);
  h.update(data);
  return { pieceLength, layer: h.digest().layer };
}

function bits(n: number, set: readonly number[]): Uint8Array {
  const b = new Uint8Array(Math.ceil(n / 8));
  for (const i of set) b[i >> 3]! |= 0x80 >> (i & 7);
  return b;
}

describe('checkPart: which pieces of a .part survive a restart', { timeout: 30_000 }, () => {
  it('re-hashes claimed and written pieces only, keeps good ones, flags bad claimed ones', async (t) => {
    const dir = await tempDir(t);
    // 40 pieces of 256 KiB (more than one 4 MiB read, and a short last piece); piece 30 is zeros.
    const size = 39 * 256 * KiB + 100 * KiB;
    const data = seededBytes(mulberry32(7), size);
    data.fill(0, 30 * 256 * KiB, 31 * 256 * KiB);
    const { pieceLength, layer } = layerOf(data);
    assert.equal(pieceLength, 256 * KiB);
    assert.equal(layer.length, 40);

    // On disk: pieces 0-9 and 39 (claimed), 12 and 20 (written after the last save, unclaimed),
    // 5 claimed but corrupted; the rest never written (zeros).
    const part = Buffer.alloc(size);
    const put = (i: number): void => {
      data.copy(part, i * pieceLength, i * pieceLength, Math.min(size, (i + 1) * pieceLength));
    };
    for (const i of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 20, 39]) put(i);
    part[5 * pieceLength + 1000]! ^= 0xff;
    const file = path.join(dir, 'x.part');
    await writeFile(file, part);
    const claimed = bits(40, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 39]);

    const fh = await open(file, 'r');
    t.after(() => fh.close());
    const r = await checkPart(fh, size, pieceLength, layer, claimed);
    const good = [...Array(40).keys()].filter((i) => isSet(r.bitfield, i));
    // 30 is unwritten, but the file's content there is zeros: it verifies without hashing.
    assert.deepEqual(good, [0, 1, 2, 3, 4, 6, 7, 8, 9, 12, 20, 30, 39]);
    assert.equal(r.mismatched, 1);
    // Hashed: the 11 claimed pieces (one is the short last piece) and the 2 written unclaimed ones.
    assert.equal(r.hashedBytes, 12 * pieceLength + 100 * KiB);
  });

  it('a .part shorter than the file leaves the missing pieces unverified', async (t) => {
    const dir = await tempDir(t);
    const size = 10 * 256 * KiB;
    const data = seededBytes(mulberry32(8), size);
    const { pieceLength, layer } = layerOf(data);
    const file = path.join(dir, 'short.part');
    await writeFile(file, data.subarray(0, 6 * pieceLength + 5));
    const fh = await open(file, 'r');
    t.after(() => fh.close());
    const r = await checkPart(fh, size, pieceLength, layer, bits(10, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert.deepEqual(
      [...Array(10).keys()].filter((i) => isSet(r.bitfield, i)),
      [0, 1, 2, 3, 4, 5],
    );
    assert.equal(r.mismatched, 4);
  });

  it('a one-piece file checks against the root', async (t) => {
    const dir = await tempDir(t);
    const data = seededBytes(mulberry32(9), 50 * KiB);
    const { pieceLength, layer } = layerOf(data);
    assert.equal(layer.length, 1);
    const file = path.join(dir, 'one.part');
    await writeFile(file, data);
    const fh = await open(file, 'r');
    t.after(() => fh.close());
    const r = await checkPart(fh, data.length, pieceLength, layer, bits(1, []));
    assert.ok(isSet(r.bitfield, 0), 'written but unclaimed: kept');
    assert.equal(r.hashedBytes, data.length);
  });
});
