/**
 * The persisted peer book: addresses proven by a successful dial (with the peer's ID and the
 * time of the last success), so a group whose every node restarts can find itself again with no
 * bootstrap address. Pure data and fs; the node decides what to record and what to redial.
 *
 * File format (JSON, mode 0600): `{ "version": 1, "peers": [{ "address", "id"?, "lastSuccess" }] }`
 * with `lastSuccess` in ms since the epoch. Writes are batched and atomic (temp file, fsync,
 * rename), so a crash leaves the old file or the new one, never half of one. A corrupt or
 * truncated file is reported, kept as `<file>.bad`, and the book starts empty.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { tryParseAddress } from '../address.js';
import { ID_PATTERN } from '../codec/wire.js';
import { MeshwireError } from '../errors.js';

/** Format version written to the file. */
export const PEER_BOOK_FILE_VERSION = 1;

/** Files larger than this are not parsed (treated as corrupt). */
export const MAX_PEER_BOOK_FILE_BYTES = 1024 * 1024;

/** One remembered peer address. */
export interface PeerBookEntry {
  /** `host:port` that a dial reached. */
  address: string;
  /** The peer's ID as proven by that connection, when known. */
  id?: string;
  /** Time of the last successful dial, ms since the epoch. */
  lastSuccess: number;
}

/** Options of {@link PeerBookFile}. */
export interface PeerBookFileOptions {
  /** Path of the JSON file (parent directories are created). */
  file: string;
  /** Entries kept at most; the least recently successful go first. @default 256 */
  maxEntries?: number;
  /** Writes are batched: a change is saved at most this long after it is made, ms. @default 1000 */
  flushDelayMs?: number;
  /** Told about a corrupt file or a failed write (the book keeps working in memory). */
  onWarning?: (message: string, cause?: unknown) => void;
}

/** Same shape as a peer ID on the wire (codec/native.ts). */

/** A bounded, file-backed set of proven peer addresses. */
export class PeerBookFile {
  readonly #file: string;
  readonly #max: number;
  readonly #delay: number;
  readonly #warn: (message: string, cause?: unknown) => void;
  readonly #entries = new Map<string, PeerBookEntry>();
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();
  #closed = false;
  /** Completed writes (for tests of batching). */
  writes = 0;

  /** @throws MeshwireError `ERR_INVALID_OPTION` naming an invalid option. */
  constructor(options: PeerBookFileOptions) {
    if (typeof options?.file !== 'string' || options.file.length === 0)
      throw new MeshwireError('ERR_INVALID_OPTION', 'invalid option peerBookFile: expected a file path');
    const max = options.maxEntries ?? 256;
    if (!Number.isInteger(max) || max < 1 || max > 100_000)
      throw new MeshwireError(
        'ERR_INVALID_OPTION',
        'invalid option maxEntries: expected an integer from 1 to 100000',
      );
    const delay = options.flushDelayMs ?? 1_000;
    if (!Number.isInteger(delay) || delay < 0 || delay > 600_000)
      throw new MeshwireError(
        'ERR_INVALID_OPTION',
        'invalid option flushDelayMs: expected an integer from 0 to 600000',
      );
    this.#file = options.file;
    this.#max = max;
    this.#delay = delay;
    this.#warn = options.onWarning ?? ((message) => process.emitWarning(message, 'MeshwirePeerBook'));
  }

  /** The file path. */
  get file(): string {
    return this.#file;
  }

