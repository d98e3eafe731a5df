/**
 * Time and CPU per GiB of the restart check of a `.part` (issue 14): the old check (every piece
 * read with its own read and hashed) against part-check.ts (4 MiB reads overlapping the hashing;
 * only claimed pieces and pieces that hold data hashed), interleaved, on a `.part` in the page
 * cache as a kill -9 leaves it. The `.part` holds the first `--done` fraction of the file and is
 * claimed up to `--claimed` (less: written after the last state save).
 *
 *   npm run build && node bench/probes/part-check.mjs [--mib 512] [--done 0.5] [--claimed 0.45]
 *        [--runs 3] [DIST_DIR]
 *
 * Writes its `.part` under the OS temp directory and deletes it.
 */
import { randomFillSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { optionReader } from './probe-args.mjs';
/* global performance, Buffer */

const args = process.argv.slice(2);
const opt = optionReader(args);
const mib = Number(opt('--mib', '512'));
const doneFrac = Number(opt('--done', '0.5'));
const claimedFrac = Number(opt('--claimed', '0.45'));
const runs = Number(opt('--runs', '3'));
const dist = path.resolve(args[0] ?? 'dist');
const imp = (p) => import(pathToFileURL(path.join(dist, p)).href);
const { PieceHasher, choosePieceLength, pieceRoot, pieceSize, pieceWidth } =
  await imp('files/pieces/merkle.js');
const { checkPart } = await imp('files/pieces/part-check.js');

const size = mib * 1024 * 1024;
const pieceLength = choosePieceLength(size);
const pieces = Math.ceil(size / pieceLength);
const dir = mkdtempSync(path.join(os.tmpdir(), 'meshwire-part-check-'));
try {
  const file = path.join(dir, 'x.part');
  const fh = await open(file, 'w+');
  await fh.truncate(size);
  const hasher = new PieceHasher(size, pieceLength);
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
  const written = Math.floor(pieces * doneFrac) * pieceLength;
  for (let at = 0; at < size; at += buf.length) {
    randomFillSync(buf);
    const n = Math.min(buf.length, size - at);
    hasher.update(buf.subarray(0, n));
    if (at < written) await fh.write(buf, 0, Math.min(n, written - at), at);
  }
  const { layer } = hasher.digest();
  const claimed = new Uint8Array(Math.ceil(pieces / 8));
  const claimedPieces = Math.floor(pieces * claimedFrac);
  for (let i = 0; i < claimedPieces; i++) claimed[i >> 3] |= 0x80 >> (i & 7);

  // The check before this change (resume.ts until 2026-11-30), for comparison.
  const oldCheck = async () => {
    const width = pieceWidth(size, pieceLength);
    const b = Buffer.allocUnsafe(pieceLength);
    let good = 0;
    for (let i = 0; i < layer.length; i++) {
      const len = pieceSize(size, pieceLength, i);
      const { bytesRead } = await fh.read(b, 0, len, i * pieceLength);
      if (bytesRead === len && pieceRoot(b.subarray(0, len), width).equals(layer[i])) good++;
    }
    return good;
  };
  const newCheck = async () => {
    const r = await checkPart(fh, size, pieceLength, layer, claimed);
    let good = 0;
    for (let i = 0; i < pieces; i++) if (r.bitfield[i >> 3] & (0x80 >> (i & 7))) good++;
    return good;
  };
  const gib = size / 2 ** 30;
  console.log(
    `${mib} MiB, ${pieces} pieces of ${pieceLength / 1024} KiB, ${Math.round(doneFrac * 100)} % written, ${Math.round(claimedFrac * 100)} % claimed`,
  );
  for (let r = 0; r < runs; r++) {
    for (const [name, check] of [
      ['old', oldCheck],
      ['new', newCheck],
    ]) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const good = await check();
      const ms = performance.now() - t0;
      const c = process.cpuUsage(c0);
      console.log(
        `${name}: ${(ms / 1000 / gib).toFixed(2)} s/GiB wall, ${((c.user + c.system) / 1e6 / gib).toFixed(2)} s/GiB CPU, ${good} pieces good`,
      );
    }
  }
  await fh.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
