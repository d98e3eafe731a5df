/**
 * The offering side of a FileShare: hashing a file once into a signed offer, offering it to
 * peers, and the piece layer of a finished download (which then becomes a share).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { MeshwireError } from '../../errors.js';
import type { FileNode } from '../types.js';
import type { Download } from './download.js';
import { createOffer, type FileOffer, type Signer } from './offer.js';
import { hashFile } from './source.js';
import { PIECE_HEADER_BYTES } from './wire.js';

/** A signed offer with what serving it needs. */
export interface HashedOffer {
  offer: FileOffer;
  /** Absolute path of the file. */
  path: string;
  layer: Buffer[];
  mtimeMs: number;
}

/**
 * Hashes `filePath` once (root and piece layer) and signs its offer. Throws `ERR_INVALID_OPTION`
 * without a signer or when a piece would not fit the node's `maxBytesPerMessage`.
 */
export async function signedOffer(
  signer: Signer | undefined,
  maxBytesPerMessage: number,
  filePath: string,
  options: { name?: string; signal?: AbortSignal },
): Promise<HashedOffer> {
  if (!signer)
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      'sharing needs a signer: a started secure-mode node, or the signer option',
    );
  const absolute = path.resolve(filePath);
  // Pieces that fit the node's messages (large ones only where they do).
  const hashed = await hashFile(absolute, {
    ...(options.signal ? { signal: options.signal } : {}),
    maxPieceLength: maxBytesPerMessage - PIECE_HEADER_BYTES,
  });
  if (hashed.pieceLength + PIECE_HEADER_BYTES > maxBytesPerMessage) {
    throw new MeshwireError(
      'ERR_INVALID_OPTION',
      `pieces of ${hashed.pieceLength} bytes do not fit maxBytesPerMessage`,
    );
  }
  const offer = await createOffer(signer, {
    root: hashed.root,
    size: hashed.size,
    pieceLength: hashed.pieceLength,
    name: options.name ?? path.basename(absolute),
  });
  return { offer, path: absolute, layer: hashed.layer, mtimeMs: hashed.mtimeMs };
}

/** Sends the offer `frame` to each of `to`; returns the peers it was handed to (others are gone). */
export async function offerTo(node: FileNode, to: readonly string[], frame: Uint8Array): Promise<string[]> {
  const offeredTo: string[] = [];
  await Promise.all(
    to.map(async (id) => {
      try {
        await node.sendBytesToPeer(id, frame);
        offeredTo.push(id);
      } catch {
        // not connected: not offered
      }
    }),
  );
  return offeredTo;
}

/** A finished download as a share: its offer, path, piece layer and mtime. */
export async function sharedDownload(d: Download, finalPath: string): Promise<HashedOffer> {
  const st = await stat(finalPath);
  return { offer: d.offer, path: finalPath, layer: await layerOf(d, finalPath), mtimeMs: st.mtimeMs };
}

/** The piece layer of a finished download: the one it verified against, re-hashed only if lost. */
export async function layerOf(d: Download, finalPath: string): Promise<Buffer[]> {
  if (d.pieces <= 1) return d.pieces === 1 ? [d.offer.root] : [];
  const saved = d.layer;
  if (saved) return saved;
  return (await hashFile(finalPath, { pieceLength: d.offer.pieceLength })).layer;
}
