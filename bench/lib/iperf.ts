/**
 * iperf3 over loopback: what one TCP stream between two C processes moves on this machine, the
 * physical limit that the raw-TCP baselines (and meshwire) are read against. Only 127.0.0.1 is
 * used: the server binds it and the client connects to it.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import net from 'node:net';

/** One iperf3 run: receiver-side rate and both sides' CPU use. */
export interface IperfSample {
  mbps: number;
  /** CPU use of the client (sender) and server (receiver), in % of one core, as iperf3 reports it. */
  txCpu: number;
  rxCpu: number;
}

/** Why iperf3 cannot run here, or `undefined` when it can. */
export function iperfUnavailable(): string | undefined {
  const probe = spawnSync('iperf3', ['--version'], { encoding: 'utf8', timeout: 5000 });
  if (probe.error) {
    return (probe.error as NodeJS.ErrnoException).code === 'ENOENT'
      ? 'iperf3 is not installed (Debian: apt-get install iperf3)'
      : `iperf3 --version failed: ${probe.error.message}`;
  }
  return probe.status === 0 ? undefined : `iperf3 --version exited with ${probe.status}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs one iperf3 client for `seconds` against a one-shot server, both on 127.0.0.1. */
export async function iperf3(seconds: number): Promise<IperfSample> {
  const port = await freePort();
  const server = spawn('iperf3', ['-s', '-1', '-B', '127.0.0.1', '-p', String(port), '--forceflush'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const killer = setTimeout(() => server.kill('SIGKILL'), (seconds + 30) * 1000);
  try {
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error('iperf3 server did not start within 10 s')), 10_000);
      server.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('Server listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      server.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`iperf3 server exited (${code})`));
      });
    });
    const json = await new Promise<string>((resolve, reject) => {
      execFile(
        'iperf3',
        ['-c', '127.0.0.1', '-p', String(port), '-t', String(seconds), '-J'],
        { timeout: (seconds + 20) * 1000, maxBuffer: 8 * 1024 * 1024 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      );
    });
    const doc = JSON.parse(json) as {
      end?: {
        sum_received?: { bits_per_second?: number };
        cpu_utilization_percent?: { host_total?: number; remote_total?: number };
      };
      error?: string;
    };
    const bps = doc.end?.sum_received?.bits_per_second;
    if (typeof bps !== 'number') throw new Error(`iperf3: ${doc.error ?? 'no result'}`);
    return {
      mbps: Math.round(bps / 8 / 1e6),
      txCpu: Math.round(doc.end?.cpu_utilization_percent?.host_total ?? NaN),
      rxCpu: Math.round(doc.end?.cpu_utilization_percent?.remote_total ?? NaN),
    };
  } finally {
    clearTimeout(killer);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
}