  /** Entries, most recently successful first. */
  entries(): PeerBookEntry[] {
    return [...this.#entries.values()].sort((a, b) => b.lastSuccess - a.lastSuccess).map((e) => ({ ...e }));
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Reads the file. A missing file is an empty book; an unreadable, oversized, truncated or
   * malformed one is reported through `onWarning`, renamed to `<file>.bad` and treated as empty.
   * Individual invalid entries are skipped (and reported once, with their count).
   */
  async load(): Promise<PeerBookEntry[]> {
    let text: string;
    try {
      const stat = await fs.stat(this.#file);
      if (stat.size > MAX_PEER_BOOK_FILE_BYTES) {
        await this.#quarantine(`is larger than ${MAX_PEER_BOOK_FILE_BYTES} bytes`);
        return [];
      }
      text = await fs.readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      this.#warn(`peer book ${this.#file} cannot be read; starting empty`, err);
      return [];
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      await this.#quarantine('is not valid JSON (truncated or corrupt)', err);
      return [];
    }
    const peers = (parsed as { peers?: unknown })?.peers;
    if ((parsed as { version?: unknown })?.version !== PEER_BOOK_FILE_VERSION || !Array.isArray(peers)) {
      await this.#quarantine(`is not a version ${PEER_BOOK_FILE_VERSION} peer book`);
      return [];
    }
    let skipped = 0;
    for (const raw of peers.slice(0, this.#max * 4)) {
      const entry = validEntry(raw);
      if (entry) this.#put(entry);
      else skipped++;
    }
    if (skipped > 0) this.#warn(`peer book ${this.#file}: skipped ${skipped} invalid entries`);
    return this.entries();
  }

  /**
   * Records a successful dial of `address` (proving `id`; an ID of an unexpected shape is not
   * stored). Saved within `flushDelayMs`.
   *
   * @throws MeshwireError `ERR_INVALID_ARGUMENT` if `address` is not `host:port`.
   */
  recordSuccess(address: string, id?: string, at: number = Date.now()): void {
    const entry = validEntry({
      address,
      id: id !== undefined && ID_PATTERN.test(id) ? id : undefined,
      lastSuccess: at,
    });
    if (!entry)
      throw new MeshwireError('ERR_INVALID_ARGUMENT', `not a peer address: ${JSON.stringify(address)}`);
    this.#put(entry);
    this.#markDirty();
  }

  /** Forgets an address (say, it now belongs to another peer). */
  forget(address: string): void {
    if (this.#entries.delete(address)) this.#markDirty();
  }

  /** Writes pending changes now. Resolves when they are on disk; failures go to `onWarning`. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!this.#dirty) return this.#writing;
    this.#dirty = false;
    const body = JSON.stringify({ version: PEER_BOOK_FILE_VERSION, peers: this.entries() }, null, 1) + '\n';
    this.#writing = this.#writing.then(() =>
      writeAtomically(this.#file, body).then(
        () => void this.writes++,
        (err: unknown) => this.#warn(`peer book ${this.#file} could not be saved`, err),
      ),
    );
    return this.#writing;
  }

  /** Flushes and stops the batching timer. Later changes are kept in memory only until flushed. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  #put(entry: PeerBookEntry): void {
    const existing = this.#entries.get(entry.address);
    if (existing && existing.lastSuccess > entry.lastSuccess) return;
    this.#entries.set(entry.address, entry);
    if (this.#entries.size > this.#max) {
      let oldest: PeerBookEntry | undefined;
      for (const e of this.#entries.values()) if (!oldest || e.lastSuccess < oldest.lastSuccess) oldest = e;
      this.#entries.delete(oldest!.address);
    }
  }

  #markDirty(): void {
    this.#dirty = true;
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => void this.flush(), this.#delay);
  }

  async #quarantine(why: string, cause?: unknown): Promise<void> {
    const bad = `${this.#file}.bad`;
    try {
      await fs.rename(this.#file, bad);
      this.#warn(`peer book ${this.#file} ${why}; kept it as ${bad} and started empty`, cause);
    } catch (err) {
      this.#warn(
        `peer book ${this.#file} ${why}; starting empty (could not keep a copy: ${String(err)})`,
        cause,
      );
    }
  }
}

function validEntry(raw: unknown): PeerBookEntry | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { address, id, lastSuccess } = raw as Record<string, unknown>;
  if (typeof address !== 'string' || !tryParseAddress(address)) return undefined;
  if (id !== undefined && (typeof id !== 'string' || !ID_PATTERN.test(id))) return undefined;
  if (typeof lastSuccess !== 'number' || !Number.isFinite(lastSuccess) || lastSuccess < 0) return undefined;
  return id === undefined ? { address, lastSuccess } : { address, id, lastSuccess };
}

/** Temp file in the same directory, fsync, rename over the target, fsync the directory. */
async function writeAtomically(file: string, body: string): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const handle = await fs.open(tmp, 'wx', 0o600);
    try {
      await handle.writeFile(body);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  try {
    const handle = await fs.open(dir, 'r');
    await handle.sync().finally(() => handle.close());
  } catch {
    // Some filesystems refuse fsync on a directory; the file itself is synced.
  }
}
