/**
 * Load: a short churn soak (the ~60 s one is `node --expose-gc --import tsx scripts/soak.ts`).
 * A stable core of 5 nodes stays up while short-lived nodes join, chat, send 64 KiB and leave,
 * up to ten a second, 80 of them (at most 25 s: a loaded machine joins fewer per second, and the
 * amount of churn is what matters). After a warm-up, memory must stay flat.
 *
 * The bounds, on samples taken every second after a full GC:
 * - heapUsed may grow by at most 2 MiB after the warm-up. The JS heap is where a leak of closed
 *   nodes or connections shows first and clearly: a closed node kept reachable holds ~80 KiB of
 *   heap (peer table, timers, sockets, streams), so the ~40 to 70 nodes that leave after the warm-up
 *   add 3 to 6 MiB if they are kept even for a while. Once they are collected what grows is JIT code
 *   and the core's bounded peer books: measured 0.1 to 1.1 MiB. (This caught connections whose
 *   write-timeout timer kept them, and their whole node, reachable for 20 s after every close:
 *   +3.5 MiB in this run, +0.8 MiB per second of churn.)
 * - RSS may grow by at most 32 MiB after the warm-up. RSS also counts memory that is free but not
 *   returned to the OS (malloc arenas, V8 pages kept for reuse), OpenSSL state per connection and
 *   compiled code, so it moves by several MiB between samples without any leak (measured: -3 to
 *   +10 MiB); 32 MiB is generous for that noise on a loaded 2-core machine, and still catches a
 *   leak of the churned nodes' sockets (~0.25 MiB of RSS per join, 25 MiB per 100 joins).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { formatTable, runSoak } from '../scripts/soak.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MiB = 1024 * 1024;

test('churn soak (80 joins, secure): memory stays flat after the warm-up', { timeout: 60_000 }, async (t) => {
  const result = await runSoak({ seconds: 25, maxJoins: 80, mode: 'secure', warmupSeconds: 4, gc });
  t.diagnostic(
    `joins ${result.joins} (no peer in time: ${result.joinFailures}), leaves ${result.leaves}, delivered to the core ${result.delivered}`,
  );
  for (const line of formatTable(result).split('\n')) t.diagnostic(line);

  assert.ok(result.coreIntact, 'the core is still one full mesh');
  assert.ok(result.joins >= 40, `enough churn to mean something (${result.joins} joins)`);
  assert.equal(result.leaves, result.joins, 'every node that joined has left');
  assert.ok(result.delivered > 0);
  const heapGrowth = result.heapUsed.end - result.heapUsed.afterWarmup;
  const rssGrowth = result.rss.end - result.rss.afterWarmup;
  assert.ok(heapGrowth <= 2 * MiB, `heapUsed grew ${(heapGrowth / MiB).toFixed(1)} MiB after the warm-up`);
  assert.ok(rssGrowth <= 32 * MiB, `RSS grew ${(rssGrowth / MiB).toFixed(1)} MiB after the warm-up`);
});
