/**
 * The `files` suite's commands of the node worker (bench/workers/node.ts): the original push
 * (`sendFile` -> `FileReceiver`, both modes) and the pieces protocol (`FileShare`, secure mode),
 * with what the suite measures in the receiving process itself: the longest stall between two
 * verified pieces, the peak RSS, the sources dropped, and (on a source) which pieces it sent.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { P2PNode } from '../../src/index.js';
import type { FileShare as FileShareClass } from '../../src/files/index.js';
import type { Handlers } from '../lib/serve.js';
import { nowMs } from '../lib/serve.js';

type FilesModule = typeof import('../../src/files/index.js');
type ShareOptionsModule = typeof import('../../src/files/pieces/share-options.js');
type HashCacheModule = typeof import('../../src/files/hash-cache.js');

/** What the node worker shares with these commands. */
export interface FileWorkerHost {
  /** The meshwire source under test (this checkout's src/ or MESHWIRE_BENCH_SRC), as a URL. */
  srcUrl: string;
  node(index?: number): P2PNode;
  nodes: readonly P2PNode[];
  /** Counts a received file for node `index` (`arm({ kind: 'file' })`). */
  countFile(index: number): void;
  /** Runs when the worker exits (first registered, first run). */
  addCleanup(cleanup: () => Promise<unknown>): void;
}

/** A drop seen by the receiver (`source-dropped`). */
interface Drop {
  peerId: string;
  code: string;
  message: string;
  /** Pieces verified before the drop. */
  piecesDone: number;
}

/** What {@link fileCommands}' `fetchWatched` returns. */
export interface FetchResult {
  ms: number;
  /** Longest time without a verified piece, from the call to completion (ms). */
  maxStallMs: number;
  /** Peak RSS sampled every 10 ms during the fetch, and the RSS when the share started (bytes). */
  rssPeak: number;
  rssBase: number;
  drops: Drop[];
  path: string;
}

