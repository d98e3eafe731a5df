/**
 * Processes of the `files` suite outside the interleaved rounds: one secure node per child
 * process (a source or the receiver), and the CPU each used over a measurement.
 */
import os from 'node:os';
import { Child } from './child.js';
import type { Context } from './context.js';
import { cpuPercent } from './context.js';

/** A child process running one secure node. */
export interface NodeProcess {
  child: Child;
  port: number;
  id: string;
}

/** Spawns a node worker with one secure node listening on 127.0.0.1. */
export async function spawnNode(ctx: Context, name: string, lifetimeMs: number): Promise<NodeProcess> {
  const child = await Child.spawn('node', { name, lifetimeMs, execArgv: ctx.execArgv });
  try {
    const [started] = await child.call<{ port: number; id: string }[]>('start', {
      options: { mode: 'secure', peerTimeoutMs: 60_000 },
    });
    if (!started) throw new Error(`${name}: node did not start`);
    return { child, ...started };
  } catch (err) {
    await child.close();
    throw err;
  }
}

/** `child` dials each of `to` and waits until it has them all as peers. */
export async function dialAll(child: Child, to: readonly { port: number }[]): Promise<void> {
  for (const p of to) await child.call('connect', { address: `127.0.0.1:${p.port}` });
  await child.call('waitPeers', { count: to.length });
}

/** CPU readings of several children, taken together. */
export async function cpuNow(children: readonly Child[]): Promise<NodeJS.CpuUsage[]> {
  return Promise.all(children.map((c) => c.call<NodeJS.CpuUsage>('cpu')));
}

/** Per-child CPU between two {@link cpuNow} readings, rounded, in % of one core. */
export function cpuSince(before: NodeJS.CpuUsage[], after: NodeJS.CpuUsage[], wallMs: number): number[] {
  return before.map((b, i) => Math.round(cpuPercent(b, after[i]!, wallMs)));
}

/** Busy and total CPU time of the whole machine so far (every process, ours and others'). */
export function machineTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times } of os.cpus()) {
    const all = times.user + times.nice + times.sys + times.idle + times.irq;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** Share of the machine's cores busy between two {@link machineTimes} readings, in %. */
export function machineBusyPercent(
  before: { busy: number; total: number },
  after: { busy: number; total: number },
): number {
  const total = after.total - before.total;
  return total > 0 ? Math.round(((after.busy - before.busy) / total) * 100) : 0;
}
