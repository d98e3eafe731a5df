/**
 * A corrupting source: three source processes serve the file, one of them from a copy with one
 * byte flipped in 1 % of its pieces (shared clean, then corrupted with its mtime put back, as in
 * test/files-pieces.test.ts). The receiver must store the exact file (SHA-256), drop that source
 * on the first bad piece it receives (the source sent at most one window of pieces after its
 * first bad one: those already requested), drop no other, and never go 1 s without progress.
 */
import path from 'node:path';
import type { Context, Row } from '../lib/context.js';
import { cpuNow, cpuSince, spawnNode, type NodeProcess } from '../lib/file-peers.js';
import { corruptCopy, sha256File } from '../lib/files-data.js';
import type { FetchResult } from '../workers/file-commands.js';
import type { FileSet } from './files-rates.js';
import { errorLine } from '../lib/error-line.js';

const MiB = 1024 * 1024;
const CORRUPT_FRACTION = 0.01;
const MAX_STALL_MS = 1000;
/**
 * Fewest corrupted pieces: with a third of the pieces asked of the bad source, 16 make it all but
 * certain (1 - (2/3)^16 > 99.8 %) that it is asked for one even in a quick run's small file.
 */
const MIN_CORRUPTED = 16;

/** Runs the corrupting-source scenario once and returns its row. */
export async function fileCorrupt(ctx: Context, set: FileSet, expectedSha: string): Promise<Row> {
  const name = `pieces ${set.size / MiB} MiB, 3 sources, one corrupts 1 % of pieces`;
  const procs: NodeProcess[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      procs.push(
        await spawnNode(ctx, i === 0 ? 'files corrupt receiver' : `files corrupt source ${i}`, 900_000),
      );
    }
    const [rx, good1, good2, bad] = procs as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
    for (const s of [good1, good2, bad]) await s.child.call('connect', { address: `127.0.0.1:${rx.port}` });
    await rx.child.call('waitPeers', { count: 3 });
    await rx.child.call('fileShare', { dir: path.join(set.tmp, 'corrupt-rx') });
    const { pieceLength, window } = await rx.child.call<{ pieceLength: number; window: number }>(
      'fileDefaults',
      { size: set.size },
    );
    const copy = path.join(set.tmp, 'corrupt-copy.bin');
    const corrupted = await corruptCopy(
      set.source,
      copy,
      pieceLength,
      CORRUPT_FRACTION,
      Date.now() >>> 0,
      MIN_CORRUPTED,
    );
    const roots = await Promise.all(
      [good1, good2, bad].map(async (s, i) => {
        await s.child.call('fileShare', { dir: path.join(set.tmp, `corrupt-tx${i}`) });
        const file = s === bad ? copy : set.source;
        return (
          await s.child.call<{ root: string }>('shareFile', { path: file, name: 'payload.bin' }, 300_000)
        ).root;
      }),
    );
    if (new Set(roots).size !== 1) throw new Error('the three sources do not share one root');
    await corrupted.corrupt();
    await bad.child.call('trackPieces');
    const all = procs.map((p) => p.child);
    const before = await cpuNow(all);
    const t0 = performance.now();
    const r = await rx.child.call<FetchResult>('fetchWatched', { root: roots[0]! }, 600_000);
    const ms = performance.now() - t0;
    const cpu = cpuSince(before, await cpuNow(all), ms);
    const shaOk = (await sha256File(r.path)) === expectedSha;
    const sent = await bad.child.call<number[]>('sentPieces');
    const badSet = new Set(corrupted.indices);
    const firstBad = sent.findIndex((index) => badSet.has(index));
    const sentAfterFirstBad = firstBad < 0 ? -1 : sent.length - firstBad - 1;
    const badDrops = r.drops.filter((d) => d.peerId === bad.id);
    const otherDrops = r.drops.filter((d) => d.peerId !== bad.id);
    const droppedAtFirst =
      firstBad >= 0 &&
      badDrops.length === 1 &&
      badDrops[0]!.code === 'ERR_FILE_INTEGRITY' &&
      sentAfterFirstBad <= window;
    const stallOk = r.maxStallMs <= MAX_STALL_MS;
    const mbps = Math.round(set.size / 1e3 / ms);
    return {
      bench: 'files',
      name,
      mode: 'secure',
      unit: 'ms stall',
      value: { median: r.maxStallMs, min: r.maxStallMs, max: r.maxStallMs, runs: [r.maxStallMs] },
      target: {
        text: `sha ok, dropped at 1st bad, stall <= ${MAX_STALL_MS} ms`,
        pass: shaOk && droppedAtFirst && otherDrops.length === 0 && stallOk,
      },
      details: {
        fileMiB: set.size / MiB,
        mbps,
        sha256Match: shaOk,
        corruptedPieces: corrupted.indices.length,
        badSourcePiecesSent: sent.length,
        badSourceFirstBadAt: firstBad,
        badSourceSentAfterFirstBad: sentAfterFirstBad,
        window,
        dropsOfBadSource: badDrops.length,
        dropsOfGoodSources: otherDrops.length,
        receiverCpuPercent: cpu[0]!,
      },
      note:
        `longest time without a verified piece; ${mbps} MB/s; SHA-256 ${shaOk ? 'matches' : 'DIFFERS'}; ` +
        `the bad source had ${corrupted.indices.length} corrupted pieces and sent ${sent.length} pieces, ` +
        (firstBad < 0
          ? 'none of them corrupted (it was never asked for one: nothing to drop it for); '
          : `its first bad one as its #${firstBad + 1}, then ${sentAfterFirstBad} more (already requested; window ${window}); `) +
        `drops: ${badDrops.length} of it (${badDrops[0]?.code ?? 'none'}), ${otherDrops.length} of the good sources`,
    };
  } catch (err) {
    const message = errorLine(err);
    return {
      bench: 'files',
      name,
      mode: 'secure',
      unit: 'ms stall',
      value: null,
      note: `failed: ${message}`,
    };
  } finally {
    await Promise.all(procs.map((p) => p.child.close()));
  }
}
