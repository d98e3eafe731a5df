// Longer than most files (~530 lines) on purpose: the original's line protocol, decoder and
// encoder side by side, so its quirks (Go-style trimming, chat that reads as a control line) are
// handled in one place.
/**
 * The compat codec: the Go original's plaintext line protocol (see PROTOCOL-compat.md), byte for
 * byte. Pure: bytes in, frames out; no sockets, no timers.
 */
import { tryParseAddress } from '../address.js';
import { CodecError } from '../errors.js';
import { DEFAULT_CODEC_LIMITS, type CodecLimits, type FrameDecoder, type FrameEncoder } from './codec.js';
import type { Frame, HelloFrame, PeerAddress } from './frame.js';
import { asBuffer, ID_PATTERN, looksLikeTls, MAX_NAME_BYTES } from './wire.js';

/** Which side of the connection a {@link CompatDecoder} reads for. */
export type CompatRole = 'dialer' | 'listener';

const NEWLINE = 0x0a;
const MAX_LISTEN_CHARS = 300;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
// Longest decimal length that is still an exact integer in a double; longer headers go to the
// slow path, which reports them as too large.
const MAX_FAST_DIGITS = 15;
const BYTES_PREFIX = Buffer.from('BYTES:', 'latin1');
const EMPTY = Buffer.alloc(0);

/**
 * `strings.TrimSpace` as the Go original applies it to every line. JS `trim()` differs (it strips
 * U+FEFF and keeps U+0085), and both sides must agree on what a line's text is, or a chat could be
 * read differently than it was checked. Hand-written scans instead of `/\s+$/`, which is quadratic
 * on long runs of inner whitespace.
 */
function isGoSpace(c: number): boolean {
  return (
    c === 0x20 ||
    (c >= 0x09 && c <= 0x0d) ||
    c === 0x85 ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000
  );
}

