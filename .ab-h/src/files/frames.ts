/**
 * The Go original's file-transfer frames, each carried as one BYTES payload:
 *
 * ```
 * FILESTART:<name>|<size>|<sha256hex>\n
 * FILECHUNK:<name>\n<raw bytes>
 * FILEEND:<name>|<sha256hex>\n
 * ```
 *
 * and, in secure mode only, the receiver's replies (the Go original has none, and a Go node would
 * print an unknown BYTES payload, so compat receivers never send them):
 *
 * ```
 * FILEREJECT:<name>|<reason code>\n   the transfer was refused or failed (e.g. ERR_TOO_MANY_PENDING)
 * FILEACK:<name>|<sha256hex>\n        the file was verified and stored
 * ```
 *
 * Pure encode / parse, no I/O. Parsing is strict about everything the Go sender always produces
 * (canonical decimal size, lowercase hex digest, a bounded UTF-8 header) so that garbage is
 * reported instead of guessed at; the one leniency kept from the Go receiver is that the `\n`
 * ending a FILESTART / FILEEND payload may be missing.
 */
import { MeshwireError, type ErrorCode } from '../errors.js';
import { sanitizeFileName } from './names.js';

/** Prefix of the frame announcing a transfer. */
export const FILE_START_PREFIX = 'FILESTART:';
/** Prefix of a frame carrying file content. */
export const FILE_CHUNK_PREFIX = 'FILECHUNK:';
/** Prefix of the frame closing a transfer. */
export const FILE_END_PREFIX = 'FILEEND:';

/** Prefix of the receiver's reply refusing (or failing) a transfer (secure mode only). */
export const FILE_REJECT_PREFIX = 'FILEREJECT:';
/** Prefix of the receiver's reply confirming a stored, verified file (secure mode only). */
export const FILE_ACK_PREFIX = 'FILEACK:';

/**
 * Reason codes a FILEREJECT may carry: the receiver's `file-error` codes that can end a transfer.
 * Anything else is a protocol error, so a peer cannot make us report arbitrary strings.
 */
export const FILE_REJECT_REASONS = [
  'ERR_FILE_NAME',
  'ERR_FILE_TOO_LARGE',
  'ERR_TOO_MANY_PENDING',
  'ERR_FILE_PROTOCOL',
  'ERR_FILE_INTEGRITY',
  'ERR_FILE_IO',
  'ERR_PEER_TIMEOUT',
  'ERR_CLOSED',
  'ERR_FILE_REFUSED',
] as const satisfies readonly ErrorCode[];

/** One of {@link FILE_REJECT_REASONS}. */
export type FileRejectReason = (typeof FILE_REJECT_REASONS)[number];

/** Longest header line accepted, in bytes, prefix included and `\n` excluded. */
export const MAX_FILE_HEADER_BYTES = 4096;

/** Bytes of file content per FILECHUNK, as the Go sender uses. */
export const DEFAULT_CHUNK_SIZE = 256 * 1024;

/** `FILESTART:<name>|<size>|<sha256hex>\n` */
export interface FileStartFrame {
  type: 'file-start';
  name: string;
  /** Announced size in bytes (a safe integer). */
  size: number;
  /** Lowercase hex SHA-256 of the whole file. */
  sha256: string;
}

/** `FILECHUNK:<name>\n<raw bytes>` */
export interface FileChunkFrame {
  type: 'file-chunk';
  name: string;
  /** The content bytes: a view into the payload, not a copy. */
  data: Uint8Array;
}

/** `FILEEND:<name>|<sha256hex>\n` */
export interface FileEndFrame {
  type: 'file-end';
  name: string;
  /** Lowercase hex SHA-256 of the whole file, repeated from FILESTART. */
  sha256: string;
}

/** `FILEREJECT:<name>|<reason>\n`: the receiver refused or dropped the transfer of `name`. */
export interface FileRejectFrame {
  type: 'file-reject';
  name: string;
  reason: FileRejectReason;
}

/** `FILEACK:<name>|<sha256hex>\n`: the receiver verified and stored `name`. */
export interface FileAckFrame {
  type: 'file-ack';
  name: string;
  sha256: string;
}

/** Any file frame: the three transfer frames and the two replies. */
export type FileFrame = FileStartFrame | FileChunkFrame | FileEndFrame | FileRejectFrame | FileAckFrame;

const NEWLINE = 0x0a;
const SHA256_RE = /^[0-9a-f]{64}$/;
const SIZE_RE = /^(?:0|[1-9][0-9]{0,15})$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

