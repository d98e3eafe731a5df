import type { FrameDecoder } from '../codec/codec.js';
import type { Frame } from '../codec/frame.js';
import { CodecError } from '../errors.js';

const HELLO = 0x01;

/**
 * Bounds what a native peer can make us buffer before its hello (PROTOCOL.md rule 27): until the
 * hello has arrived, a frame whose body is larger than `maxBodyBytes` (maxLineBytes: only a BYTES
 * frame can be) is `ERR_UNEXPECTED_FRAME` as soon as its type byte is known, before any of its
 * body is buffered.
 *
 * The decoder alone checks a BYTES frame only against maxBytesPerMessage (rule 7), so a client
 * that never says hello (any self-signed certificate passes TLS) could otherwise make the node
 * hold a 16 MiB body for each of the maxPendingHandshakes pending handshakes (64 x 16 MiB by
 * default). Smaller out-of-place frames still reach the handshake code, which answers them with
 * reject (rule 25) before it closes. Reading headers here is safe: rules 5, 6 and 23 freeze them.
 *
 * The wrapped decoder still sees every byte up to the offending type byte, so an oversize length
 * is reported as `ERR_FRAME_TOO_LARGE` as before. After the hello this is a plain pass-through.
 */
export class HelloFirstDecoder implements FrameDecoder {
  readonly #inner: FrameDecoder;
  readonly #maxBodyBytes: number;
  #open = false;
  #error: CodecError | undefined;
  /** Length bytes read of the current frame header (0..4), its length, body bytes left to skip. */
  #headerFilled = 0;
  #length = 0;
  #skip = 0;

  constructor(inner: FrameDecoder, maxBodyBytes: number) {
    this.#inner = inner;
    this.#maxBodyBytes = maxBodyBytes;
  }

  get bufferedBytes(): number {
    return this.#inner.bufferedBytes;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.#error) throw this.#error;
    if (this.#open) return this.#inner.push(chunk);
    const at = this.#scan(chunk);
    if (at < 0) return this.#inner.push(chunk);
    const type = (chunk[at] as number).toString(16).padStart(2, '0');
    const body = this.#length - 1;
    // Up to the type byte, not past it: the length is checked there (rule 6), and a body is
    // allocated only once the type is known.
    this.#inner.push(chunk.subarray(0, at));
    this.#error = new CodecError(
      'ERR_UNEXPECTED_FRAME',
      `frame of type 0x${type} with a ${body}-byte body before the hello (nothing larger than ${this.#maxBodyBytes} bytes may come first)`,
    );
    throw this.#error;
  }

  /** Walks the headers in `chunk`; returns the index of the type byte of a refused frame, or -1. */
  #scan(chunk: Uint8Array): number {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - pos);
        this.#skip -= n;
        pos += n;
        continue;
      }
      const byte = chunk[pos] as number;
      if (this.#headerFilled < 4) {
        this.#length = this.#length * 256 + byte;
        this.#headerFilled++;
        pos++;
        continue;
      }
      if (byte === HELLO) {
        this.#open = true;
        return -1;
      }
      if (this.#length - 1 > this.#maxBodyBytes) return pos;
      this.#skip = Math.max(0, this.#length - 1);
      this.#headerFilled = 0;
      this.#length = 0;
      pos++;
    }
    return -1;
  }
}
