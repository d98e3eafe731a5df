/**
 * Which pieces of a `.part` are good after a restart, checked against the piece layer: the
 * pieces the resume state claims, and any other piece that holds data (written after the last
 * state save, before the crash). The file is read once, in large sequential reads, the next read
 * running while the current one is hashed. A piece never written reads as zeros (the `.part` is
 * created at full size): such a piece is compared with the root of a zero piece, computed once,
 * instead of being hashed, so a restart hashes only what was written.
 */
import type { FileHandle } from 'node:fs/promises';
import { isSet } from './bitfield.js';
import { pieceRoot, pieceSize, pieceWidth } from './merkle.js';

/** Bytes per read of the check (whole pieces; at least one). */
const CHECK_READ_BYTES = 4 * 1024 * 1024;

/** What the check found. */
export interface PartCheck {
  /** Pieces whose bytes match the layer. */
  bitfield: Uint8Array;
  /** Pieces the state claimed that do not match (fetched again). */
  mismatched: number;
  /** Bytes hashed (claimed pieces and unclaimed ones holding data). */
  hashedBytes: number;
}

/**
 * Checks every piece of the `.part` open as `fh` (size `size`, `pieceLength`) against `hashes`;
 * `claimed` is the bitfield the resume state recorded.
 */
export async function checkPart(
  fh: FileHandle,
  size: number,
  pieceLength: number,
  hashes: readonly Buffer[],
  claimed: Uint8Array,
): Promise<PartCheck> {
  const width = pieceWidth(size, pieceLength);
  const bitfield = new Uint8Array(Math.ceil(hashes.length / 8));
  const perRead = Math.max(1, Math.floor(CHECK_READ_BYTES / pieceLength));
  const span = perRead * pieceLength;
  // Compared with memcmp (Buffer.equals): far cheaper than hashing.
  const zeros = Buffer.alloc(Math.min(pieceLength, size));
  const zeroRoots = new Map<number, Buffer>();
  const zeroRoot = (len: number): Buffer => {
    let root = zeroRoots.get(len);
    if (!root) zeroRoots.set(len, (root = pieceRoot(zeros.subarray(0, len), width)));
    return root;
  };
  let mismatched = 0;
  let hashedBytes = 0;
  const read = async (buf: Buffer, at: number): Promise<number> => {
    const want = Math.min(span, size - at);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, at + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  };
  // Two buffers: the next read fills one while the other is hashed.
  const bufs = [Buffer.allocUnsafe(Math.min(span, size)), Buffer.allocUnsafe(Math.min(span, size))];
  let next: Promise<number> | undefined = size > 0 ? read(bufs[0]!, 0) : undefined;
  for (let first = 0, turn = 0; first < hashes.length; first += perRead, turn ^= 1) {
    const at = first * pieceLength;
    const got = await next!;
    const buf = bufs[turn]!;
    const nextAt = at + span;
    next = nextAt < size ? read(bufs[turn ^ 1]!, nextAt) : undefined;
    for (let i = first; i < Math.min(first + perRead, hashes.length); i++) {
      const off = (i - first) * pieceLength;
      const len = pieceSize(size, pieceLength, i);
      const wasClaimed = isSet(claimed, i);
      const piece = buf.subarray(off, off + len);
      let ok: boolean;
      if (off + len > got) {
        ok = false; // the file is shorter than it should be
      } else if (!wasClaimed && piece.equals(zeros.subarray(0, len))) {
        ok = zeroRoot(len).equals(hashes[i]!);
      } else {
        hashedBytes += len;
        ok = pieceRoot(piece, width).equals(hashes[i]!);
      }
      if (ok) bitfield[i >> 3]! |= 0x80 >> (i & 7);
      else if (wasClaimed) mismatched++;
    }
  }
  await next;
  return { bitfield, mismatched, hashedBytes };
}