/** The `files` commands, given the worker's nodes. */
export function fileCommands(host: FileWorkerHost): Handlers {
  const files = (): Promise<FilesModule> => import(new URL('files/index.js', host.srcUrl).href);
  const hashCache = (): Promise<HashCacheModule> => import(new URL('files/hash-cache.js', host.srcUrl).href);
  const shares: FileShareClass[] = [];
  const drops: Drop[] = [];
  let rssBase = 0;
  /** Pieces this process sent, in order, while `trackPieces` is on (index per frame). */
  const sentPieces: number[] = [];
  let rssTimer: NodeJS.Timeout | undefined;
  let rssWatchPeak = 0;

  const share = (): FileShareClass => {
    const s = shares[0];
    if (!s) throw new Error('fileShare has not run');
    return s;
  };

  return {
    /** Node 0 receives files into `dir`; `arm({ kind: 'file', total: 1 })` waits for one. */
    fileReceiver: async ({ dir }: { dir: string }) => {
      const { FileReceiver } = await files();
      const receiver = new FileReceiver(host.node(), { downloadsDir: dir });
      receiver.on('file-complete', () => host.countFile(0));
      receiver.on('file-error', (e) => {
        process.stderr.write(`file-error: ${e.error.message}\n`);
      });
      host.addCleanup(() => receiver.close());
      await receiver.start();
      rssBase = process.memoryUsage().rss;
      return null;
    },
    /**
     * Every node of this process gets a FileShare (pieces protocol, secure mode) in `<dir>/<i>`,
     * signing with the node's identity (or a fresh key); a finished download counts as a file.
     */
    fileShare: async ({ dir, window }: { dir: string; window?: number }) => {
      const { FileShare, signerFromPrivateKey } = await files();
      // Not generateKeyPairSync: that can deadlock Node 20 (src/secure/new-keys.ts).
      const { newEd25519PrivateKey } = (await import(
        new URL('secure/new-keys.js', host.srcUrl).href
      )) as typeof import('../../src/secure/new-keys.js');
      shares.length = 0;
      host.nodes.forEach((n, i) => {
        const s = new FileShare(n, {
          downloadsDir: path.join(dir, String(i)),
          signer: n.signer ?? signerFromPrivateKey(newEd25519PrivateKey()),
          ...(window ? { window } : {}),
        });
        s.on('download-complete', () => host.countFile(i));
        s.on('source-dropped', (e) => {
          drops.push({
            peerId: e.peerId,
            code: e.error.code,
            message: e.error.message,
            piecesDone: e.download.piecesDone,
          });
        });
        s.on('warning', (e) => process.stderr.write(`file-share warning: ${e.error.message}\n`));
        host.addCleanup(() => s.close());
        shares.push(s);
      });
      await Promise.all(shares.map((s) => s.start()));
      rssBase = process.memoryUsage().rss;
      return null;
    },
    /** The library's defaults the suite's bounds depend on: window (pieces per source), piece length. */
    fileDefaults: async ({ size }: { size: number }) => {
      const { choosePieceLength } = await files();
      const { resolveShareOptions, defaultWindow } = (await import(
        new URL('files/pieces/share-options.js', host.srcUrl).href
      )) as ShareOptionsModule;
      const pieceLength = choosePieceLength(size);
      // The effective default window: a number in older trees; since issue 14's session 4 it
      // depends on the piece length (resolveShareOptions leaves it undefined).
      const window = resolveShareOptions({}).window ?? defaultWindow(pieceLength);
      return { window, pieceLength };
    },
    /** The first `count` nodes' shares share the file at `path` (hashing it); returns its offer. */
    shareFile: async ({ path: file, count = 1, name }: { path: string; count?: number; name?: string }) => {
      const offers = await Promise.all(
        shares.slice(0, count).map((s) => s.shareFile(file, { announce: false, ...(name ? { name } : {}) })),
      );
      const offer = offers[0]!;
      return { root: offer.rootHex, pieceLength: offer.pieceLength, size: offer.size };
    },
    /** Every share forgets `root` (so the next fetch downloads again). */
    unshare: async ({ root }: { root: string }) => {
      for (const s of shares) await s.unshare(root);
      return null;
    },
    /** Node 0 forgets a downloaded `root` and deletes the file (the next fetch starts over). */
    dropDownload: async ({ root, path: file }: { root: string; path: string }) => {
      await share().unshare(root);
      await rm(file, { force: true });
      return null;
    },
    /** Ports of this process's nodes. */
    ports: () => host.nodes.map((n) => n.port),
    /** Node 0 fetches `root` from every peer it has; resolves when stored. */
    fetchFile: async ({ root }: { root: string }) => {
      const n = host.node();
      await share().fetchFile(root, { sources: n.getPeerInfo().peers.map((p) => p.id) });
      return null;
    },
    /**
     * Node 0 fetches `root` from every connected peer (joining a download resumed at start) and
     * measures it: time, longest stall between verified pieces, peak RSS, sources dropped. With
     * `stopAtBytes`, resolves as soon as that many bytes are verified (the parent then kills this
     * process: a crash at that point) and the fetch goes on.
     */
    fetchWatched: async ({ root, stopAtBytes }: { root: string; stopAtBytes?: number }) => {
      const s = share();
      const sources = host
        .node()
        .getPeerInfo()
        .peers.map((p) => p.id);
      drops.length = 0;
      const t0 = nowMs();
      let last = t0;
      let maxStallMs = 0;
      let rssPeak = process.memoryUsage().rss;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 10);
      let reached: (() => void) | undefined;
      const stopped = new Promise<void>((resolve) => (reached = resolve));
      const onProgress = (e: { download: { offer: { rootHex: string }; bytesDone: number } }): void => {
        if (e.download.offer.rootHex !== root) return;
        const now = nowMs();
        maxStallMs = Math.max(maxStallMs, now - last);
        last = now;
        if (stopAtBytes !== undefined && e.download.bytesDone >= stopAtBytes) reached?.();
      };
      s.on('download-progress', onProgress);
      const fetched = s.fetchFile(root, { sources });
      try {
        if (stopAtBytes !== undefined) {
          fetched.catch(() => undefined);
          await Promise.race([stopped, fetched]);
          return { stopped: true, bytesDone: s.download(root)?.bytesDone ?? -1 };
        }
        const file = await fetched;
        const end = nowMs();
        maxStallMs = Math.max(maxStallMs, end - last);
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
        const result: FetchResult = {
          ms: end - t0,
          maxStallMs,
          rssPeak,
          rssBase,
          drops: [...drops],
          path: file,
        };
        return result;
      } finally {
        if (stopAtBytes === undefined) {
          clearInterval(sampler);
          s.off('download-progress', onProgress);
        }
      }
    },
    /** The download of `root` in progress here (after a restart: the resumed one), if any. */
    downloadState: ({ root }: { root: string }) => {
      const d = share().download(root);
      return d ? { bytesDone: d.bytesDone, piecesDone: d.piecesDone, pieces: d.pieces } : null;
    },
    /** Bytes of piece data this process's shares served. */
    served: () => ({ bytes: shares.reduce((sum, s) => sum + s.bytesServed, 0) }),
    /**
     * Records the index of every piece frame node 0 sends from now on (a counting wrapper around
     * `sendBytesToPeer`; the frames go out unchanged), so the suite can tell which pieces a
     * corrupting source sent before it was dropped.
     */
    trackPieces: async () => {
      const { parsePieceFrame } = await files();
      const n = host.node();
      const send = n.sendBytesToPeer.bind(n);
      n.sendBytesToPeer = (id: string, data: Uint8Array) => {
        try {
          const frame = parsePieceFrame(data);
          if (frame?.type === 'piece') sentPieces.push(frame.index);
        } catch {
          // not a frame of ours: not counted
        }
        return send(id, data);
      };
      return null;
    },
    /** The piece indices node 0 sent since `trackPieces`. */
    sentPieces: () => sentPieces,
    /**
     * Node 0 sends the file at `path` to its first peer with sendFile; `forgetHashes` empties the
     * sender's hash cache first, so the send hashes the file for FILESTART (a first send).
     */
    sendFile: async ({ path: file, forgetHashes }: { path: string; forgetHashes?: boolean }) => {
      const { sendFile } = await files();
      if (forgetHashes) (await hashCache()).sentFileHashes.clear();
      const n = host.node();
      const peer = n.getPeerInfo().peers[0];
      if (!peer) throw new Error('node has no peer');
      const result = await sendFile(n, file, { to: peer.id });
      if (result.failed.length > 0) throw result.failed[0]!.error;
      return { size: result.size };
    },
    /** Starts sampling the peak RSS every 10 ms (the push receiver's growth). */
    rssStart: () => {
      clearInterval(rssTimer);
      rssWatchPeak = process.memoryUsage().rss;
      rssTimer = setInterval(() => {
        rssWatchPeak = Math.max(rssWatchPeak, process.memoryUsage().rss);
      }, 10);
      return null;
    },
    /** Stops sampling: the peak since `rssStart` and the RSS when the receiver or share started. */
    rssStop: () => {
      clearInterval(rssTimer);
      rssWatchPeak = Math.max(rssWatchPeak, process.memoryUsage().rss);
      return { rssPeak: rssWatchPeak, rssBase };
    },
  };
}
