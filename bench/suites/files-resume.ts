/**
 * Resume under kill -9: one source process serves the file; the receiver process is SIGKILLed
 * each time its verified bytes pass one of 10 random points, and a new receiver process is
 * started on the same folder (it resumes from the `.part` and its state file). At the end the
 * stored file's SHA-256 must match, and the bytes the source served beyond the file's size (the
 * re-fetched bytes: pieces in flight or not yet recorded when the receiver died) must stay within
 * 10 × (window + one piece), with the window and piece length read from the library.
 */
import path from 'node:path';
import type { Context, Row } from '../lib/context.js';
import { dialAll, spawnNode, type NodeProcess } from '../lib/file-peers.js';
import { sha256File } from '../lib/files-data.js';
import type { FetchResult } from '../workers/file-commands.js';
import type { FileSet } from './files-rates.js';
import { errorLine } from '../lib/error-line.js';

const MiB = 1024 * 1024;
const KILLS = 10;

/**
 * Kill points: `kills` distinct random byte counts from 2 % of `size` to 98 % of it, but no later
 * than `tail` bytes before the end (so a kill does not race the transfer's completion), ascending.
 */
function killPoints(size: number, tail: number, kills: number): number[] {
  const low = 0.02 * size;
  const high = Math.min(0.98 * size, size - tail);
  if (high - low < kills) throw new Error(`a ${size}-byte file is too small for ${kills} kill points`);
  const points = new Set<number>();
  while (points.size < kills) points.add(Math.round(low + (high - low) * Math.random()));
  return [...points].sort((a, b) => a - b);
}

/** Runs the kill -9 scenario once (`kills` kills: 10 in the suite, fewer in its test) and returns its row. */
export async function fileResume(
  ctx: Context,
  set: FileSet,
  expectedSha: string,
  kills = KILLS,
): Promise<Row> {
  const name = `resume ${set.size / MiB} MiB, receiver kill -9 x ${kills}`;
  const rxDir = path.join(set.tmp, 'resume-rx');
  let source: NodeProcess | undefined;
  let rx: NodeProcess | undefined;
  try {
    source = await spawnNode(ctx, 'files resume source', 900_000);
    await source.child.call('fileShare', { dir: path.join(set.tmp, 'resume-tx') });
    const { root, pieceLength } = await source.child.call<{ root: string; pieceLength: number }>(
      'shareFile',
      { path: set.source },
      300_000,
    );
    const { window } = await source.child.call<{ window: number }>('fileDefaults', { size: set.size });
    const bound = kills * (window + 1) * pieceLength;
    // Two windows before the end: a kill lands while pieces are still to be requested.
    const points = killPoints(set.size, 2 * (window + 1) * pieceLength, kills);
    let resumeMs = 0;
    const startReceiver = async (i: number): Promise<NodeProcess> => {
      const p = await spawnNode(ctx, `files resume receiver ${i + 1}`, 600_000);
      await dialAll(p.child, [source!]);
      const t = performance.now();
      // Starting the share loads the resume state and re-checks the `.part` against the layer.
      await p.child.call('fileShare', { dir: rxDir }, 300_000);
      resumeMs += performance.now() - t;
      return p;
    };
    const killedAt: number[] = [];
    const resumedFrom: number[] = [];
    let restartMs = 0;
    const t0 = performance.now();
    for (let i = 0; i < kills; i++) {
      const tStart = performance.now();
      rx = await startReceiver(i);
      if (i > 0) {
        const state = await rx.child.call<{ bytesDone: number } | null>('downloadState', { root });
        resumedFrom.push(state?.bytesDone ?? 0);
        restartMs += performance.now() - tStart;
      }
      const stop = await rx.child.call<{ bytesDone: number }>(
        'fetchWatched',
        { root, stopAtBytes: points[i]! },
        300_000,
      );
      rx.child.kill();
      await rx.child.close();
      rx = undefined;
      killedAt.push(stop.bytesDone);
      ctx.log(
        `    resume: killed at ${(stop.bytesDone / MiB).toFixed(1)} MiB (point ${(points[i]! / MiB).toFixed(1)})`,
      );
    }
    const tLast = performance.now();
    rx = await startReceiver(kills);
    const state = await rx.child.call<{ bytesDone: number } | null>('downloadState', { root });
    resumedFrom.push(state?.bytesDone ?? 0);
    restartMs += performance.now() - tLast;
    const done = await rx.child.call<FetchResult>('fetchWatched', { root }, 300_000);
    const totalMs = performance.now() - t0;
    const served = (await source.child.call<{ bytes: number }>('served')).bytes;
    const refetched = served - set.size;
    const shaOk = (await sha256File(done.path)) === expectedSha;
    // A kill after the download completed would not test resume: all must land mid-transfer.
    const midTransfer = killedAt.filter((b) => b >= 0 && b < set.size).length;
    const pass = shaOk && refetched <= bound && midTransfer === kills;
    return {
      bench: 'files',
      name,
      mode: 'secure',
      unit: 's',
      value: { median: totalMs / 1000, min: totalMs / 1000, max: totalMs / 1000, runs: [totalMs / 1000] },
      target: { text: `sha ok, re-fetched <= ${kills} x (window + piece)`, pass },
      details: {
        fileMiB: set.size / MiB,
        sha256Match: shaOk,
        killsMidTransfer: midTransfer,
        refetchedMiB: Number((refetched / MiB).toFixed(2)),
        refetchedBoundMiB: bound / MiB,
        window,
        pieceKiB: pieceLength / 1024,
        restartSeconds: Number((restartMs / 1000).toFixed(1)),
        shareStartSeconds: Number((resumeMs / 1000).toFixed(1)),
        killedAtMiB: killedAt.map((b) => (b / MiB).toFixed(1)).join(' '),
        resumedFromMiB: resumedFrom.map((b) => (b / MiB).toFixed(1)).join(' '),
      },
      note:
        `total time from the first fetch to the verified file, ${kills} process restarts included ` +
        `(${(restartMs / 1000).toFixed(1)} s of them starting a process, its node and share, resuming; ` +
        `of that, ${(resumeMs / 1000).toFixed(1)} s in starting the share: loading the state, re-checking the .part); ` +
        `re-fetched ${(refetched / MiB).toFixed(2)} MiB (source bytes served minus the file) against a bound of ` +
        `${kills} x (${window} + 1) x ${pieceLength / 1024} KiB = ${bound / MiB} MiB; SHA-256 ${shaOk ? 'matches' : 'DIFFERS'}; ${midTransfer} of ${kills} kills mid-transfer`,
    };
  } catch (err) {
    const message = errorLine(err);
    return { bench: 'files', name, mode: 'secure', unit: 's', value: null, note: `failed: ${message}` };
  } finally {
    await rx?.child.close();
    await source?.child.close();
  }
}
