/**
 * Interleaved measurement: every configuration of a suite (the raw baseline and each meshwire
 * variant) gets its own pair of processes, all opened up front; then each round measures every
 * configuration once, one after the other. A burst of load from elsewhere on the machine thus
 * hits neighbouring measurements alike, and ratios can be taken per round.
 */
import { openPair, setupLabel, type Context, type Pair, type Setup } from './context.js';
import { errorLine } from './error-line.js';

/** One configuration of an interleaved suite. */
export interface Config<T> {
  /** Unique key, e.g. `secure-64k`. */
  key: string;
  setup: Setup;
  /** Extra set-up after the pair is connected (e.g. enable echo). */
  prepare?(pair: Pair): Promise<void>;
  /** One measurement. `warmup` is true for the discarded first one. */
  measure(pair: Pair, warmup: boolean): Promise<T>;
}

/** A configuration's per-round results, or why it could not finish. */
export interface Outcome<T> {
  samples: T[];
  error?: string;
}

/** Runs `ctx.runs` interleaved rounds over `configs` after one warm-up each. */
export async function rounds<T>(
  ctx: Context,
  suite: string,
  configs: Config<T>[],
  lifetimeMs: number,
): Promise<Map<string, Outcome<T>>> {
  const outcomes = new Map<string, Outcome<T>>();
  const pairs = new Map<string, Pair>();
  const fail = async (config: Config<T>, err: unknown): Promise<void> => {
    const message = errorLine(err);
    outcomes.get(config.key)!.error = message;
    ctx.log(`    ${config.key} FAILED: ${message}`);
    await pairs.get(config.key)?.close();
    pairs.delete(config.key);
  };
  try {
    for (const config of configs) {
      outcomes.set(config.key, { samples: [] });
      ctx.log(`  ${suite}: starting ${config.key} (${setupLabel(config.setup)})`);
      try {
        const pair = await openPair(ctx, `${suite} ${config.key}`, config.setup, lifetimeMs);
        pairs.set(config.key, pair);
        await config.prepare?.(pair);
        await config.measure(pair, true);
      } catch (err) {
        await fail(config, err);
      }
    }
    for (let round = 1; round <= ctx.runs; round++) {
      for (const config of configs) {
        const pair = pairs.get(config.key);
        if (!pair) continue;
        try {
          const sample = await config.measure(pair, false);
          outcomes.get(config.key)!.samples.push(sample);
          ctx.log(`    round ${round}/${ctx.runs} ${config.key}: ${JSON.stringify(sample)}`);
        } catch (err) {
          await fail(config, err);
        }
      }
    }
  } finally {
    await Promise.all([...pairs.values()].map((p) => p.close()));
  }
  return outcomes;
}
