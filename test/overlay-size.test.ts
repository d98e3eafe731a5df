/**
 * The network-size estimate (src/overlay/size-estimate.ts): the estimator's accuracy over many
 * random networks, expiry and the overlap test, the wire format (PROTOCOL.md O10 vectors), the
 * simulator at 1,000 nodes, and 30 real nodes over loopback.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, test } from 'node:test';
import { runSimulation } from '../scripts/sim/simulation.js';
import { decodeOverlayMessage, encodeOverlayMessage } from '../src/overlay/index.js';
import type { OverlayMessage } from '../src/overlay/index.js';
import { hashId, SizeSketch } from '../src/overlay/size-estimate.js';
import { describeViews, startOverlayNet } from './helpers/overlay-net.js';
import { pollUntil } from './helpers/wait.js';

const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex.replace(/ /g, ''), 'hex'));
const randomId = (): string => randomBytes(16).toString('hex');

test('hashId vectors (PROTOCOL.md O10): FNV-1a 32 then the MurmurHash3 finaliser', () => {
  assert.equal(hashId('a1'), 0x60bc38d4);
  assert.equal(hashId('0123456789abcdef0123456789abcdef'), 0x715c7c9e);
});

test('sketch wire format: vectors both ways; a shuffle without a sketch still decodes; bounds', () => {
  const vectors: [OverlayMessage, string][] = [
    [
      { type: 'shuffle-reply', walk: 0, peers: [], sketch: [{ hash: 0x01020304, age: 5 }] },
      '06 00 00 00 00 00 00 00 01 01 02 03 04 00 05',
    ],
    [
      {
        type: 'shuffle',
        ttl: 1,
        walk: 0,
        origin: { id: 'a', address: '' },
        peers: [],
        sketch: [{ hash: 0xdeadbeef, age: 0 }],
      },
      '05 01 00 00 00 00 01 61 00 00 00 00 00 01 de ad be ef 00 00',
    ],
    [{ type: 'shuffle-reply', walk: 0, peers: [], sketch: [] }, '06 00 00 00 00 00 00 00 00'],
  ];
  for (const [m, hex] of vectors) {
    assert.equal(Buffer.from(encodeOverlayMessage(m)).toString('hex'), hex.replace(/ /g, ''));
    assert.deepEqual(decodeOverlayMessage(bytes(hex)), m);
  }
  assert.deepEqual(decodeOverlayMessage(bytes('06 00 00 00 00 00 00')), {
    type: 'shuffle-reply',
    walk: 0,
    peers: [],
  });
  // 258 entries: over the bound, refused before any entry is read.
  assert.throws(() => decodeOverlayMessage(bytes('06 00 00 00 00 00 00 01 02')), {
    code: 'ERR_TOO_MANY_ENTRIES',
  });
  // A truncated entry, or a count without its entries.
  assert.throws(() => decodeOverlayMessage(bytes('06 00 00 00 00 00 00 00 01 01 02 03')), {
    code: 'ERR_MALFORMED_FRAME',
  });
  assert.throws(() => decodeOverlayMessage(bytes('06 00 00 00 00 00 00 00')), {
    code: 'ERR_MALFORMED_FRAME',
  });
  assert.throws(() =>
    encodeOverlayMessage({
      type: 'shuffle-reply',
      walk: 0,
      peers: [],
      sketch: Array(258).fill({ hash: 1, age: 0 }),
    }),
  );
});

describe('the estimator', () => {
  it('is exact below k members, and within ±25 % for 1,000 in at least 98 % of 300 random networks', () => {
    const small = new SizeSketch(randomId(), 128, 60_000);
    small.merge(
      Array.from({ length: 29 }, () => ({ hash: hashId(randomId()), age: 0 })),
      0,
    );
    assert.equal(small.estimate(0), 30);
    const errors: number[] = [];
    for (let run = 0; run < 300; run++) {
      const sketch = new SizeSketch(randomId(), 128, 60_000);
      sketch.merge(
        Array.from({ length: 999 }, () => ({ hash: hashId(randomId()), age: 0 })),
        0,
      );
      errors.push(sketch.estimate(0) / 1000 - 1);
    }
    const within = errors.filter((e) => Math.abs(e) <= 0.25).length / errors.length;
    const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
    const sd = Math.sqrt(errors.reduce((a, b) => a + (b - mean) ** 2, 0) / errors.length);
    assert.ok(within >= 0.98, `within ±25 %: ${within}`);
    assert.ok(Math.abs(mean) < 0.03, `unbiased: mean error ${mean}`);
    assert.ok(sd > 0.05 && sd < 0.13, `relative standard error ${sd} (theory 1/sqrt(126) = 0.089)`);
  });

  it('keeps 2k entries, sends at most k + 1, forgets what its owner stopped refreshing, never freshens an entry', () => {
    const k = 16;
    const sketch = new SizeSketch('self', k, 10_000);
    const entries = Array.from({ length: 200 }, (_, i) => ({ hash: hashId(`n${i}`), age: 0 }));
    sketch.merge(entries, 0);
    assert.equal(sketch.entries(0).length, k + 1);
    const before = sketch.estimate(0);
    assert.ok(before > 100 && before < 400, `estimate ${before}`);
    // Passed along a chain of nodes, each holding them 0.4 s: ages are rounded up, so they expire.
    let now = 0;
    let carried = sketch.entries(now);
    for (let hop = 0; hop < 30; hop++) {
      const next = new SizeSketch(`relay${hop}`, k, 10_000);
      next.merge(carried, now); // (transit takes no time here)
      now += 400; // each relay holds the entries 0.4 s before passing them on
      carried = next.entries(now).slice(1); // without the relay's own entry
    }
    assert.equal(carried.length, 0, 'after 12 s of travel, every entry is older than the 10 s TTL');
    assert.equal(sketch.estimate(10_001), 1, 'only this node is left');
  });

  it('overlap: about 1 within one overlay, about 0 between two unrelated ones', () => {
    const ids = Array.from({ length: 500 }, () => hashId(randomId()));
    const a = new SizeSketch('a', 64, 60_000);
    const b = new SizeSketch('b', 64, 60_000);
    a.merge(
      ids.map((hash) => ({ hash, age: 0 })),
      0,
    );
    b.merge(
      ids.map((hash) => ({ hash, age: 0 })),
      0,
    );
    assert.ok(a.overlap(b.entries(0), 0) > 0.9);
    const other = new SizeSketch('c', 64, 60_000);
    other.merge(
      Array.from({ length: 500 }, () => ({ hash: hashId(randomId()), age: 0 })),
      0,
    );
    assert.ok(a.overlap(other.entries(0), 0) < 0.1);
  });
});

test('simulator, 1,000 nodes: every node within ±25 % after 30 s; after 20 % die, within ±25 % of the survivors', () => {
  const r = runSimulation({ nodes: 1000, messages: 1, warmupMs: 30_000, settleMs: 1000, seed: 1 });
  const { actual, min, max } = r.size_estimate;
  assert.equal(actual, 1000);
  assert.ok(min >= 750 && max <= 1250, `estimates ${min}..${max}`);
  // With shuffles every 2 s the TTL is 24 s: 40 s after the kill the dead have left the sketches.
  const k = runSimulation({
    nodes: 300,
    messages: 1,
    warmupMs: 10_000,
    settleMs: 40_000,
    seed: 5,
    kill: 0.2,
    overlay: { shuffleIntervalMs: 2000 },
  });
  assert.equal(k.size_estimate.actual, 240);
  assert.ok(k.size_estimate.min >= 180 && k.size_estimate.max <= 300, JSON.stringify(k.size_estimate));
});

describe('30 real nodes', { timeout: 120_000 }, () => {
  it('every node estimates the network size: exactly 30 (below k = 128 the sketch holds every member)', async (t) => {
    // Shuffles every 300 ms instead of 10 s, so the test does not wait minutes for what the
    // default interval takes (the estimate converges in a few shuffle rounds); the TTL is 20 s
    // instead of the 3.6 s that 12 such intervals would give (this one process is slow).
    const nodes = await startOverlayNet(t, {
      count: 30,
      maxPeers: 4,
      seed: 3,
      hook: () => ({ core: { shuffleIntervalMs: 300, sizeTtlMs: 20_000 } }),
      timeoutMs: 30_000,
    });
    const estimates = (): number[] => nodes.map((n) => n.overlayStats()!.sizeEstimate);
    await pollUntil(() => estimates().every((e) => e === 30), 'every estimate at 30', {
      timeoutMs: 30_000,
      intervalMs: 100,
      describe: () => `${estimates().join(',')}; ${describeViews(nodes)}`,
    });
    t.diagnostic(`estimates: ${estimates().join(',')}`);
  });
});
