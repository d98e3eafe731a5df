/**
 * Files in the CLI: `/send <file> [peer]` with its progress, and the receiver's events as lines
 * and progress bars.
 */
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { P2PNode, PeerRef } from '../index.js';
import { sendFile, type FileReceiver } from '../files/index.js';
import type { CliConfig } from './args.js';
import type { CliEvent } from './cli-events.js';
import type { CliIO } from './cli-io.js';
import { findPeer } from './commands.js';
import { displayName } from './event-text.js';
import { pacedFileNode } from './paced-file-node.js';
import type { ProgressView } from './progress.js';
import type { Screen } from './screen.js';

/** What the file commands need from the CLI (the app implements it). */
export interface FileCommandHost {
  readonly node: P2PNode;
  readonly io: Pick<CliIO, 'cwd'>;
  readonly config: Pick<CliConfig, 'rateLimit'>;
  readonly shutdownSignal: AbortSignal;
  readonly progress: ProgressView;
  readonly screen: Pick<Screen, 'live'>;
  emit(event: CliEvent): void;
  commandError(message: string, hint?: string): void;
  /**
   * Secure mode: `/send` offers the file through FileShare (the peers pull it, verified and
   * resumable, if their --accept-files agrees). Absent in compat mode: the original's frames.
   */
  readonly shareFiles?: { offerCommand(filePath: string, to: readonly PeerRef[]): Promise<void> } | undefined;
}

let sendCounter = 0;

/** Just the reference fields of a peer (PeerInfo carries more). */
function toRef(peer: PeerRef): PeerRef {
  return { id: peer.id, name: peer.name, address: peer.address };
}

/** `~` and `~/...` as the home directory (the shell does not expand quoted names). */
export function expandHome(file: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/')) return path.join(os.homedir(), file.slice(2));
  return file;
}

async function isFile(file: string): Promise<boolean> {
  return stat(file).then(
    (info) => info.isFile(),
    () => false,
  );
}

/**
 * The `/send` command: sends `file` to every peer, or to the one `query` names: pushed with the
 * original's frames in compat mode, offered through FileShare in secure mode.
 */
export async function sendFileCommand(
  app: FileCommandHost,
  file: string,
  query: string | undefined,
): Promise<void> {
  const node = app.node;
  const peers = node.getPeerInfo().peers;
  if (peers.length === 0) {
    app.commandError('No peers connected; nothing sent');
    return;
  }
  const resolve = (name: string): string => path.resolve(app.io.cwd, expandHome(name));
  let targets: PeerRef[] = peers.map(toRef);
  if (query !== undefined) {
    const found = findPeer(targets, query);
    if ('error' in found) {
      // `/send my file.txt` reads as file "my" to peer "file.txt": say how to quote.
      const joined = `${file} ${query}`;
      const hint = (await isFile(resolve(joined)))
        ? `did you mean /send ${JSON.stringify(joined)}? Quote file names that contain spaces`
        : 'quote file names that contain spaces: /send "my file.txt" [peer]';
      app.commandError(found.error, hint);
      return;
    }
    targets = [found.peer];
  }
  const filePath = resolve(file);
  let size: number;
  try {
    const info = await stat(filePath);
    if (!info.isFile()) throw new Error('not a regular file');
    size = info.size;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    app.commandError(`Cannot send ${file}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    return;
  }
  if (app.shareFiles) {
    await app.shareFiles.offerCommand(filePath, targets);
    return;
  }
  const id = ++sendCounter;
  const key = `send:${id}`;
  const name = path.basename(filePath);
  const started = performance.now();
  const label = targets.length === 1 ? displayName(targets[0] as PeerRef) : `all (${targets.length})`;
  app.emit({ type: 'send-start', time: Date.now(), id, name, size, to: targets });
  const fileNode = app.config.rateLimit !== undefined ? pacedFileNode(node, app.config.rateLimit) : node;
  try {
    const result = await sendFile(fileNode, filePath, {
      to: targets.map((p) => p.id),
      signal: app.shutdownSignal,
      onProgress: (p) =>
        app.progress.update(
          key,
          {
            direction: 'send',
            name: p.name,
            peer: label,
            done: p.bytesSent,
            total: p.totalBytes,
            rate: p.rate,
          },
          {
            type: 'send-progress',
            time: Date.now(),
            id,
            ...p,
            rate: Math.round(p.rate),
            etaMs: Math.round(p.etaMs),
          },
        ),
    });
    app.progress.end(key);
    const byId = new Map(targets.map((p) => [p.id, p]));
    const ref = (peerId: string): PeerRef => byId.get(peerId) ?? { id: peerId, name: peerId, address: '?' };
    app.emit({
      type: 'send-complete',
      time: Date.now(),
      id,
      name: result.name,
      size: result.size,
      sha256: result.sha256,
      sent: result.sent.map(ref),
      failed: result.failed.map((f) => ({
        peer: ref(f.peerId),
        error: { message: f.error.message, ...(f.error.code ? { code: f.error.code } : {}) },
      })),
      elapsedMs: performance.now() - started,
    });
  } catch (err) {
    app.progress.end(key);
    const code = (err as { code?: unknown }).code;
    app.emit({
      type: 'send-error',
      time: Date.now(),
      id,
      name,
      error: { message: (err as Error).message, ...(typeof code === 'string' ? { code } : {}) },
    });
  }
}

/** Reports the receiver's events: lines, and live bars on a terminal. */
export function wireReceiver(app: FileCommandHost, receiver: FileReceiver): void {
  const keyOf = (e: { from: PeerRef; name?: string }): string => `recv:${e.from.id}:${e.name ?? ''}`;
  receiver.on('file-start', (e) => {
    app.emit({ type: 'file-start', time: Date.now(), ...e });
    if (app.screen.live) {
      app.progress.update(
        keyOf(e),
        { direction: 'recv', name: e.name, peer: displayName(e.from), done: 0, total: e.size, rate: 0 },
        {
          type: 'file-progress',
          time: Date.now(),
          from: e.from,
          name: e.name,
          bytesReceived: 0,
          size: e.size,
          rate: 0,
        },
      );
    }
  });
  receiver.on('file-progress', (e) =>
    app.progress.update(
      keyOf(e),
      {
        direction: 'recv',
        name: e.name,
        peer: displayName(e.from),
        done: e.bytesReceived,
        total: e.size,
        rate: e.rate,
      },
      { type: 'file-progress', time: Date.now(), ...e, rate: Math.round(e.rate) },
    ),
  );
  receiver.on('file-complete', (e) => {
    app.progress.end(keyOf(e));
    app.emit({ type: 'file-complete', time: Date.now(), ...e });
  });
  receiver.on('file-error', (e) => {
    app.progress.end(keyOf(e));
    app.emit({ type: 'file-error', time: Date.now(), ...e });
  });
}
