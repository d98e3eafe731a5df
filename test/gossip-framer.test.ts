/**
 * The node frames a broadcast payload once for all its neighbours, and a relay by patching the
 * hop byte of the received body: the bytes must be exactly what a fresh encoding gives, and
 * anything but a plain relay of the message being handled must be encoded afresh.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NativeDecoder, NativeEncoder } from '../src/codec/native.js';
import { GossipFramer } from '../src/mesh/gossip-framer.js';
import { decodeOverlayMessage, encodeOverlayMessage } from '../src/overlay/index.js';
import type { OverlayMessage } from '../src/overlay/index.js';

type Gossip = Extract<OverlayMessage, { type: 'gossip' }>;

const original: Gossip = {
  type: 'gossip',
  sender: 'sender-1.A_b',
  epoch: 1_764_000_000_123,
  seq: 300,
  hops: 4,
  kind: 1,
  signature: Uint8Array.from({ length: 96 }, (_, i) => i),
  payload: Uint8Array.from({ length: 40 }, (_, i) => 255 - i),
};

/** The frame a connection's own encoder would write for `message`. */
function fresh(message: Gossip): Buffer {
  return Buffer.concat(new NativeEncoder().encode({ type: 'overlay', body: encodeOverlayMessage(message) }));
}

/** What the node's codec hands the overlay for a received frame: a copied body, decoded. */
function receive(message: Gossip): { body: Uint8Array; decoded: Gossip } {
  const [frame] = new NativeDecoder().push(fresh(message));
  assert.ok(frame?.type === 'overlay');
  const decoded = decodeOverlayMessage(frame.body);
  assert.ok(decoded.type === 'gossip');
  return { body: frame.body, decoded };
}

test('a relay is the received bytes with the hop count raised, byte for byte', () => {
  const framer = new GossipFramer();
  const { body, decoded } = receive(original);
  const bodyBefore = Buffer.from(body);
  framer.received(decoded, body);
  for (const hops of [5, 6, 255]) {
    const relay = { ...decoded, hops };
    const frame = framer.frame(relay);
    assert.deepEqual(frame, fresh({ ...original, hops }), `hops ${hops}`);
    // The same object sent again (the next eager neighbour) gets the same buffer.
    assert.equal(framer.frame(relay), frame);
  }
  // The received body itself (its payload is delivered and cached) is left as it was.
  assert.deepEqual(Buffer.from(body), bodyBefore);
  framer.done();
});

test('anything but a plain relay of the message being handled is encoded afresh', () => {
  const framer = new GossipFramer();
  const { body, decoded } = receive(original);
  // Not announced as received: an own broadcast or a cached one answering a GRAFT.
  assert.deepEqual(framer.frame({ ...decoded, hops: 5 }), fresh({ ...original, hops: 5 }));
  framer.received(decoded, body);
  const altered: Gossip[] = [
    { ...decoded, hops: 5, payload: Uint8Array.from(decoded.payload).fill(7) },
    { ...decoded, hops: 5, seq: 301 },
    { ...decoded, hops: 5, sender: 'other' },
    { ...decoded, hops: 5, kind: 0 },
    { ...decoded, hops: 5, signature: Uint8Array.from(decoded.signature).fill(1) },
  ];
  for (const m of altered) assert.deepEqual(framer.frame(m), fresh(m));
  // After done(), a relay of that message no longer borrows its bytes (and still encodes right).
  framer.done();
  assert.deepEqual(framer.frame({ ...decoded, hops: 9 }), fresh({ ...original, hops: 9 }));
});
