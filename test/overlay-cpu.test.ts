/**
 * What the overlay's CPU savings (issue 13, bench/probes/overlay-cpu.ts) must not cost: a
 * sender's key is imported and checked against its ID once and then reused, and the reuse never
 * lets another key, an altered message or a key for another ID through.
 */
import assert from 'node:assert/strict';
import { sign as edSign } from 'node:crypto';
import { describe, it } from 'node:test';
import { verifyBroadcast } from '../src/mesh/overlay-driver.js';
import { Overlay, signedBytes, type OverlayAction, type SignedFields } from '../src/overlay/index.js';
import { peerIdFromPublicKey, rawEd25519PublicKey } from '../src/secure/identity.js';
import { testSigner, testVerifier } from './helpers/overlay-driver.js';
import { mulberry32 } from './helpers/random.js';
import { ed25519Pair } from './helpers/keys.js';

interface Key {
  id: string;
  raw: Buffer;
  sign: (f: SignedFields) => Uint8Array;
}

function key(): Key {
  const { privateKey, publicKey } = ed25519Pair();
  const raw = Buffer.from(rawEd25519PublicKey(publicKey));
  return {
    id: peerIdFromPublicKey(raw),
    raw,
    sign: (f) => Buffer.concat([raw, edSign(null, signedBytes(f), privateKey)]),
  };
}

const fields = (sender: string, seq: number): SignedFields => ({
  sender,
  epoch: 1,
  seq,
  kind: 1,
  payload: Buffer.from(`m${seq}`),
});

describe('overlay signature key cache', () => {
  it('a cached sender key verifies later messages and rejects altered ones and other keys', () => {
    const alice = key();
    const mallory = key();
    assert.equal(verifyBroadcast(fields(alice.id, 1), alice.sign(fields(alice.id, 1))), true);
    // Cached now: later messages verify, altered ones do not.
    for (let seq = 2; seq < 5; seq++) {
      const sig = alice.sign(fields(alice.id, seq));
      assert.equal(verifyBroadcast(fields(alice.id, seq), sig), true);
      assert.equal(verifyBroadcast({ ...fields(alice.id, seq), seq: seq + 1 }, sig), false);
    }
    // Mallory's own key in front of her signature over Alice's fields: not Alice's key.
    assert.equal(verifyBroadcast(fields(alice.id, 9), mallory.sign(fields(alice.id, 9))), false);
    // Alice's (cached) key in front of Mallory's signature: the signature does not match.
    const forged = Buffer.from(mallory.sign(fields(alice.id, 9)));
    alice.raw.copy(forged, 0);
    assert.equal(verifyBroadcast(fields(alice.id, 9), forged), false);
    // Alice's key claimed for Mallory's ID (the cache holds Alice's key under Alice's ID only).
    assert.equal(verifyBroadcast(fields(mallory.id, 1), alice.sign(fields(mallory.id, 1))), false);
    // And Alice's key still works after those attempts.
    assert.equal(verifyBroadcast(fields(alice.id, 10), alice.sign(fields(alice.id, 10))), true);
  });

  it('stays correct past its bound (1024 senders): evicted senders verify again', () => {
    const senders = Array.from({ length: 1100 }, key);
    for (const s of senders) assert.equal(verifyBroadcast(fields(s.id, 1), s.sign(fields(s.id, 1))), true);
    // The first ones were evicted: checked and imported anew.
    for (const s of senders.slice(0, 5)) {
      assert.equal(verifyBroadcast(fields(s.id, 2), s.sign(fields(s.id, 2))), true);
      assert.equal(verifyBroadcast(fields(s.id, 2), senders[999]!.sign(fields(s.id, 2))), false);
    }
  });
});

describe('top-up of an active view one short of full', () => {
  it('backs off after refusals (1, 2, 4 ticks...) and replaces a lost neighbour at once', () => {
    const node = new Overlay({
      self: { id: 'x', address: 'x:1' },
      maxPeers: 2,
      epoch: 1,
      signer: testSigner,
      verifier: testVerifier,
      random: mulberry32(3),
    });
    let now = 0;
    const requests: string[] = [];
    const feed = (from: string, message: never): void => {
      const out: OverlayAction[] = [];
      node.handle({ type: 'message', from, message }, now, out);
    };
    /** Runs the tick at `at`; returns the peers a NEIGHBOR request went to. */
    const tick = (at: number): string[] => {
      now = at;
      const out: OverlayAction[] = [];
      node.handle({ type: 'timer', timer: { kind: 'tick' } }, now, out);
      const to = out.flatMap((a) => (a.type === 'send' && a.message.type === 'neighbor' ? [a.to] : []));
      requests.push(...to);
      return to;
    };
    node.join({ id: 'a', address: 'a:1' }, now, []);
    feed('a', { type: 'neighbor', high: true, address: 'a:1' } as never);
    const backups = ['b', 'c', 'd', 'e', 'f'].map((id) => ({ id, address: `${id}:1` }));
    feed('a', { type: 'shuffle-reply', walk: 0, peers: backups, sketch: [] } as never);
    assert.deepEqual(node.stats().active, ['a']);
    // One short of full: asks a backup on the first tick; every backup is full and refuses.
    const refuse = (to: string[]): void => {
      assert.equal(to.length, 1, `one request, got ${to.join(',')}`);
      feed(to[0]!, { type: 'disconnect', alive: true } as never);
    };
    refuse(tick(1000));
    assert.deepEqual(tick(2000), [], 'waits 2 ticks after the first refusal');
    refuse(tick(3000));
    assert.deepEqual([tick(4000), tick(5000), tick(6000)].flat(), [], 'then 4 ticks');
    refuse(tick(7000));
    assert.equal(requests.length, 3);
    // The neighbour dies: replaced at once (not on a tick), and the wait is over.
    const out: OverlayAction[] = [];
    node.handle({ type: 'peer-down', peer: 'a' }, 7500, out);
    const asked = out.filter((a) => a.type === 'send' && a.message.type === 'neighbor');
    assert.equal(asked.length, 2, 'both free slots asked for at once');
  });
});