const PREFIXES = [
  FILE_START_PREFIX,
  FILE_CHUNK_PREFIX,
  FILE_END_PREFIX,
  FILE_REJECT_PREFIX,
  FILE_ACK_PREFIX,
].map((p) => Buffer.from(p, 'latin1'));
const REASONS: ReadonlySet<string> = new Set(FILE_REJECT_REASONS);

function protocolError(message: string): MeshwireError {
  return new MeshwireError('ERR_FILE_PROTOCOL', message);
}

function checkSha256(sha256: string): void {
  if (typeof sha256 !== 'string' || !SHA256_RE.test(sha256)) {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', 'sha256 must be 64 lowercase hex characters');
  }
}

/** Builds `FILESTART:<name>|<size>|<sha256hex>\n`. Throws `ERR_FILE_NAME` / `ERR_INVALID_ARGUMENT`. */
export function encodeFileStart(name: string, size: number, sha256: string): Buffer {
  sanitizeFileName(name);
  if (!Number.isSafeInteger(size) || size < 0) {
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `size must be a non-negative safe integer, got ${size}`);
  }
  checkSha256(sha256);
  return Buffer.from(`${FILE_START_PREFIX}${name}|${size}|${sha256}\n`, 'utf8');
}

/**
 * Builds the `FILECHUNK:<name>\n` header alone, so a sender can read file content straight into
 * a buffer behind it instead of concatenating. Throws `ERR_FILE_NAME`.
 */
export function encodeFileChunkHeader(name: string): Buffer {
  sanitizeFileName(name);
  return Buffer.from(`${FILE_CHUNK_PREFIX}${name}\n`, 'utf8');
}

/** Builds `FILECHUNK:<name>\n<data>` (copies `data`). Throws `ERR_FILE_NAME`. */
export function encodeFileChunk(name: string, data: Uint8Array): Buffer {
  return Buffer.concat([encodeFileChunkHeader(name), data]);
}

/** Builds `FILEEND:<name>|<sha256hex>\n`. Throws `ERR_FILE_NAME` / `ERR_INVALID_ARGUMENT`. */
export function encodeFileEnd(name: string, sha256: string): Buffer {
  sanitizeFileName(name);
  checkSha256(sha256);
  return Buffer.from(`${FILE_END_PREFIX}${name}|${sha256}\n`, 'utf8');
}

/** Builds `FILEREJECT:<name>|<reason>\n`. Throws `ERR_FILE_NAME` / `ERR_INVALID_ARGUMENT`. */
export function encodeFileReject(name: string, reason: FileRejectReason): Buffer {
  sanitizeFileName(name);
  if (!REASONS.has(reason))
    throw new MeshwireError('ERR_INVALID_ARGUMENT', `unknown reject reason ${reason}`);
  return Buffer.from(`${FILE_REJECT_PREFIX}${name}|${reason}\n`, 'utf8');
}

/** Builds `FILEACK:<name>|<sha256hex>\n`. Throws `ERR_FILE_NAME` / `ERR_INVALID_ARGUMENT`. */
export function encodeFileAck(name: string, sha256: string): Buffer {
  sanitizeFileName(name);
  checkSha256(sha256);
  return Buffer.from(`${FILE_ACK_PREFIX}${name}|${sha256}\n`, 'utf8');
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

/**
 * Whether `data` starts like a file frame (one of the five prefixes, or the piece protocol's
 * `MWF1` magic). Payloads that do not are
 * someone else's BYTES protocol and must be left alone.
 */
export function isFileFrame(data: Uint8Array): boolean {
  return PREFIXES.some((p) => startsWith(data, p)) || startsWith(data, PIECE_MAGIC_BYTES);
}

/** The piece protocol's magic (pieces/wire.ts), repeated here so the frames stay dependency-free. */
const PIECE_MAGIC_BYTES = Buffer.from('MWF1', 'latin1');

function decodeText(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw protocolError(`${what} header is not valid UTF-8`);
  }
}

/**
 * Returns the header text after `prefixLength` of a FILESTART / FILEEND payload, which is one
 * line: the `\n` may be missing (the Go receiver allows that) but nothing may follow it.
 */
function headerLine(data: Uint8Array, prefixLength: number, what: string): string {
  const limit = Math.min(data.length, MAX_FILE_HEADER_BYTES + 1);
  const nl = data.subarray(0, limit).indexOf(NEWLINE);
  let end: number;
  if (nl >= 0) {
    if (nl !== data.length - 1) throw protocolError(`${what} has data after its header line`);
    end = nl;
  } else {
    if (data.length > MAX_FILE_HEADER_BYTES) {
      throw protocolError(`${what} header is longer than ${MAX_FILE_HEADER_BYTES} bytes`);
    }
    end = data.length;
  }
  return decodeText(data.subarray(prefixLength, end), what);
}

