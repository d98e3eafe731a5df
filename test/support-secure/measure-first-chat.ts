/**
 * Scratch measurement (not a test): time from `connectToPeer()` to the first chat received on the
 * other side, over fresh secure connections on loopback. Each round starts a new listener and a
 * new dialer (keys generated before the clock starts), so every round is a full TLS 1.3 handshake
 * plus the native hello exchange; the dialer sends its chat as soon as `connectToPeer()` resolves.
 *
 * Run: `npx tsx test/support-secure/measure-first-chat.ts [rounds] [networkKey]`
 */
import { performance } from 'node:perf_hooks';
import { P2PNode } from '../../src/node.js';

const rounds = Number(process.argv[2] ?? 50);
const networkKey = process.argv[3];
const WARMUP = 3;

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.round(q * (sorted.length - 1))));
  return sorted[i] as number;
}

async function round(): Promise<{ connected: number; firstChat: number }> {
  const options = { host: '127.0.0.1', ...(networkKey ? { networkKey } : {}) };
  const listener = new P2PNode(options);
  const dialer = new P2PNode(options);
  try {
    await listener.listen();
    await dialer.listen();
    const chat = new Promise<number>((resolve) => listener.once('chat', () => resolve(performance.now())));
    const started = performance.now();
    const peer = await dialer.connectToPeer(`127.0.0.1:${listener.port}`);
    const connected = performance.now();
    await dialer.sendMessageToPeer(peer.id, 'first');
    const received = await chat;
    return { connected: connected - started, firstChat: received - started };
  } finally {
    await Promise.all([dialer.close(), listener.close()]);
  }
}

const results: { connected: number; firstChat: number }[] = [];
for (let i = 0; i < WARMUP + rounds; i++) {
  const r = await round();
  if (i >= WARMUP) results.push(r);
}
const first = results.map((r) => r.firstChat).sort((a, b) => a - b);
const connected = results.map((r) => r.connected).sort((a, b) => a - b);
const fmt = (ms: number): string => ms.toFixed(2);
console.log(
  `${rounds} fresh secure connections${networkKey ? ' (network key)' : ''}, node ${process.version}, after ${WARMUP} warm-up rounds`,
);
console.log(
  `connectToPeer() -> first chat received: median ${fmt(quantile(first, 0.5))} ms, p10 ${fmt(quantile(first, 0.1))}, p90 ${fmt(quantile(first, 0.9))}, max ${fmt(first[first.length - 1] as number)}`,
);
console.log(
  `connectToPeer() resolved:               median ${fmt(quantile(connected, 0.5))} ms, p90 ${fmt(quantile(connected, 0.9))}`,
);
