/**
 * Chunked, verified file transfer over any meshwire node's BYTES messages, wire-compatible with
 * the Go original's FILESTART / FILECHUNK / FILEEND frames. Importable as `meshwire/files`.
 */
export { sendFile, DEFAULT_CONFIRM_TIMEOUT_MS } from './send-file.js';
export { FileReceiver } from './receiver.js';
export {
  DEFAULT_DOWNLOADS_DIR,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_CONCURRENT_TRANSFERS,
  DEFAULT_MAX_TRANSFERS_PER_PEER,
  DEFAULT_MIN_BYTES_PER_SECOND,
  DEFAULT_MAX_FILE_SIZE,
} from './receiver-options.js';
export { PART_SUFFIX } from './part-files.js';
export {
  sanitizeFileName,
  uniqueFinalPath,
  candidateName,
  nameCandidates,
  MAX_FILE_NAME_BYTES,
  MAX_NAME_CANDIDATES,
  MAX_RANDOM_CANDIDATES,
} from './names.js';
export {
  parseFileFrame,
  isFileFrame,
  encodeFileStart,
  encodeFileChunk,
  encodeFileChunkHeader,
  encodeFileEnd,
  encodeFileReject,
  encodeFileAck,
  FILE_REJECT_PREFIX,
  FILE_ACK_PREFIX,
  FILE_REJECT_REASONS,
  FILE_START_PREFIX,
  FILE_CHUNK_PREFIX,
  FILE_END_PREFIX,
  MAX_FILE_HEADER_BYTES,
  DEFAULT_CHUNK_SIZE,
} from './frames.js';
export type {
  FileFrame,
  FileStartFrame,
  FileChunkFrame,
  FileEndFrame,
  FileRejectFrame,
  FileAckFrame,
  FileRejectReason,
} from './frames.js';
export type {
  FileNode,
  SendFileOptions,
  SendFileResult,
  SendProgress,
  FileReceiverOptions,
  FileReceiverEvents,
  FileStartEvent,
  FileProgressEvent,
  FileCompleteEvent,
  FileErrorEvent,
} from './types.js';

// Secure mode: content-addressed, pulled, resumable, multi-source transfers (PROTOCOL.md, "Pieces").
export { FileShare } from './pieces/file-share.js';
export { Download } from './pieces/download.js';
export type { DownloadStatus } from './pieces/download.js';
export { createOffer, parseOffer, signerFromPrivateKey } from './pieces/offer.js';
export type { FileOffer, Signer } from './pieces/offer.js';
export {
  BLOCK_SIZE,
  PieceHasher,
  choosePieceLength,
  merkleRoot,
  pieceRoot,
  rootFromLayer,
} from './pieces/merkle.js';
export { hashFile, type HashFileOptions } from './pieces/source.js';
export { isPieceFrame, parsePieceFrame, PIECE_MAGIC } from './pieces/wire.js';
export type { PieceFrame } from './pieces/wire.js';
export type { FileShareOptions, FileShareEvents, TransferInfo } from './pieces/types.js';
