/**
 * The window exchange of the parallel simulator: at the end of every window each partition
 * posts one batch to every other partition over a MessagePort (its buffers transferred), then
 * bumps a counter in a SharedArrayBuffer and wakes the receiver. A partition blocks on those
 * counters (Atomics.wait, not the event loop: the run is synchronous) until every other one has
 * posted the window, then takes the batches with `receiveMessageOnPort`. Waiting for everyone's
 * window w is the barrier: no partition can be more than one window ahead of another.
 *
 * The last slot of the counters is an abort flag: the coordinator sets it when a worker fails,
 * so the others stop waiting instead of hanging.
 */
import { receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import { transferListOf } from './cross-codec.js';
import type { CrossBatch } from './cross-codec.js';

/** Counters for `threads` partitions: threads × threads slots plus the abort flag. */
export function newSyncCounters(threads: number): SharedArrayBuffer {
  return new SharedArrayBuffer(4 * (threads * threads + 1));
}

/** Sets the abort flag and wakes every waiting partition. */
export function abortSync(counters: SharedArrayBuffer, threads: number): void {
  const c = new Int32Array(counters);
  Atomics.store(c, threads * threads, 1);
  for (let x = 0; x < threads * threads; x++) Atomics.notify(c, x);
}

/** One partition's end of the exchange. */
export class WindowSync {
  readonly #c: Int32Array;
  readonly #part: number;
  readonly #threads: number;
  readonly #ports: (MessagePort | null)[];
  /** Time spent blocked waiting for the other partitions (ms). */
  waitedMs = 0;

  /** `ports[q]`: the port to partition q (null for `part` itself). */
  constructor(counters: SharedArrayBuffer, part: number, threads: number, ports: (MessagePort | null)[]) {
    this.#c = new Int32Array(counters);
    this.#part = part;
    this.#threads = threads;
    this.#ports = ports;
  }

  /**
   * Sends window `w`'s batches (`out[q]` to partition q; w counts from 1) and returns the
   * batches the others sent this partition for window `w` (`[q]`: partition q's; null for this one).
   */
  exchange(w: number, out: (CrossBatch | null)[]): (CrossBatch | null)[] {
    const T = this.#threads;
    const c = this.#c;
    for (let q = 0; q < T; q++) {
      if (q === this.#part) continue;
      const b = out[q]!;
      this.#ports[q]!.postMessage(b, transferListOf(b));
      Atomics.add(c, q * T + this.#part, 1);
      Atomics.notify(c, q * T + this.#part);
    }
    const got: (CrossBatch | null)[] = new Array<CrossBatch | null>(T).fill(null);
    for (let q = 0; q < T; q++) {
      if (q === this.#part) continue;
      const slot = this.#part * T + q;
      let seen = Atomics.load(c, slot);
      if (seen < w) {
        const t0 = performance.now();
        while (seen < w) {
          if (Atomics.load(c, T * T) !== 0) throw new Error('simulation aborted: another worker failed');
          Atomics.wait(c, slot, seen, 1000);
          seen = Atomics.load(c, slot);
        }
        this.waitedMs += performance.now() - t0;
      }
      // The counter is bumped after postMessage has queued the batch, so it is there.
      const msg = receiveMessageOnPort(this.#ports[q]!);
      if (msg === undefined) throw new Error(`window ${w}: batch from partition ${q} missing`);
      got[q] = msg.message as CrossBatch;
    }
    return got;
  }
}
