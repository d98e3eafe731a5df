/**
 * The receiver's resume state for one download, in the state directory under the name of the
 * download's `.part` (so a state and its `.part` are paired by name even when the state is
 * unreadable): `<final>.state` (JSON: the signed offer, the final name, the bitfield of pieces
 * verified and written, the sources) and `<final>.layer` (the verified piece layer, raw 32-byte
 * hashes). Both are written atomically (temporary file, fsync, rename), so a crash leaves the old
 * or the new version, never a torn one. Loading trusts nothing: a file that does not parse, is
 * truncated, or belongs to another root is reported and discarded.
 */
import { open, readFile, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { MeshwireError } from '../../errors.js';
import { isPeerId } from '../../secure/identity.js';
import { sanitizeFileName } from '../names.js';
import { HASH_BYTES, pieceCount, rootFromLayer } from './merkle.js';
import { parseOffer, type FileOffer } from './offer.js';

/** Largest state file read, in bytes (65,536 pieces need an 8 KiB bitfield, base64 ~11 KiB). */
const MAX_STATE_BYTES = 256 * 1024;
/** Most sources remembered per download. */
export const MAX_SAVED_SOURCES = 64;

/** What a state file holds. */
export interface DownloadState {
  offer: FileOffer;
  /** Base name reserved in the downloads directory; the data is in `<finalName>.part`. */
  finalName: string;
  /** Bit i (MSB first) set = piece i verified and written. */
  bitfield: Uint8Array;
  /** Peers that served or announced the file. */
  sources: string[];
}

/** Suffix of state files. */
export const STATE_SUFFIX = '.state';

/** Path of the state file of the download whose final name is `finalName`. */
export function statePath(dir: string, finalName: string): string {
  return path.join(dir, `${finalName}${STATE_SUFFIX}`);
}

/** Path of the piece-layer file of the download whose final name is `finalName`. */
export function layerPath(dir: string, finalName: string): string {
  return path.join(dir, `${finalName}.layer`);
}

async function writeAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

/** Writes the state file atomically. */
export async function saveState(dir: string, state: DownloadState): Promise<void> {
  const json = JSON.stringify({
    v: 1,
    root: state.offer.rootHex,
    offer: state.offer.body.toString('base64'),
    finalName: state.finalName,
    bitfield: Buffer.from(state.bitfield).toString('base64'),
    sources: state.sources.slice(0, MAX_SAVED_SOURCES),
  });
  await writeAtomic(statePath(dir, state.finalName), json);
}

/** Writes the piece layer atomically. */
export async function saveLayer(dir: string, finalName: string, layer: readonly Uint8Array[]): Promise<void> {
  await writeAtomic(layerPath(dir, finalName), Buffer.concat(layer));
}

function bad(file: string, why: string): MeshwireError {
  return new MeshwireError('ERR_FILE_INTEGRITY', `discarding resume state ${file}: ${why}`);
}

/**
 * Reads and checks `<finalName>.state`. Throws `ERR_FILE_INTEGRITY` (with the reason) for a state
 * that must be discarded: unreadable, too big, not the expected JSON, an offer that does not
 * verify or does not match the recorded root, a bitfield of the wrong length, another final
 * name, a bad source.
 */
export async function loadState(dir: string, finalName: string): Promise<DownloadState> {
  const file = statePath(dir, finalName);
  let text: string;
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      if (size > MAX_STATE_BYTES) throw bad(file, `${size} bytes, more than ${MAX_STATE_BYTES}`);
      text = await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof MeshwireError) throw err;
    throw bad(file, (err as Error).message);
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw bad(file, 'not valid JSON (truncated or corrupt)');
  }
  if (typeof raw !== 'object' || raw === null || raw.v !== 1) throw bad(file, 'unknown version');
  if (
    typeof raw.offer !== 'string' ||
    typeof raw.finalName !== 'string' ||
    typeof raw.bitfield !== 'string'
  ) {
    throw bad(file, 'missing fields');
  }
  let offer: FileOffer;
  try {
    offer = parseOffer(Buffer.from(raw.offer, 'base64'));
  } catch (err) {
    throw bad(file, (err as Error).message);
  }
  if (offer.rootHex !== raw.root) throw bad(file, 'its offer is for another file');
  if (raw.finalName !== finalName) throw bad(file, 'belongs to another download');
  try {
    sanitizeFileName(raw.finalName);
  } catch {
    throw bad(file, 'unsafe final name');
  }
  const bitfield = Buffer.from(raw.bitfield, 'base64');
  if (bitfield.length !== Math.ceil(pieceCount(offer.size, offer.pieceLength) / 8)) {
    throw bad(file, 'bitfield length does not match the file');
  }
  const sources = Array.isArray(raw.sources) ? raw.sources.slice(0, MAX_SAVED_SOURCES) : [];
  if (!sources.every((s): s is string => typeof s === 'string' && isPeerId(s)))
    throw bad(file, 'bad source ID');
  return { offer, finalName: raw.finalName, bitfield, sources };
}

/** Reads `<finalName>.layer` and checks it against the offer's root; `undefined` when absent or bad. */
export async function loadLayer(
  dir: string,
  finalName: string,
  offer: FileOffer,
): Promise<Buffer[] | undefined> {
  const n = pieceCount(offer.size, offer.pieceLength);
  let data: Buffer;
  try {
    data = await readFile(layerPath(dir, finalName));
  } catch {
    return undefined;
  }
  if (data.length !== n * HASH_BYTES) return undefined;
  const layer: Buffer[] = [];
  for (let i = 0; i < n; i++) layer.push(data.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES));
  return rootFromLayer(layer, offer.size, offer.pieceLength).equals(offer.root) ? layer : undefined;
}

/** Deletes both files of the download `finalName` (missing files are fine). */
export async function removeState(dir: string, finalName: string): Promise<void> {
  await unlink(statePath(dir, finalName)).catch(() => undefined);
  await unlink(layerPath(dir, finalName)).catch(() => undefined);
}
