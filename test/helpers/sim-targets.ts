/** The small-size simulator targets, checked the same way for every engine. */
import assert from 'node:assert/strict';
import type { SimResult } from '../../scripts/sim/simulation.js';

/** Every message to every node exactly once, in order; settled trees; nothing reported. */
export function assertSettledTargets(r: SimResult): void {
  assert.equal(r.delivered, 1);
  assert.equal(r.duplicates, 0);
  assert.equal(r.order_violations, 0);
  assert.equal(r.components, 1);
  assert.ok(r.rmr_settled <= 0.15, `rmr_settled ${r.rmr_settled}`);
  assert.ok(r.ldh_p99 <= 8, `ldh_p99 ${r.ldh_p99}`);
  assert.deepEqual(r.reports, {});
}
