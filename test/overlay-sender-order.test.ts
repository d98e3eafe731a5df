/**
 * Per-sender order (src/overlay/sender-order.ts): where a sender's order starts when its first
 * messages arrive out of order.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GossipMessage, OverlayAction } from '../src/overlay/index.js';
import { resolveOverlayOptions } from '../src/overlay/options.js';
import { SenderOrder } from '../src/overlay/sender-order.js';
import { testSigner, testVerifier } from './helpers/overlay-driver.js';

const options = resolveOverlayOptions({
  self: { id: 'me', address: '' },
  signer: testSigner,
  verifier: testVerifier,
});

function message(seq: number): GossipMessage {
  const none = new Uint8Array(0);
  return { type: 'gossip', sender: 's', epoch: 0, seq, kind: 0, payload: none, hops: 1, signature: none };
}

test('an IHAVE hint moves the start back, and an even earlier message is still awaited', () => {
  const order = new SenderOrder(options);
  const out: OverlayAction[] = [];
  // An IHAVE announced seq 2 (the hint), then seq 3 arrived first; seq 1 is on a slower path.
  order.accept(message(3), 'a', 0, out, 2);
  assert.equal(order.classify({ sender: 's', epoch: 0, seq: 1 }), 'new');
  order.accept(message(1), 'b', 100, out);
  assert.equal(order.classify({ sender: 's', epoch: 0, seq: 2 }), 'new');
  order.accept(message(2), 'c', 200, out);
  const timer = out.find((a) => a.type === 'timer');
  assert.ok(timer, 'a settle timer');
  order.gapTimer('s', timer.at, out);
  const delivered = out.flatMap((a) => (a.type === 'deliver' ? [a.message.seq] : []));
  assert.deepEqual(delivered, [1, 2, 3]);
  assert.deepEqual(
    out.filter((a) => a.type === 'report'),
    [],
  );
});
