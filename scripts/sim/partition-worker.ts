/**
 * Entry point of a parallel simulator worker: runs one partition (`partition.ts`) and posts
 * its progress, probes and result to the coordinator (`parallel.ts`). Loaded through tsx: the
 * coordinator starts it with the `--import tsx` loader in its `execArgv`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { runPartition } from './partition.js';
import type { PartitionOptions, PartitionPost } from './partition.js';
import { WindowSync } from './window-sync.js';

/** What the coordinator passes in `workerData`. */
export interface WorkerInput {
  opts: PartitionOptions;
  part: number;
  threads: number;
  partition: 'modulo' | 'range';
  counters: SharedArrayBuffer;
  /** `ports[q]`: the port to partition q (null for this one). */
  ports: (MessagePort | null)[];
}

const input = workerData as WorkerInput;
const port = parentPort!;
const sync = new WindowSync(input.counters, input.part, input.threads, input.ports);
const post = (m: PartitionPost): void => port.postMessage(m);
const result = runPartition(input.opts, input.part, input.threads, input.partition, sync, post);
const c = result.counters;
port.postMessage({ type: 'result', result }, [
  c.deliveries.buffer as ArrayBuffer,
  c.copies.buffer as ArrayBuffer,
  c.delivered.buffer as ArrayBuffer,
]);
for (const p of input.ports) p?.close();
