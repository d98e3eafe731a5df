/**
 * Round-trip latency of a small message: one process sends a 16-byte BYTES message and waits
 * for the other to send it back, a few thousand times (after a warm-up); p50 and p99 of the
 * round trips. Baseline: the same ping-pong of 16 bytes over a raw TCP socket.
 */
import { MODES, type Context, type Row, type Setup } from '../lib/context.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, percentile, summarize } from '../lib/stats.js';
import { roundRatios } from './throughput.js';

const SIZE = 16;

interface RttSample {
  p50: number;
  p99: number;
}

export async function latency(ctx: Context): Promise<Row[]> {
  const n = ctx.quick ? 2000 : 5000;
  const config = (key: string, setup: Setup): Config<RttSample> => ({
    key,
    setup,
    prepare: async (pair) => {
      await pair.rx.call('echo');
    },
    measure: async (pair, warmup) => {
      const samples = await pair.tx.call<number[]>('pingpong', {
        n: warmup ? 500 : n,
        warmup: warmup ? 0 : 200,
        size: SIZE,
      });
      return { p50: Math.round(percentile(samples, 50)), p99: Math.round(percentile(samples, 99)) };
    },
  });
  const configs = [config('raw-tcp', { kind: 'tcp' })];
  for (const mode of MODES) configs.push(config(mode, { kind: 'node', mode }));
  const results = await rounds(ctx, 'latency', configs, 300_000);
  const raw = results.get('raw-tcp')!.samples;
  const rows: Row[] = [];
  for (const key of ['raw-tcp', ...MODES] as const) {
    const outcome = results.get(key)!;
    const mode = key === 'raw-tcp' ? 'raw TCP' : key;
    for (const p of ['p50', 'p99'] as const) {
      const values = outcome.samples.map((s) => s[p]);
      const r: Row = {
        bench: 'latency',
        name: `RTT ${p}, ${SIZE}-byte ${key === 'raw-tcp' ? 'write' : 'BYTES'}`,
        mode,
        unit: 'µs',
        value: values.length > 0 ? summarize(values) : null,
        details: { roundTrips: n },
      };
      if (outcome.error) r.note = `failed: ${outcome.error}`;
      if (key !== 'raw-tcp' && values.length > 0 && raw.length > 0) {
        r.ratio = median(
          roundRatios(
            values,
            raw.map((s) => s[p]),
          ),
        );
        if (p === 'p50') r.target = { text: '<= 2x raw', pass: r.ratio <= 2 };
      }
      rows.push(r);
    }
  }
  return rows;
}
