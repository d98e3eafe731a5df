/**
 * Small chat messages per second. One-to-one: the sender calls `broadcastMessage(text)` with a
 * 32-byte text, `batch` calls at a time, then awaits the batch; the receiver counts 'chat'
 * events. Broadcast: one sender with 10 peers (10 nodes in one receiver process), deliveries
 * per second in total. Baseline: raw TCP, 33-byte lines corked in the same batches, counted by
 * newline at the receiver.
 */
import { cpuPercent, MODES, type Context, type Pair, type Row, type Setup } from '../lib/context.js';
import { rounds, type Config } from '../lib/rounds.js';
import { median, summarize } from '../lib/stats.js';
import { roundRatios } from './throughput.js';

/** 32 bytes of UTF-8. */
export const CHAT_TEXT = 'meshwire benchmark chat message!';
const BATCH = 1000;
const FANOUT = 10;

interface ChatSample {
  /** Messages delivered per second (all receivers together). */
  rate: number;
  txCpu: number;
  rxCpu: number;
  /** CPU time per message sent / delivered, in µs (robust to other load on the machine). */
  txUsPerMsg: number;
  rxUsPerMsg: number;
}

async function burst(
  pair: Pair,
  setup: Setup,
  count: number,
  receivers: number,
  api: 'broadcast' | 'direct',
): Promise<ChatSample> {
  const { rx, tx } = pair;
  await rx.call('arm', { kind: setup.kind === 'node' ? 'chat' : 'lines', total: count });
  const done = rx.call('wait', {}, 120_000);
  const [rx0, tx0] = await Promise.all([rx.call<NodeJS.CpuUsage>('cpu'), tx.call<NodeJS.CpuUsage>('cpu')]);
  const t0 = performance.now();
  if (setup.kind === 'node') {
    await tx.call('sendChat', { count, batch: BATCH, text: CHAT_TEXT, api }, 120_000);
  } else {
    await tx.call('sendLines', { count, batch: BATCH, length: CHAT_TEXT.length + 1 }, 120_000);
  }
  await done;
  const ms = performance.now() - t0;
  const [rx1, tx1] = await Promise.all([rx.call<NodeJS.CpuUsage>('cpu'), tx.call<NodeJS.CpuUsage>('cpu')]);
  const txCpu = cpuPercent(tx0, tx1, ms);
  const rxCpu = cpuPercent(rx0, rx1, ms);
  return {
    rate: Math.round((count * receivers * 1000) / ms),
    txCpu: Math.round(txCpu),
    rxCpu: Math.round(rxCpu),
    txUsPerMsg: Number((((txCpu / 100) * ms * 1000) / count).toFixed(3)),
    rxUsPerMsg: Number((((rxCpu / 100) * ms * 1000) / (count * receivers)).toFixed(3)),
  };
}

export async function chat(ctx: Context): Promise<Row[]> {
  const count = ctx.quick ? 100_000 : 300_000;
  const fanCount = ctx.quick ? 20_000 : 50_000;
  const config = (
    key: string,
    setup: Setup,
    n: number,
    receivers: number,
    api: 'broadcast' | 'direct' = 'broadcast',
  ): Config<ChatSample> => ({
    key,
    setup,
    measure: (pair, warmup) => burst(pair, setup, warmup ? Math.min(n, 20_000) : n, receivers, api),
  });
  const configs: Config<ChatSample>[] = [config('raw-tcp', { kind: 'tcp' }, count, 1)];
  for (const mode of MODES) {
    configs.push(config(`${mode}-1to1`, { kind: 'node', mode }, count, 1));
    configs.push(config(`${mode}-1to1-direct`, { kind: 'node', mode }, count, 1, 'direct'));
    configs.push(
      config(
        `${mode}-1to${FANOUT}`,
        {
          kind: 'node',
          mode,
          receivers: FANOUT,
          rxOptions: { maxPeers: 1 },
          txOptions: { maxPeers: FANOUT },
        },
        fanCount,
        FANOUT,
      ),
    );
  }
  const results = await rounds(ctx, 'chat', configs, 600_000);
  // The fan-out receivers share one process: their per-delivery cost adds up on one core.
  const receiversOf = (key: string): number => (key.endsWith(`1to${FANOUT}`) ? FANOUT : 1);
  const raw = results.get('raw-tcp')!.samples.map((s) => s.rate);
  const row = (key: string, name: string, mode: Row['mode'], n: number): Row => {
    const outcome = results.get(key)!;
    const rates = outcome.samples.map((s) => s.rate);
    const r: Row = {
      bench: 'chat',
      name,
      mode,
      unit: 'msg/s',
      value: rates.length > 0 ? summarize(rates) : null,
      details: {
        messages: n,
        batch: BATCH,
        senderCpuPercent: median(outcome.samples.map((s) => s.txCpu)),
        receiverCpuPercent: median(outcome.samples.map((s) => s.rxCpu)),
        senderCpuUsPerMessage: median(outcome.samples.map((s) => s.txUsPerMsg)),
        receiverCpuUsPerDelivery: median(outcome.samples.map((s) => s.rxUsPerMsg)),
      },
    };
    if (rates.length > 0) {
      const tx = median(outcome.samples.map((s) => s.txUsPerMsg));
      const rx = median(outcome.samples.map((s) => s.rxUsPerMsg));
      r.note =
        `CPU: sender ${tx.toFixed(2)} µs/message, receiver ${rx.toFixed(2)} µs/delivery ` +
        `(CPU-bound ceiling with a core per side: ${Math.round(Math.min((receiversOf(key) * 1e6) / tx, 1e6 / rx)).toLocaleString('en-US')} deliveries/s)`;
    }
    if (outcome.error) r.note = `failed: ${outcome.error}`;
    if (key !== 'raw-tcp' && rates.length > 0 && raw.length > 0) r.ratio = median(roundRatios(rates, raw));
    return r;
  };
  const rows: Row[] = [row('raw-tcp', '32-byte lines, 1 to 1', 'raw TCP', count)];
  for (const mode of MODES) {
    const one = row(`${mode}-1to1`, 'chat 1 to 1 (broadcastMessage)', mode, count);
    one.target = { text: '>= 300000 msg/s', pass: (one.value?.median ?? 0) >= 300_000 };
    rows.push(one);
    rows.push(row(`${mode}-1to1-direct`, 'chat 1 to 1 (sendMessageToPeer)', mode, count));
    const fan = row(`${mode}-1to${FANOUT}`, `chat broadcast 1 to ${FANOUT} (deliveries)`, mode, fanCount);
    rows.push(fan);
  }
  return rows;
}
