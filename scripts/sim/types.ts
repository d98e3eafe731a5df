/** Options and result of one simulator run (see README "Simulation"). */
import type { BroadcastMode, OverlayOptions } from '../../src/overlay/index.js';
import type { Overlay } from '../../src/overlay/index.js';

/** Options of one simulation run. */
export interface SimOptions {
  nodes: number;
  messages: number;
  /** Fraction of nodes killed at once halfway through the broadcasts. @default 0 */
  kill?: number;
  /** Per-link latency range in ms; each link draws its latency once. @default [5, 30] */
  latency?: [number, number];
  /** How link latencies are drawn (see `runSimulation`). @default 'coordinates' */
  latencyModel?: 'coordinates' | 'random';
  /** Probability that a frame is dropped. @default 0 */
  loss?: number;
  /**
   * Which frames `loss` drops: `broadcast` (payload, IHAVE, GRAFT, PRUNE) or `all`. Over TCP a
   * membership frame is lost only with its connection, which the node notices (modelled by the
   * kill scenarios), so `broadcast` is the default. @default 'broadcast'
   */
  lossScope?: 'broadcast' | 'all';
  seed?: number;
  protocol?: BroadcastMode;
  /** Broadcasts come from this many distinct random nodes (trees are per sender). @default min(nodes, 100) */
  senders?: number;
  /** Active view size. @default 10 */
  maxPeers?: number;
  /** Virtual ms between two broadcasts. @default 10 */
  intervalMs?: number;
  /** Virtual ms between two joins. @default 2 */
  joinSpacingMs?: number;
  /** Virtual ms between the last join and the first broadcast. @default 5000 */
  warmupMs?: number;
  /** Virtual ms after the last broadcast before measuring. @default 5000 */
  settleMs?: number;
  /** Check exactly-once and per-sender order at every delivery (memory: nodes × senders). */
  checkOrder?: boolean;
  /** Overrides passed to every overlay core. */
  overlay?: Partial<OverlayOptions>;
  /** Called at the end with the overlay cores and which are alive (tests, debugging). */
  inspect?: (nodes: readonly Overlay[], alive: Uint8Array) => void;
  /** Called with every report action (tests, debugging). */
  onReport?: (node: number, report: unknown, now: number) => void;
  /**
   * Worker threads to run the nodes on: 1 = the single-threaded engine; more splits the nodes
   * among that many workers (`simulate` only; needs latency[0] > 0; no `inspect`/`onReport`).
   * The same seed and thread count give the same output; another thread count, another run.
   * @default 1
   */
  threads?: number;
  /** How the parallel engine splits nodes: `modulo` (i mod threads) or `range` (blocks). @default 'modulo' */
  partition?: 'modulo' | 'range';
  /** Parallel engine: each worker's old-space limit in MB. @default the process's limit / threads, at least 256 */
  workerHeapMb?: number;
  /** Parallel engine: each worker's young-generation limit in MB. @default 3 × the process's --max-semi-space-size (64 → 192), or 48 */
  workerYoungMb?: number;
  /** Called with progress records (one JSON object each). */
  progress?: (record: Record<string, unknown>) => void;
}

/** The result line. */
export interface SimResult {
  protocol: BroadcastMode;
  nodes: number;
  messages: number;
  senders: number;
  killed: number;
  seed: number;
  latency: string;
  loss: number;
  /** Delivered (message, surviving non-sender node) pairs / all such pairs. */
  delivered: number;
  /** The same over messages sent after the kill (equal to `delivered` without a kill). */
  delivered_after_kill: number;
  /** Payload copies received per delivery, minus one. */
  rmr: number;
  /** rmr over the second half of the messages (trees settled; after the kill if any). */
  rmr_settled: number;
  ldh_p50: number;
  ldh_p99: number;
  ldh_max: number;
  /** Connected components of the live nodes' active views at the end. */
  components: number;
  /** Components 2 s (virtual) after the kill; null without a kill. */
  components_2s: number | null;
  /** The live nodes' network-size estimates at the end (min / median / max) and the true size. */
  size_estimate: { actual: number; min: number; p50: number; max: number };
  /** Virtual ms from the kill until the live nodes form one component; null if never. */
  repair_ms: number | null;
  /** Up to 5 (message, node) pairs that were not delivered, for debugging. */
  undelivered: { message: number; sender: string; node: string; at: number }[];
  duplicates: number;
  order_violations: number;
  frames: number;
  frames_lost: number;
  frames_by_type: Record<string, number>;
  reports: Record<string, number>;
  events: number;
  /** Timer events run, by kind (`tick`, `ihave` batch flush, `graft`, `gap`): part of `events`. */
  timers_by_kind: Record<string, number>;
  virtual_s: number;
  wall_s: number;
  /** CPU seconds (user + system) of this process during the run: less noisy than wall_s. */
  cpu_s: number;
  /** RSS at the end in MiB; the parallel engine reports the process's peak (its workers have exited). */
  rss_mb: number;
  /** Parallel engine only: worker threads, windows run, and seconds each worker waited for the others. */
  threads?: number;
  windows?: number;
  waited_s?: number[];
}
