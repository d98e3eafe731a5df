/**
 * The parallel simulator's coordinator: splits the nodes among `threads` worker threads (one
 * partition each, `partition.ts`), relays their progress, counts components from the active
 * views they send at the probe times, and merges their counters into one result. The workers
 * exchange their cross-partition events directly with each other (`window-sync.ts`); this
 * thread only waits.
 */
import { getHeapStatistics } from 'node:v8';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { estimateSummary } from '../../src/overlay/size-estimate.js';
import { countComponentsIndexed } from './components.js';
import { mergeCounters, summarize } from './measure.js';
import type { PartitionOptions, PartitionPost, PartitionResult } from './partition.js';
import type { WorkerInput } from './partition-worker.js';
import type { SimOptions, SimResult } from './types.js';
import { abortSync, newSyncCounters } from './window-sync.js';

/** Adjacency from views lists ([node, count, peer...] per node) of every partition. */
function componentsOf(n: number, alive: Uint8Array, parts: readonly Int32Array[]): number {
  const adj: (Int32Array | undefined)[] = new Array<Int32Array | undefined>(n).fill(undefined);
  for (const v of parts) {
    for (let p = 0; p < v.length;) {
      const node = v[p]!;
      const count = v[p + 1]!;
      adj[node] = v.subarray(p + 2, p + 2 + count);
      p += 2 + count;
    }
  }
  return countComponentsIndexed(n, alive, (i) => adj[i]);
}

/** Runs one simulation on `opts.threads` worker threads (see README "Simulation"). */
export async function runSimulationParallel(opts: SimOptions): Promise<SimResult> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  const threads = opts.threads ?? 2;
  const partition = opts.partition ?? 'modulo';
  const N = opts.nodes;
  const { inspect: _i, onReport: _r, progress, ...rest } = opts;
  const wopts: PartitionOptions = rest;
  const counters = newSyncCounters(threads);
  const ports: (MessagePort | null)[][] = Array.from({ length: threads }, () =>
    new Array<MessagePort | null>(threads).fill(null),
  );
  for (let p = 0; p < threads; p++) {
    for (let q = p + 1; q < threads; q++) {
      const ch = new MessageChannel();
      ports[p]![q] = ch.port1;
      ports[q]![p] = ch.port2;
    }
  }
  // Each worker's old space: an equal share of this process's heap limit (so a run given
  // --max-old-space-size=1900 keeps all its heaps within about that), at least 256 MB.
  const heapMb = Math.max(256, Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20 / threads));
  // Young generation: three semi-spaces' worth (V8's layout), of this process's semi-space
  // flag if given (`npm run sim` gives 64 MB), else 16 MB.
  const semi = /^--max-semi-space-size=(\d+)$/.exec(
    process.execArgv.find((a) => a.startsWith('--max-semi-space-size=')) ?? '',
  );
  const youngMb = opts.workerYoungMb ?? 3 * (semi ? Number(semi[1]) : 16);

  const probes = new Map<number, Int32Array[]>();
  const probeResults = new Map<number, number>();
  const results: PartitionResult[] = [];
  const workers: Worker[] = [];

  await new Promise<void>((resolve, reject) => {
    let failed = false;
    let done = 0;
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      abortSync(counters, threads);
      for (const w of workers) void w.terminate();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    for (let part = 0; part < threads; part++) {
      const input: WorkerInput = { opts: wopts, part, threads, partition, counters, ports: ports[part]! };
      const transfer = ports[part]!.filter((p): p is MessagePort => p !== null);
      const w = new Worker(new URL('./partition-worker-boot.mjs', import.meta.url), {
        workerData: input,
        transferList: transfer,
        // None of the parent's: the bootstrap registers tsx, the heap is set by resourceLimits, and
        // V8 flags (--perf-basic-prof...) are process-wide anyway (a worker refuses them).
        execArgv: [],
        resourceLimits: {
          maxOldGenerationSizeMb: opts.workerHeapMb ?? heapMb,
          maxYoungGenerationSizeMb: youngMb,
        },
      });
      workers.push(w);
      w.on('message', (m: PartitionPost | { type: 'result'; result: PartitionResult }) => {
        try {
          if (m.type === 'progress') progress?.({ ...m.record, part });
          else if (m.type === 'probe') {
            const list = probes.get(m.d) ?? [];
            list.push(m.views);
            probes.set(m.d, list);
            if (list.length === threads) {
              // A probe carries the live nodes' views only: the live nodes are those listed.
              const alive = new Uint8Array(N);
              for (const v of list) for (let p = 0; p < v.length; p += 2 + v[p + 1]!) alive[v[p]!] = 1;
              const c = componentsOf(N, alive, list);
              probeResults.set(m.d, c);
              probes.delete(m.d);
              if (m.d === 0)
                progress?.({
                  event: 'kill',
                  t: m.t,
                  killed: N - alive.reduce((a, b) => a + b, 0),
                  components: c,
                });
            }
          } else if (m.type === 'result') {
            results[m.result.part] = m.result;
            if (++done === threads) resolve();
          }
        } catch (err) {
          fail(err);
        }
      });
      w.on('error', fail);
      w.on('exit', (code) => {
        if (code !== 0 && results[part] === undefined)
          fail(new Error(`simulator worker ${part} exited with code ${code}`));
      });
    }
  });
  for (const w of workers) await w.terminate();

  const first = results[0]!;
  const merged = first.counters;
  for (let p = 1; p < threads; p++) mergeCounters(merged, results[p]!.counters);
  const alive = first.alive;
  const killFraction = opts.kill ?? 0;
  let components2s: number | null = null;
  let repairMs: number | null = null;
  if (killFraction > 0) {
    for (let d = 250; d <= 10_000; d += 250) {
      const c = probeResults.get(d);
      if (c === undefined) continue;
      if (d === 2000) components2s = c;
      if (c === 1 && repairMs === null) repairMs = d;
    }
  }
  const estimates = new Float64Array(N);
  for (const r of results)
    for (let i = 0; i < N; i++) if (!Number.isNaN(r.estimates[i]!)) estimates[i] = r.estimates[i]!;
  const sizeNodes = Array.from({ length: N }, (_, i) => ({
    membership: { sizeEstimate: () => estimates[i]! },
  }));
  const result = summarize(
    {
      protocol: opts.protocol ?? 'plumtree',
      nodes: N,
      messages: opts.messages,
      senders: first.senders,
      seed: opts.seed ?? 1,
      latency: opts.latency ?? [5, 30],
      loss: opts.loss ?? 0,
      killFraction,
      killed: first.killed,
      killIndex: first.killIndex,
      alive,
      senderOf: first.senderOf,
      sentAt: first.sentAt,
      components: componentsOf(
        N,
        alive,
        results.map((r) => r.views),
      ),
      components2s,
      repairMs,
      sizeEstimate: estimateSummary(sizeNodes, alive),
      now: Math.max(...results.map((r) => r.now)),
      started,
      cpuStarted,
    },
    merged,
  );
  return {
    ...result,
    // The workers have exited: the process's peak RSS is what they and this thread held together.
    rss_mb: Math.max(result.rss_mb, Math.round(process.resourceUsage().maxRSS / 1024)),
    threads,
    windows: first.windows,
    waited_s: results.map((r) => Math.round(r.waitedMs) / 1000),
  };
}