function trimGo(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

function malformed(message: string): CodecError {
  return new CodecError('ERR_MALFORMED_FRAME', message);
}

function preview(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}...` : text);
}

/**
 * Why a compat receiver would not read `text` back as the same chat message, or `undefined` when
 * it is safe to send. In the compat protocol a chat is just a line, so text that looks like a
 * control line would be injected as that frame, and surrounding whitespace would be lost.
 *
 * @param text - The chat text to check.
 * @param maxLineBytes - The receiver's line limit in UTF-8 bytes. Defaults to `DEFAULT_CODEC_LIMITS.maxLineBytes` (256 KiB).
 * @returns A human-readable reason, or `undefined` when the text round-trips unchanged.
 */
export function isControlLikeChat(
  text: string,
  maxLineBytes: number = DEFAULT_CODEC_LIMITS.maxLineBytes,
): string | undefined {
  if (text.includes('\n') || text.includes('\r')) return 'it contains a line break (CR or LF)';
  const trimmed = trimGo(text);
  if (trimmed.length === 0) return 'it is empty or only whitespace, which a receiver ignores';
  if (trimmed !== text) return 'it has leading or trailing whitespace, which a receiver trims off';
  if (trimmed === 'PING' || trimmed === 'PONG' || trimmed === 'REQUEST_PEERS') {
    return `the line ${trimmed} is a control frame in the compat protocol`;
  }
  for (const prefix of ['PEERS:', 'BYTES:', 'LISTEN:']) {
    if (text.startsWith(prefix))
      return `a line starting with ${prefix} is a control frame in the compat protocol`;
  }
  if (LONE_SURROGATE.test(text)) return 'it contains an unpaired UTF-16 surrogate, which is not valid UTF-8';
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > maxLineBytes) return `it is ${bytes} bytes long, more than the line limit of ${maxLineBytes}`;
  return undefined;
}

type Phase = 'hello' | 'after-hello' | 'open';

/**
 * Incremental decoder for the compat line protocol.
 *
 * The returned frames may hold `subarray` views of the pushed chunks (BYTES payloads that arrive
 * whole are not copied), so a caller must not reuse or modify a buffer after pushing it. Socket
 * chunks are never reused, so feeding `'data'` chunks straight in is safe.
 *
 * When a chunk violates the protocol, `push` throws a `CodecError` and the frames decoded earlier
 * from that same chunk are not returned; the peer is to be dropped anyway.
 */
export class CompatDecoder implements FrameDecoder {
  readonly #role: CompatRole;
  readonly #limits: CodecLimits;
  readonly #utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  #phase: Phase = 'hello';
  #receivedAny = false;
  #error: CodecError | undefined;
  /**
   * An unterminated line, copied, waiting for its '\n': `#lineBytes` bytes of `#lineBuf`, which
   * grows by doubling up to `maxLineBytes`. One buffer rather than one per chunk, so a line
   * trickled in 1-byte chunks costs about its length, not a Buffer object per byte.
   */
  #lineBuf: Buffer = EMPTY;
  #lineBytes = 0;
  /** The BYTES payload being filled, when it spans chunks. */
  #payload: Buffer | undefined;
  #payloadFilled = 0;

  /**
   * @param role - `'dialer'` reads the listener's answer (hello, `DUPLICATE` or `MAX_PEERS`);
   *   `'listener'` reads the dialer's hello and its optional `LISTEN:` line.
   * @param limits - Limits checked before anything is buffered. Defaults to `DEFAULT_CODEC_LIMITS`.
   */
  constructor(role: CompatRole, limits: CodecLimits = DEFAULT_CODEC_LIMITS) {
    this.#role = role;
    this.#limits = limits;
  }

  /**
   * Bytes held waiting for the rest of a frame: an unterminated line, or the part of a BYTES
   * payload received so far.
   */
  get bufferedBytes(): number {
    return this.#lineBytes + this.#payloadFilled;
  }

  /** {@inheritDoc FrameDecoder.push} */
  push(chunk: Uint8Array): Frame[] {
    if (this.#error) throw this.#error;
    const frames: Frame[] = [];
    if (chunk.length === 0) return frames;
    try {
      this.#consume(asBuffer(chunk), frames);
    } catch (err) {
      this.#error = err instanceof CodecError ? err : malformed(`compat decoder failed: ${String(err)}`);
      this.#lineBuf = EMPTY;
      this.#lineBytes = 0;
      this.#payload = undefined;
      this.#payloadFilled = 0;
      throw this.#error;
    }
    return frames;
  }

  #consume(buf: Buffer, frames: Frame[]): void {
    if (!this.#receivedAny) {
      this.#receivedAny = true;
      // Checked on the first byte, not the first line: a TLS client sends no '\n' and would
      // otherwise sit waiting for our answer until the handshake times out.
      if (looksLikeTls(buf[0] as number)) {
        throw malformed(
          'a TLS handshake arrived on a compat (plaintext) port: the remote is probably a meshwire node in secure mode',
        );
      }
    }
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      if (this.#payload) {
        pos = this.#fillPayload(buf, pos, frames);
        continue;
      }
      const nl = buf.indexOf(NEWLINE, pos);
      const max = this.#limits.maxLineBytes;
      if (nl < 0) {
        const rest = end - pos;
        if (this.#lineBytes + rest > max) throw this.#lineTooLong(this.#lineBytes + rest);
        // Copied rather than kept as a view so a short tail does not pin a large socket chunk.
        this.#appendLine(buf, pos, end);
        return;
      }
      let line: Buffer;
      const length = this.#lineBytes + (nl - pos);
      if (length > max) throw this.#lineTooLong(length);
      if (this.#lineBytes === 0) {
        line = buf.subarray(pos, nl);
      } else {
        this.#appendLine(buf, pos, nl);
        // Only read (decoded or parsed) before the next push, never handed out in a frame.
        line = this.#lineBuf.subarray(0, length);
        this.#lineBuf = EMPTY;
        this.#lineBytes = 0;
      }
      pos = this.#line(line, buf, nl + 1, frames);
    }
  }

  /** Appends `buf[from, to)` to the unterminated line; the caller has checked the line limit. */
  #appendLine(buf: Buffer, from: number, to: number): void {
    const length = this.#lineBytes + (to - from);
    if (length > this.#lineBuf.length) {
      const capacity = Math.min(Math.max(length, 2 * this.#lineBuf.length, 64), this.#limits.maxLineBytes);
      const grown = Buffer.allocUnsafe(capacity);
      this.#lineBuf.copy(grown, 0, 0, this.#lineBytes);
      this.#lineBuf = grown;
    }
    buf.copy(this.#lineBuf, this.#lineBytes, from, to);
    this.#lineBytes = length;
  }

  #lineTooLong(length: number): CodecError {
    return new CodecError(
      'ERR_LINE_TOO_LONG',
      `compat line of at least ${length} bytes exceeds the limit of ${this.#limits.maxLineBytes} bytes`,
    );
  }

  /** Handles one complete line; returns where reading of `buf` continues (past a BYTES payload). */
  #line(line: Buffer, buf: Buffer, pos: number, frames: Frame[]): number {
    if (this.#phase === 'open') {
      // Hot path: BYTES headers are parsed from the raw bytes, with no string decoding.
      const n = fastBytesLength(line);
      if (n >= 0) return this.#startPayload(n, buf, pos, frames);
    }
    const text = trimGo(this.#decode(line));
    if (text.length === 0) return pos;
    switch (this.#phase) {
      case 'hello':
        if (this.#role === 'dialer' && text === 'DUPLICATE') {
          frames.push({ type: 'reject', reason: 'duplicate' });
        } else if (this.#role === 'dialer' && text === 'MAX_PEERS') {
          frames.push({ type: 'reject', reason: 'max-peers' });
        } else {
          frames.push(parseHello(text));
        }
        this.#phase = this.#role === 'listener' ? 'after-hello' : 'open';
        return pos;
      case 'after-hello':
        this.#phase = 'open';
        if (text.startsWith('LISTEN:')) {
          const address = trimGo(text.slice(7));
          if (address.length === 0 || address.length > MAX_LISTEN_CHARS) {
            throw malformed(`compat LISTEN line has an empty or over-long address: ${preview(text)}`);
          }
          // The encoder's rule too: the address becomes the peer's address, shown and re-shared.
          if (CONTROL_CHARS.test(address)) {
            throw malformed(`compat LISTEN address contains control characters: ${preview(address)}`);
          }
          frames.push({ type: 'listen', address });
          return pos;
        }
        return this.#openLine(text, buf, pos, frames);
      case 'open':
        return this.#openLine(text, buf, pos, frames);
    }
  }

  #openLine(text: string, buf: Buffer, pos: number, frames: Frame[]): number {
    switch (text) {
      case 'PING':
        frames.push({ type: 'ping', nonce: 0n });
        return pos;
      case 'PONG':
        frames.push({ type: 'pong', nonce: 0n });
        return pos;
      case 'REQUEST_PEERS':
        frames.push({ type: 'request-peers' });
        return pos;
    }
    if (text.startsWith('PEERS:')) {
      frames.push({ type: 'peers', peers: this.#parsePeers(text.slice(6)) });
      return pos;
    }
    if (text.startsWith('BYTES:')) {
      const digits = text.slice(6);
      if (!/^\d+$/.test(digits))
        throw malformed(`compat BYTES header has an invalid length: ${preview(text)}`);
      return this.#startPayload(Number(digits), buf, pos, frames);
    }
    frames.push({ type: 'chat', text });
    return pos;
  }

  #parsePeers(list: string): PeerAddress[] {
    const peers: PeerAddress[] = [];
    let entries = 0;
    for (const raw of list.split(',')) {
      const address = trimGo(raw);
      if (address.length === 0) continue;
      if (++entries > this.#limits.maxPeersPerFrame) {
        throw new CodecError(
          'ERR_TOO_MANY_ENTRIES',
          `compat PEERS line has more than ${this.#limits.maxPeersPerFrame} entries`,
        );
      }
      // Garbage entries are skipped, not fatal: the Go nodes send what they have, and one bad
      // address should not cost the whole list or the connection.
      if (tryParseAddress(address)) peers.push({ address });
    }
    return peers;
  }

  #startPayload(n: number, buf: Buffer, pos: number, frames: Frame[]): number {
    // Checked on the header, before a single payload byte is buffered: `BYTES:99999999999` is
    // how the Go original can be made to allocate itself to death.
    if (n > this.#limits.maxBytesPerMessage) {
      throw new CodecError(
        'ERR_FRAME_TOO_LARGE',
        `compat BYTES payload of ${n} bytes exceeds the limit of ${this.#limits.maxBytesPerMessage} bytes`,
      );
    }
    if (n === 0) {
      frames.push({ type: 'bytes', data: EMPTY });
      return pos;
    }
    if (buf.length - pos >= n) {
      frames.push({ type: 'bytes', data: buf.subarray(pos, pos + n) });
      return pos + n;
    }
    this.#payload = Buffer.allocUnsafe(n);
    this.#payloadFilled = 0;
    return this.#fillPayload(buf, pos, frames);
  }

  #fillPayload(buf: Buffer, pos: number, frames: Frame[]): number {
    const payload = this.#payload as Buffer;
    const take = Math.min(payload.length - this.#payloadFilled, buf.length - pos);
    buf.copy(payload, this.#payloadFilled, pos, pos + take);
    this.#payloadFilled += take;
    if (this.#payloadFilled === payload.length) {
      frames.push({ type: 'bytes', data: payload });
      this.#payload = undefined;
      this.#payloadFilled = 0;
    }
    return pos + take;
  }

  #decode(line: Buffer): string {
    try {
      return this.#utf8.decode(line);
    } catch {
      throw malformed('compat line is not valid UTF-8');
    }
  }
}

