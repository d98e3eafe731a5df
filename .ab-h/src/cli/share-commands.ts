/**
 * Secure-mode files in the CLI: a {@link FileShare} next to the compat receiver, the `/share`,
 * `/get <root-prefix>` and `/files` commands, `--accept-files` consent, and the share's events
 * (offers, downloads, resumes, dropped sources) as CLI events and progress bars.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PeerRef } from '../index.js';
import type { Download, FileOffer, FileShare } from '../files/index.js';
import { AcceptPrompt } from './accept-prompt.js';
import type { CliConfig } from './args.js';
import type { CliEvent, ErrorLike, FileRow, ShareTransferJson } from './cli-events.js';
import type { CliIO } from './cli-io.js';
import { displayName } from './event-text.js';
import { expandHome } from './file-commands.js';
import type { ProgressView } from './progress.js';
import { toJsonLine } from './json-output.js';
import { PendingSends } from './pending-sends.js';
import { resolveRootPrefix } from './root-prefix.js';
import type { Screen } from './screen.js';

/** Roots remembered from peers' offers, for `/get <prefix>` (oldest forgotten first). */
export const MAX_SEEN_OFFERS = 1024;
/** Peers remembered per offered root. */
const MAX_HOLDERS = 32;
/** Failed downloads kept for `/files`. */
const MAX_FAILED = 64;

/** What the share commands need from the CLI (the app implements it). */
export interface ShareHost {
  readonly node: { getPeerInfo(): { peers: readonly PeerRef[] } };
  readonly io: Pick<CliIO, 'cwd'>;
  readonly config: Pick<CliConfig, 'acceptFiles'>;
  readonly shutdownSignal: AbortSignal;
  readonly progress: ProgressView;
  readonly screen: Pick<Screen, 'live' | 'print'>;
  emit(event: CliEvent): void;
  commandError(message: string, hint?: string): void;
}

function errorJson(err: unknown): ErrorLike {
  const code = (err as { code?: unknown }).code;
  return { message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}) };
}

function transfer(offer: FileOffer): ShareTransferJson {
  return { root: offer.rootHex, name: offer.name, size: offer.size };
}

/** The CLI's side of a {@link FileShare}: commands, consent and reporting. */
export class ShareCommands {
  readonly share: FileShare;
  readonly prompt: AcceptPrompt;
  readonly #app: ShareHost;
  /** rootHex -> the offer and the peers that offered it (insertion order = age). */
  readonly #seen = new Map<string, { offer: FileOffer; holders: Set<string> }>();
  readonly #failed: FileRow[] = [];
  readonly #started = new Map<string, number>();
  /** Roots this node shared or offered: peers' `have` for them is not news. */
  readonly #mine = new Set<string>();
  /** `/send` offers waiting for each peer's `have` (download complete) or refusal. */
  readonly #sends = new PendingSends();

  constructor(app: ShareHost, share: FileShare, prompt = new AcceptPrompt()) {
    this.#app = app;
    this.share = share;
    this.prompt = prompt;
    this.#wire();
  }

