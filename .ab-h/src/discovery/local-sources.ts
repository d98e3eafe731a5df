import { MeshwireError } from '../errors.js';
import type { Identity } from '../secure/identity.js';
import type { Discovery } from './discovery.js';
import { identitySigner, LanDiscovery } from './lan/index.js';
import { PeerBookFile } from './peer-book-file.js';

/**
 * When the remembered peers are retried after start, ms after it (1 s, then doubling: 1, 3, 7,
 * 15, 31 s). A group restarted together comes up over a few seconds, so a first dial is often
 * refused; the book's own backoff would wait for the next discovery round (30 s by default).
 */
const BOOK_REDIAL_AT_MS = [1_000, 3_000, 7_000, 15_000, 31_000];

/**
 * How long the addresses of a peer that said goodbye on the LAN are left alone, ms, unless it
 * announces itself again: it left on purpose, so discovery rounds must not keep dialling it.
 */
const LAN_GOODBYE_HOLD_MS = 5 * 60_000;

/** What the node tells its local sources. */
export interface LocalSourcesOptions {
  mode: 'secure' | 'compat';
  /** The bound port (announced on the LAN). */
  port: number;
  /** This node's ID (compat: announced unsigned). */
  id: string;
  /** Secure mode: signs LAN announcements. */
  identity?: Identity;
  /** Secure mode: makes LAN announcements private to the network. */
  networkKey?: Buffer;
  lan: boolean;
  lanInterfaces?: readonly string[];
  peerBookFile?: string;
}

/**
 * The discovery sources that live on this machine rather than in the mesh: LAN discovery
 * (mDNS) and the persisted peer book. Both hand their addresses to discovery through the same
 * entry as peer exchange, so the dial budget and the book's quotas bound them too.
 */
export class LocalSources {
  readonly #discovery: Discovery;
  readonly #warn: (error: MeshwireError) => void;
  #lan: LanDiscovery | undefined;
  #book: PeerBookFile | undefined;
  readonly #redialTimers = new Set<NodeJS.Timeout>();
  #closed = false;

  constructor(discovery: Discovery, warn: (error: MeshwireError) => void) {
    this.#discovery = discovery;
    this.#warn = warn;
  }

  /** Loads the peer book (its addresses become candidates at once) and starts LAN discovery. */
  async start(options: LocalSourcesOptions): Promise<void> {
    if (options.peerBookFile) {
      const book = new PeerBookFile({
        file: options.peerBookFile,
        // The book's messages name it and its file already ("peer book <file> ...").
        onWarning: (message, cause) => this.#warn(new MeshwireError('ERR_FILE_IO', message, { cause })),
      });
      this.#book = book;
      const entries = await book.load();
      // Hints, not bindings: a remembered peer may come back with a new identity, and a stale
      // ID must not block its address (a dial proves who is there now).
      this.#discovery.addCandidates(
        entries.map((e) => (e.id ? { address: e.address, id: e.id } : { address: e.address })),
        { source: 'book' },
      );
      this.#scheduleBookRedials(entries.map((e) => e.address));
    }
    if (options.lan) {
      const lan = new LanDiscovery({
        mode: options.mode,
        port: options.port,
        ...(options.identity ? { signer: identitySigner(options.identity) } : { id: options.id }),
        ...(options.networkKey ? { networkKey: options.networkKey } : {}),
        ...(options.lanInterfaces ? { interfaces: options.lanInterfaces } : {}),
        // Charged to the `lan` budget like any other source's claims: a signed record proves who
        // announced it, not that the address is theirs to give.
        onCandidate: (c) => {
          // A fresh announcement says the peer is there now: a backoff or a goodbye hold on that
          // address no longer applies (the record is signed in secure mode, and rate limited).
          const entry = this.#discovery.book.get(c.address);
          if (entry && entry.nextAttemptAt > Date.now()) entry.nextAttemptAt = Date.now();
          this.#discovery.addCandidates([{ address: c.address, id: c.id }], { source: 'lan' });
        },
        onGone: (id, reason) => {
          // An expired record may only be a partition: the heartbeat and the redials judge that.
          if (reason === 'goodbye') this.#holdAddressesOf(id);
        },
        onWarning: (err) =>
          this.#warn(
            new MeshwireError('ERR_DISCOVERY_SOCKET', `LAN discovery: ${err.message}`, { cause: err }),
          ),
      });
      this.#lan = lan;
      try {
        await lan.start();
      } catch (err) {
        // LAN discovery calls the option `interfaces`; the node's caller set `lanInterfaces`.
        if (err instanceof MeshwireError && err.code === 'ERR_INVALID_OPTION') {
          const message = err.message.replace(/^invalid option interfaces:/, 'invalid option lanInterfaces:');
          throw new MeshwireError('ERR_INVALID_OPTION', message, { cause: err });
        }
        throw err;
      }
    }
  }

  /**
   * Retries the remembered addresses whose first dials failed on a short start-up backoff
   * ({@link BOOK_REDIAL_AT_MS}), through discovery's normal round so the dial budget and the
   * connected / in-flight checks still apply. Only entries that failed are touched: a pending
   * redial of a dropped peer keeps its own schedule.
   */
  #scheduleBookRedials(addresses: string[]): void {
    if (addresses.length === 0) return;
    for (const at of BOOK_REDIAL_AT_MS) {
      const timer = setTimeout(() => {
        this.#redialTimers.delete(timer);
        if (this.#closed) return;
        const now = Date.now();
        for (const address of addresses) {
          const entry = this.#discovery.book.get(address);
          if (entry && entry.failures > 0 && entry.nextAttemptAt > now) entry.nextAttemptAt = now;
        }
        this.#discovery.autoConnect();
      }, at);
      // Never what keeps a process alive.
      timer.unref();
      this.#redialTimers.add(timer);
    }
  }

  /** `id` said goodbye on the LAN: its known addresses are not dialled for a while. */
  #holdAddressesOf(id: string): void {
    const until = Date.now() + LAN_GOODBYE_HOLD_MS;
    for (const entry of this.#discovery.book.values()) {
      if (entry.id === id && entry.nextAttemptAt < until) entry.nextAttemptAt = until;
    }
  }

  /** A dial of ours reached `id` at `address`: remember it for the next start. */
  recordDial(address: string, id: string): void {
    this.#book?.recordSuccess(address, id);
  }

  /** Says goodbye on the LAN (first, so peers drop us at once), then saves the book. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#redialTimers) clearTimeout(timer);
    this.#redialTimers.clear();
    await this.#lan?.close();
    await this.#book?.close();
  }

  /** LAN discovery's counters (announcements sent, received, rejected by reason), if it runs. */
  get lan(): LanDiscovery | undefined {
    return this.#lan;
  }
}