/**
 * The length of a plain `BYTES:<digits>` line (trailing ASCII whitespace allowed), or -1 when the
 * line needs the general path, which then produces exactly the same result or error.
 */
function fastBytesLength(line: Buffer): number {
  const len = line.length;
  if (len < 7 || line[0] !== 0x42) return -1;
  for (let i = 1; i < 6; i++) if (line[i] !== BYTES_PREFIX[i]) return -1;
  let end = len;
  while (end > 6 && isAsciiSpace(line[end - 1] as number)) end--;
  if (end === 6 || end - 6 > MAX_FAST_DIGITS) return -1;
  let n = 0;
  for (let i = 6; i < end; i++) {
    const d = (line[i] as number) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

function parseHello(text: string): HelloFrame {
  const colon = text.indexOf(':');
  if (colon < 0) throw malformed(`compat hello line has no ':' separator: ${preview(text)}`);
  const id = text.slice(0, colon);
  const name = text.slice(colon + 1);
  if (!ID_PATTERN.test(id)) {
    throw malformed(`compat hello has an invalid ID (1..128 of [A-Za-z0-9._-]): ${preview(id)}`);
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw malformed(`compat hello name is longer than ${MAX_NAME_BYTES} bytes`);
  }
  if (CONTROL_CHARS.test(name)) throw malformed('compat hello name contains control characters');
  return { type: 'hello', id, name: name.length === 0 ? id : name, listen: [], version: 0, features: [] };
}

function invalid(message: string): CodecError {
  return new CodecError('ERR_INVALID_ARGUMENT', message);
}

/**
 * Encoder for the compat line protocol. Refuses, with a `CodecError`, every frame that a compat
 * receiver would read back as something else, rather than inject a frame into the stream.
 */
export class CompatEncoder implements FrameEncoder {
  readonly #limits: CodecLimits;

  /** @param limits - The receiver's limits, which encoded frames must respect. Defaults to `DEFAULT_CODEC_LIMITS`. */
  constructor(limits: CodecLimits = DEFAULT_CODEC_LIMITS) {
    this.#limits = limits;
  }

  /**
   * Encodes one frame. A hello's `listen`, `version` and `features` are not part of the compat
   * hello line (send a `listen` frame after it). A BYTES frame becomes the header and a view of
   * the payload (no copy; just the header when the payload is empty), written back to back.
   *
   * @throws CodecError `ERR_CHAT_NOT_ENCODABLE` for chat text the protocol would misread (see
   *   {@link isControlLikeChat}), `ERR_FRAME_TOO_LARGE` for an oversize BYTES payload,
   *   `ERR_TOO_MANY_ENTRIES` / `ERR_LINE_TOO_LONG` for an oversize PEERS list, and
   *   `ERR_INVALID_ARGUMENT` for anything compat cannot express.
   */
  encode(frame: Frame): Buffer[] {
    switch (frame.type) {
      case 'hello':
        return [this.#line(`${checkId(frame.id)}:${checkName(frame.name)}`)];
      case 'listen':
        return [this.#line(`LISTEN:${checkListen(frame.address)}`)];
      case 'reject':
        if (frame.reason === 'duplicate') return [this.#line('DUPLICATE')];
        if (frame.reason === 'max-peers') return [this.#line('MAX_PEERS')];
        throw invalid(`the compat protocol cannot express the reject reason '${String(frame.reason)}'`);
      case 'ping':
        return [this.#line('PING')];
      case 'pong':
        return [this.#line('PONG')];
      case 'request-peers':
        return [this.#line('REQUEST_PEERS')];
      case 'peers':
        return [this.#peers(frame.peers)];
      case 'chat': {
        if (typeof frame.text !== 'string') throw invalid('chat text must be a string');
        const reason = isControlLikeChat(frame.text, this.#limits.maxLineBytes);
        if (reason !== undefined) {
          throw new CodecError(
            'ERR_CHAT_NOT_ENCODABLE',
            `chat text ${preview(frame.text)} cannot be sent in compat mode: ${reason}`,
          );
        }
        return [line(frame.text)];
      }
      case 'bytes': {
        if (!(frame.data instanceof Uint8Array)) throw invalid('bytes data must be a Uint8Array');
        const n = frame.data.byteLength;
        if (n > this.#limits.maxBytesPerMessage) {
          throw new CodecError(
            'ERR_FRAME_TOO_LARGE',
            `BYTES payload of ${n} bytes exceeds the limit of ${this.#limits.maxBytesPerMessage} bytes`,
          );
        }
        const header = this.#line(`BYTES:${n}`);
        return n === 0 ? [header] : [header, asBuffer(frame.data)];
      }
      case 'auth':
      case 'goodbye':
        throw invalid(`the compat protocol has no '${frame.type}' frame`);
      default:
        throw invalid(`unknown frame type ${JSON.stringify((frame as { type: unknown }).type)}`);
    }
  }

  /** A line the receiver's decoder accepts: at most `maxLineBytes` bytes before its '\n'. */
  #line(text: string): Buffer {
    const out = line(text);
    if (out.length - 1 > this.#limits.maxLineBytes) {
      throw new CodecError(
        'ERR_LINE_TOO_LONG',
        `compat line of ${out.length - 1} bytes exceeds the limit of ${this.#limits.maxLineBytes} bytes`,
      );
    }
    return out;
  }

  #peers(peers: PeerAddress[]): Buffer {
    if (!Array.isArray(peers)) throw invalid('peers must be an array');
    if (peers.length > this.#limits.maxPeersPerFrame) {
      throw new CodecError(
        'ERR_TOO_MANY_ENTRIES',
        `PEERS list of ${peers.length} entries exceeds the limit of ${this.#limits.maxPeersPerFrame}`,
      );
    }
    for (const peer of peers) {
      // Also keeps ',' and line breaks out, which would split or end the list on the wire.
      if (typeof peer?.address !== 'string' || !tryParseAddress(peer.address)) {
        throw invalid(`invalid peer address ${preview(String(peer?.address))}`);
      }
    }
    const out = line(`PEERS:${peers.map((p) => p.address).join(',')}`);
    if (out.length - 1 > this.#limits.maxLineBytes) {
      throw new CodecError(
        'ERR_LINE_TOO_LONG',
        `PEERS line of ${out.length - 1} bytes exceeds the limit of ${this.#limits.maxLineBytes} bytes`,
      );
    }
    return out;
  }
}

function line(text: string): Buffer {
  return Buffer.from(`${text}\n`, 'utf8');
}

function checkId(id: string): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id))
    throw invalid(`peer ID ${preview(id)} is not 1..128 of [A-Za-z0-9._-]`);
  return id;
}

function checkName(name: string): string {
  if (typeof name !== 'string') throw invalid('a compat hello name must be a string');
  if (CONTROL_CHARS.test(name)) throw invalid('a compat hello name cannot contain control characters');
  if (LONE_SURROGATE.test(name)) throw invalid('a compat hello name cannot contain unpaired surrogates');
  // Only the end matters: the receiver trims the whole `<ID>:<NAME>` line, not the name alone.
  if (name.length > 0 && isGoSpace(name.charCodeAt(name.length - 1))) {
    throw invalid('a compat hello name cannot end in whitespace (the receiver trims it off)');
  }
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw invalid(`a compat hello name cannot be longer than ${MAX_NAME_BYTES} bytes`);
  }
  return name;
}

function checkListen(address: string): string {
  if (typeof address !== 'string') throw invalid('a LISTEN address must be a string');
  if (address.length === 0 || address.length > MAX_LISTEN_CHARS) {
    throw invalid(`LISTEN address must be 1..${MAX_LISTEN_CHARS} characters`);
  }
  if (CONTROL_CHARS.test(address) || trimGo(address) !== address) {
    throw invalid(`LISTEN address ${preview(address)} contains whitespace or control characters`);
  }
  if (LONE_SURROGATE.test(address)) throw invalid('a LISTEN address cannot contain unpaired surrogates');
  return address;
}