  /** The consent hook for FileShare's `accept` option, following `--accept-files`. */
  accept(offer: FileOffer, from: PeerRef): Promise<boolean> {
    const policy = this.#app.config.acceptFiles;
    const answer = (accepted: boolean, by: 'user' | 'timeout' | 'policy'): boolean => {
      this.#app.emit({ type: 'accept-answer', time: Date.now(), from, accepted, by, ...transfer(offer) });
      return accepted;
    };
    if (policy !== 'ask') return Promise.resolve(answer(policy === 'all', 'policy'));
    return this.prompt
      .question(() =>
        this.#app.emit({
          type: 'accept-question',
          time: Date.now(),
          from,
          timeoutMs: this.prompt.timeoutMs,
          ...transfer(offer),
        }),
      )
      .then(({ accepted, by }) => answer(accepted, by === 'user' ? 'user' : 'timeout'));
  }

  #peer(id: string): PeerRef {
    return this.#app.node.getPeerInfo().peers.find((p) => p.id === id) ?? { id, name: id, address: '?' };
  }

  #remember(offer: FileOffer, from: string): void {
    let entry = this.#seen.get(offer.rootHex);
    if (!entry) {
      if (this.#seen.size >= MAX_SEEN_OFFERS) {
        const oldest = this.#seen.keys().next().value;
        if (oldest !== undefined) this.#seen.delete(oldest);
      }
      entry = { offer, holders: new Set() };
      this.#seen.set(offer.rootHex, entry);
    }
    if (entry.holders.size < MAX_HOLDERS) entry.holders.add(from);
  }

  #rate(d: Download): number {
    const seconds = (performance.now() - d.startedAt) / 1000;
    return seconds > 0 ? d.bytesThisSession / seconds : 0;
  }

  #wire(): void {
    const { share } = this;
    const app = this.#app;
    const key = (d: Download): string => `get:${d.offer.rootHex}`;
    share.on('offer', ({ from, offer, push }) => {
      if (!push) this.#sendProgress(offer.rootHex, from.id, true);
      // A `have` for a file we hold (a peer finished downloading it) is not news.
      if (this.#mine.has(offer.rootHex) || (!push && this.share.download(offer.rootHex))) return;
      this.#remember(offer, from.id);
      app.emit({ type: 'file-offer', time: Date.now(), from, push, ...transfer(offer) });
    });
    share.on('download-start', ({ download: d, resumed }) => {
      this.#started.set(d.offer.rootHex, performance.now());
      app.emit({
        type: 'download-start',
        time: Date.now(),
        resumed,
        bytesDone: d.bytesDone,
        sources: [...d.knownSources].map((id) => this.#peer(id)),
        ...transfer(d.offer),
      });
    });
    share.on('download-progress', ({ download: d }) => {
      const rate = this.#rate(d);
      const sources = d.activeSources;
      app.progress.update(
        key(d),
        {
          direction: 'recv',
          name: d.offer.name,
          peer:
            sources.length === 1
              ? displayName(this.#peer(sources[0] as string))
              : `${sources.length} sources`,
          done: d.bytesDone,
          total: d.offer.size,
          rate,
        },
        {
          type: 'download-progress',
          time: Date.now(),
          bytesDone: d.bytesDone,
          rate: Math.round(rate),
          sources: sources.length,
          ...transfer(d.offer),
        },
      );
    });
    share.on('download-paused', ({ download: d }) =>
      app.emit({ type: 'download-paused', time: Date.now(), bytesDone: d.bytesDone, ...transfer(d.offer) }),
    );
    share.on('download-complete', ({ download: d, path: finalPath }) => {
      app.progress.end(key(d));
      const started = this.#started.get(d.offer.rootHex) ?? performance.now();
      this.#started.delete(d.offer.rootHex);
      this.#mine.add(d.offer.rootHex);
      app.emit({
        type: 'download-complete',
        time: Date.now(),
        path: finalPath,
        elapsedMs: Math.round(performance.now() - started),
        ...transfer(d.offer),
      });
    });
    share.on('download-failed', ({ download: d, error }) => {
      app.progress.end(key(d));
      this.#started.delete(d.offer.rootHex);
      if (this.#failed.length >= MAX_FAILED) this.#failed.shift();
      this.#failed.push({
        ...transfer(d.offer),
        status: 'failed',
        bytesDone: d.bytesDone,
        rate: 0,
        sources: [],
        error: errorJson(error),
      });
      app.emit({ type: 'download-failed', time: Date.now(), error: errorJson(error), ...transfer(d.offer) });
    });
    share.on('source-dropped', ({ download: d, peerId, error }) =>
      app.emit({
        type: 'source-dropped',
        time: Date.now(),
        peer: this.#peer(peerId),
        error: errorJson(error),
        ...transfer(d.offer),
      }),
    );
    share.on('offer-refused', ({ peerId, rootHex }) => {
      this.#sendProgress(rootHex, peerId, false);
      const offer = this.#seen.get(rootHex)?.offer;
      app.emit({
        type: 'file-offer-refused',
        time: Date.now(),
        peer: this.#peer(peerId),
        root: rootHex,
        ...(offer ? { name: offer.name, size: offer.size } : {}),
      });
    });
    share.on('warning', ({ error, rootHex }) =>
      app.emit({
        type: 'file-warning',
        time: Date.now(),
        error: errorJson(error),
        ...(rootHex !== undefined ? { root: rootHex } : {}),
      }),
    );
  }

  async #fileArg(file: string, verb: string): Promise<string | undefined> {
    const filePath = path.resolve(this.#app.io.cwd, expandHome(file));
    try {
      const info = await stat(filePath);
      if (!info.isFile()) throw new Error('not a regular file');
      return filePath;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      this.#app.commandError(
        `Cannot ${verb} ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
      );
      return undefined;
    }
  }

  /** `/share <file>`: hash the file, serve it and announce it; prints its root. */
  async shareCommand(file: string): Promise<void> {
    const filePath = await this.#fileArg(file, 'share');
    if (filePath === undefined) return;
    const offer = await this.share.shareFile(filePath, { signal: this.#app.shutdownSignal });
    this.#mine.add(offer.rootHex);
    this.#app.emit({ type: 'file-shared', time: Date.now(), path: filePath, ...transfer(offer) });
  }

  /**
   * `/send <file> [peer]` over FileShare: offers the file (already checked to exist); the peers
   * pull it if they accept. `file-sent` follows once each has it or refused it.
   */
  async offerCommand(filePath: string, to: readonly PeerRef[]): Promise<void> {
    const started = performance.now();
    const { offer, offeredTo } = await this.share.sendFile(filePath, {
      to: to.map((p) => p.id),
      signal: this.#app.shutdownSignal,
    });
    this.#mine.add(offer.rootHex);
    this.#sends.add(offer, offeredTo, started);
    this.#app.emit({
      type: 'file-offered',
      time: Date.now(),
      to: offeredTo.map((id) => this.#peer(id)),
      ...transfer(offer),
    });
  }

  /** A peer now has (or refused) a file a `/send` offered it; reports the send when all answered. */
  #sendProgress(rootHex: string, peerId: string, delivered: boolean): void {
    const send = this.#sends.answered(rootHex, peerId, delivered);
    if (!send) return;
    this.#app.emit({
      type: 'file-sent',
      time: Date.now(),
      delivered: send.delivered.map((id) => this.#peer(id)),
      refused: send.refused.map((id) => this.#peer(id)),
      elapsedMs: Math.round(performance.now() - send.started),
      ...transfer(send.offer),
    });
  }

  /** The roots `/get` can name: offers seen and downloads in progress. */
  #candidates(): Map<string, { name: string; size: number }> {
    const out = new Map<string, { name: string; size: number }>();
    for (const [root, { offer }] of this.#seen) out.set(root, { name: offer.name, size: offer.size });
    for (const t of this.share.transfers()) {
      if (t.status !== 'complete') out.set(t.rootHex, { name: t.name, size: t.size });
    }
    return out;
  }

  /** `/get <root-prefix>`: resolves the prefix among known roots, then fetches from every holder. */
  async getCommand(prefix: string): Promise<void> {
    const app = this.#app;
    const lookup = resolveRootPrefix(prefix, this.#candidates());
    if ('error' in lookup) {
      app.commandError(lookup.error, lookup.hint);
      return;
    }
    const root = lookup.root;
    const held = this.share.transfers().find((t) => t.rootHex === root && t.status === 'complete');
    if (held) {
      app.emit({
        type: 'info',
        time: Date.now(),
        category: 'FILE',
        text: `Already have ${held.name}${held.path !== undefined ? ` at ${held.path}` : ''}`,
      });
      return;
    }
    const holders = this.#seen.get(root)?.holders;
    const connected = new Set(app.node.getPeerInfo().peers.map((p) => p.id));
    const sources = holders ? [...holders].filter((id) => connected.has(id)) : [];
    // Not awaited: a download can wait for a source for as long as it takes, and Ctrl-D waits
    // for the commands in flight. Completion and failure are reported by the share's events.
    this.share
      .fetchFile(root, { ...(sources.length > 0 ? { sources } : {}), signal: app.shutdownSignal })
      .catch((err: unknown) => {
        if (app.shutdownSignal.aborted) return; // it resumes at the next start
        const code = (err as { code?: unknown }).code;
        if (code === 'ERR_PEER_TIMEOUT') {
          app.commandError(
            `No peer has the file with root ${root.slice(0, 12)}`,
            'is the peer that shared it connected? (/peers)',
          );
          return;
        }
        // A download that failed was reported as download-failed already.
        if (code === 'ERR_FILE_INTEGRITY' || this.#failed.some((f) => f.root === root)) return;
        app.emit({ type: 'command-error', time: Date.now(), ...errorJson(err) });
      });
  }

  /** The rows of `/files`: downloads, shared files, failures, and offers not fetched. */
  rows(): FileRow[] {
    const rows: FileRow[] = [];
    const listed = new Set<string>();
    for (const t of this.share.transfers()) {
      listed.add(t.rootHex);
      const status: FileRow['status'] =
        t.status === 'waiting' ? 'paused' : t.status === 'complete' ? 'shared' : t.status;
      rows.push({
        root: t.rootHex,
        name: t.name,
        size: t.size,
        status,
        bytesDone: t.bytesDone,
        rate: Math.round(t.rate),
        sources: t.sources.map((id) => this.#peer(id)),
        ...(t.path !== undefined ? { path: t.path } : {}),
      });
    }
    rows.push(...this.#failed.filter((f) => !listed.has(f.root)));
    for (const [root, { offer, holders }] of this.#seen) {
      if (listed.has(root)) continue;
      rows.push({
        ...transfer(offer),
        status: 'available',
        bytesDone: 0,
        rate: 0,
        sources: [...holders].map((id) => this.#peer(id)),
      });
    }
    return rows;
  }

  /** Runs `/share`, `/get` or `/files`; `track` runs a task in the background. */
  run(
    command:
      { kind: 'share'; file: string } | { kind: 'get'; root: string } | { kind: 'files'; json: boolean },
    track: (task: Promise<void>) => void,
    jsonMode: boolean,
  ): void {
    if (command.kind === 'share') track(this.shareCommand(command.file));
    else if (command.kind === 'get') track(this.getCommand(command.root));
    else {
      const event: CliEvent = { type: 'files', time: Date.now(), files: this.rows() };
      // `/files --json` prints the JSON line even in text mode, to paste into scripts.
      if (command.json && !jsonMode) this.#app.screen.print(toJsonLine(event));
      else this.#app.emit(event);
    }
  }

  /** Refuses the questions still waiting, then closes the share (downloads resume next time). */
  async close(): Promise<void> {
    this.prompt.close();
    await this.share.close();
  }
}
