import type { Frame } from './frame.js';

/**
 * Limits every decoder enforces before it buffers anything. A violation throws a `CodecError`
 * and the session drops that peer; the node keeps running.
 */
export interface CodecLimits {
  /** Largest BYTES payload accepted, in bytes. */
  maxBytesPerMessage: number;
  /** Longest text line / non-BYTES frame accepted, in bytes (terminator excluded). */
  maxLineBytes: number;
  /** Most entries accepted in one PEERS frame. */
  maxPeersPerFrame: number;
}

/** Defaults: 16 MiB BYTES (the original's MaxBytesPerMessage), 256 KiB lines, 1000 peers per list. */
export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  maxBytesPerMessage: 16 * 1024 * 1024,
  maxLineBytes: 256 * 1024,
  maxPeersPerFrame: 1000,
};

/** Pure, incremental decoder: bytes in, frames out. Never touches sockets or timers. */
export interface FrameDecoder {
  /**
   * Feeds a chunk; returns every frame completed by it, in order. Throws `CodecError` on a
   * protocol violation, after which the decoder must not be used again.
   */
  push(chunk: Uint8Array): Frame[];
  /** Bytes held waiting for the rest of a frame (never more than the limits allow). */
  readonly bufferedBytes: number;
}

/** Pure encoder: a frame becomes one or more buffers, written back to back as one atomic unit. */
export interface FrameEncoder {
  /** Throws `CodecError` for a frame this protocol cannot express (e.g. compat chat with a newline). */
  encode(frame: Frame): Buffer[];
}
