/**
 * Whether a new download may begin: file size, frame sizes, the disk use cap and the download
 * slots (global and per offering peer). Each refusal is an error that names the limit, so the
 * caller can report why (`'offer-declined'`, a rejected `fetchFile`).
 */
import { MeshwireError } from '../../errors.js';
import type { Download } from './download.js';
import { HASH_BYTES, pieceCount } from './merkle.js';
import type { FileOffer } from './offer.js';
import type { ResolvedShareOptions } from './share-options.js';
import { PIECE_HEADER_BYTES } from './wire.js';

/** What admission looks at (live views of the share's tables). */
export interface AdmissionView {
  readonly opts: Pick<
    ResolvedShareOptions,
    'maxFileSize' | 'maxDiskBytes' | 'maxDownloads' | 'maxDownloadsPerPeer'
  >;
  readonly maxBytesPerMessage: number;
  readonly downloads: ReadonlyMap<string, Download>;
  /** rootHex -> the peer whose offer started that download. */
  readonly startedBy: ReadonlyMap<string, string>;
}

/** The limits a new download must stay within. */
export class Admission {
  readonly #v: AdmissionView;

  constructor(view: AdmissionView) {
    this.#v = view;
  }

  /** Why a new download of `offer` would pass a limit (size, frame size, disk use), if it would. */
  limitError(offer: FileOffer): MeshwireError | undefined {
    if (!this.fits(offer)) {
      return new MeshwireError(
        'ERR_FILE_TOO_LARGE',
        `${offer.name} (${offer.size} bytes) exceeds the limits`,
      );
    }
    const cap = this.#v.opts.maxDiskBytes;
    if (cap > 0) {
      // Every download in progress may grow its .part to its full size: that is what it holds.
      let used = 0;
      for (const d of this.#v.downloads.values()) if (d.offer.rootHex !== offer.rootHex) used += d.offer.size;
      if (used + offer.size > cap) {
        return new MeshwireError(
          'ERR_DISK_QUOTA',
          `${offer.name} (${offer.size} bytes) would pass maxDiskBytes (${cap}; ${used} reserved by downloads in progress)`,
        );
      }
    }
    return undefined;
  }

  /** Why `peerId` may not start another download (slots), if it may not. */
  perPeerError(peerId: string): MeshwireError | undefined {
    let n = 0;
    for (const [root, by] of this.#v.startedBy) if (by === peerId && this.#v.downloads.has(root)) n++;
    if (n < this.#v.opts.maxDownloadsPerPeer && this.#v.downloads.size < this.#v.opts.maxDownloads) {
      return undefined;
    }
    return new MeshwireError(
      'ERR_TOO_MANY_PENDING',
      `too many downloads in progress (maxDownloads, or maxDownloadsPerPeer for ${peerId})`,
    );
  }

  /** Whether the file's size, pieces and layer fit the limits and the node's message size. */
  fits(offer: FileOffer): boolean {
    const max = this.#v.maxBytesPerMessage;
    return (
      offer.size <= this.#v.opts.maxFileSize &&
      offer.pieceLength + PIECE_HEADER_BYTES <= max &&
      pieceCount(offer.size, offer.pieceLength) * HASH_BYTES + 64 <= max
    );
  }
}
