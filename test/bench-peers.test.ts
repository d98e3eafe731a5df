/**
 * The benchmark's alternative stacks still work: js-libp2p (with its Node 20 shim) and
 * @hyperswarm/secret-stream move bulk data, framed small messages and ping-pongs, and connect
 * again and again, between two worker processes on 127.0.0.1, the way the `peers` suite drives
 * them. Also iperf3's loopback run, where iperf3 is installed. A library upgrade that breaks a
 * worker fails here rather than in the middle of a benchmark run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { iperf3, iperfUnavailable } from '../bench/lib/iperf.js';
import { transfer } from '../bench/lib/baselines.js';
import { Child } from '../bench/lib/child.js';
import { openPair, type Context, type PeerStack } from '../bench/lib/context.js';

const ctx: Context = { quick: true, runs: 1, execArgv: [], log: () => undefined, cache: new Map() };
const MiB = 1024 * 1024;

describe('bench peers workers', { timeout: 180_000 }, () => {
  for (const stack of ['libp2p', 'secret-stream'] as PeerStack[]) {
    test(`${stack}: bulk, small messages, ping-pong`, { timeout: 120_000 }, async () => {
      const setup = { kind: 'peer', stack } as const;
      const pair = await openPair(ctx, `test ${stack}`, setup, 110_000);
      try {
        // More than libp2p's 64 MiB write-buffer limit: fails if backpressure is not honoured.
        const bulk = await transfer(pair, setup, MiB, 80 * MiB);
        assert.ok(bulk.mbps > 0);

        await pair.rx.call('arm', { kind: 'messages', total: 2000 });
        const done = pair.rx.call('wait', {}, 60_000);
        await pair.tx.call('sendMessages', { size: 32, count: 2000 }, 60_000);
        await done;

        await pair.rx.call('echo');
        const rtts = await pair.tx.call<number[]>('pingpong', { n: 20, warmup: 2, size: 16 });
        assert.equal(rtts.length, 20);
        assert.ok(rtts.every((us) => us > 0));
      } finally {
        await pair.close();
      }
    });

    test(`${stack}: repeated connection set-up`, { timeout: 120_000 }, async () => {
      const listener = await Child.spawn('peer', { name: `test ${stack} listener`, lifetimeMs: 110_000 });
      const dialer = await Child.spawn('peer', { name: `test ${stack} dialer`, lifetimeMs: 110_000 });
      try {
        await listener.call('greet', { stack });
        const where = await listener.call<{ port: number; address: string }>('listen', { stack });
        const result = await dialer.call<{ samples: number[]; cpuMsPerHandshake: number }>('handshakes', {
          stack,
          ...where,
          count: 5,
          warmup: 1,
        });
        assert.equal(result.samples.length, 5);
        assert.ok(result.cpuMsPerHandshake > 0);
      } finally {
        await Promise.all([listener.close(), dialer.close()]);
      }
    });
  }

  test('iperf3 over loopback', { timeout: 60_000 }, async (t) => {
    const missing = iperfUnavailable();
    if (missing) {
      t.skip(missing);
      return;
    }
    const sample = await iperf3(1);
    assert.ok(sample.mbps > 0);
  });
});