function parseName(name: string, what: string): string {
  if (name.length === 0) throw protocolError(`${what} has an empty file name`);
  return name;
}

function parseSha256(text: string, what: string): string {
  if (!SHA256_RE.test(text)) throw protocolError(`${what} checksum is not 64 lowercase hex characters`);
  return text;
}

function parseStart(data: Uint8Array): FileStartFrame {
  const what = 'FILESTART';
  const meta = headerLine(data, PREFIXES[0]!.length, what);
  // Split from the right: size and digest cannot contain '|', so a name with one still parses
  // and is then refused by name validation with a clearer error than "malformed".
  const shaSep = meta.lastIndexOf('|');
  const sizeSep = shaSep > 0 ? meta.lastIndexOf('|', shaSep - 1) : -1;
  if (sizeSep < 0) throw protocolError(`${what} must be <name>|<size>|<sha256hex>`);
  const sizeText = meta.slice(sizeSep + 1, shaSep);
  if (!SIZE_RE.test(sizeText))
    throw protocolError(`${what} size ${JSON.stringify(sizeText)} is not a decimal`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw protocolError(`${what} size ${sizeText} is too large`);
  return {
    type: 'file-start',
    name: parseName(meta.slice(0, sizeSep), what),
    size,
    sha256: parseSha256(meta.slice(shaSep + 1), what),
  };
}

function parseChunk(data: Uint8Array): FileChunkFrame {
  const what = 'FILECHUNK';
  const limit = Math.min(data.length, MAX_FILE_HEADER_BYTES + 1);
  const nl = data.subarray(0, limit).indexOf(NEWLINE);
  if (nl < 0) {
    throw protocolError(
      data.length > MAX_FILE_HEADER_BYTES
        ? `${what} header is longer than ${MAX_FILE_HEADER_BYTES} bytes`
        : `${what} has no header line`,
    );
  }
  const name = parseName(decodeText(data.subarray(PREFIXES[1]!.length, nl), what), what);
  return { type: 'file-chunk', name, data: data.subarray(nl + 1) };
}

function parseEnd(data: Uint8Array): FileEndFrame {
  const what = 'FILEEND';
  const meta = headerLine(data, PREFIXES[2]!.length, what);
  const sep = meta.lastIndexOf('|');
  if (sep < 0) throw protocolError(`${what} must be <name>|<sha256hex>`);
  return {
    type: 'file-end',
    name: parseName(meta.slice(0, sep), what),
    sha256: parseSha256(meta.slice(sep + 1), what),
  };
}

function parseReject(data: Uint8Array): FileRejectFrame {
  const what = 'FILEREJECT';
  const meta = headerLine(data, PREFIXES[3]!.length, what);
  const sep = meta.lastIndexOf('|');
  if (sep < 0) throw protocolError(`${what} must be <name>|<reason>`);
  const reason = meta.slice(sep + 1);
  if (!REASONS.has(reason))
    throw protocolError(`${what} reason ${JSON.stringify(reason.slice(0, 40))} is unknown`);
  return {
    type: 'file-reject',
    name: parseName(meta.slice(0, sep), what),
    reason: reason as FileRejectReason,
  };
}

function parseAck(data: Uint8Array): FileAckFrame {
  const what = 'FILEACK';
  const meta = headerLine(data, PREFIXES[4]!.length, what);
  const sep = meta.lastIndexOf('|');
  if (sep < 0) throw protocolError(`${what} must be <name>|<sha256hex>`);
  return {
    type: 'file-ack',
    name: parseName(meta.slice(0, sep), what),
    sha256: parseSha256(meta.slice(sep + 1), what),
  };
}

/**
 * Parses a BYTES payload as a file frame. Returns `null` when the payload is not a file frame at
 * all (it belongs to another protocol); throws `MeshwireError` `ERR_FILE_PROTOCOL` when it has a
 * file-frame prefix but is malformed. Names are returned as sent: validate them with
 * {@link sanitizeFileName} before use.
 */
export function parseFileFrame(data: Uint8Array): FileFrame | null {
  if (startsWith(data, PREFIXES[0]!)) return parseStart(data);
  if (startsWith(data, PREFIXES[1]!)) return parseChunk(data);
  if (startsWith(data, PREFIXES[2]!)) return parseEnd(data);
  if (startsWith(data, PREFIXES[3]!)) return parseReject(data);
  if (startsWith(data, PREFIXES[4]!)) return parseAck(data);
  return null;
}
