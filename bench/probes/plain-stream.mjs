/**
 * A plain standalone bulk test, with no tsx, no meshwire code and no benchmark harness: two
 * processes, one TCP or node:tls TLS 1.3 connection on 127.0.0.1, the sender writes `MiB`
 * MiB in `size`-byte writes honouring backpressure, the receiver times first byte to last.
 * It exists to check the bench's raw baselines against a script anyone would write (issue 16).
 *
 *   node bench/probes/plain-stream.mjs tcp|tls SIZE MIB [--depth BYTES] [--nagle] [--ed25519] [--json]
 *
 * `--json`: print one JSON object (mbps, receiver and sender CPU in ns per byte and in % of a
 * core) instead of the sentence; the throughput suite runs it so, as a same-run check of its own
 * raw baselines (bench/lib/baselines.ts, `plainScriptConfig`).
 * `--depth`: keep up to BYTES queued in Node before awaiting 'drain' (default: the stream's
 * own 16 KiB mark). The certificate is a throwaway one made with `openssl` (RSA 2048, or
 * Ed25519 with --ed25519) in the OS temp directory.
 */
import { execFileSync, fork } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
/* global performance, Buffer, setTimeout, clearTimeout */

const argv = process.argv.slice(2);
const [kind, sizeText, mibText] = argv;
const size = Number(sizeText);
const total = Number(mibText) * 1024 * 1024;
if (!['tcp', 'tls'].includes(kind ?? '') || !(size > 0) || !(total > 0) || total > 2 ** 34) {
  console.error(
    'usage: node bench/probes/plain-stream.mjs tcp|tls SIZE MIB [--depth BYTES] [--nagle] [--ed25519] [--json]',
  );
  process.exit(2);
}
const depthAt = argv.indexOf('--depth');
const depth = depthAt >= 0 ? Number(argv[depthAt + 1]) : 0;
const noDelay = !argv.includes('--nagle');
const certKind = argv.includes('--ed25519') ? 'ed25519' : 'rsa';

function certificate() {
  const base = path.join(os.tmpdir(), `meshwire-plain-stream-${certKind}`);
  if (!fs.existsSync(`${base}.crt`)) {
    const newkey = certKind === 'ed25519' ? ['-newkey', 'ed25519'] : ['-newkey', 'rsa:2048'];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        ...newkey,
        '-nodes',
        '-keyout',
        `${base}.key`,
        '-out',
        `${base}.crt`,
        '-days',
        '1',
        '-subj',
        '/CN=plain-stream',
      ],
      { stdio: 'ignore' },
    );
  }
  return { key: fs.readFileSync(`${base}.key`), cert: fs.readFileSync(`${base}.crt`) };
}

const tlsOptions = () => ({ ...certificate(), minVersion: 'TLSv1.3', rejectUnauthorized: false });
const cpuMs = (u) => (u.user + u.system) / 1000;

if (process.env.PLAIN_STREAM_ROLE === 'rx') {
  let got = 0;
  let t0 = 0;
  let cpu0;
  const onSocket = (s) => {
    s.on('data', (chunk) => {
      if (got === 0) {
        t0 = performance.now();
        cpu0 = process.cpuUsage();
      }
      got += chunk.length;
      if (got >= total) {
        process.send({ ms: performance.now() - t0, cpuMs: cpuMs(process.cpuUsage(cpu0)) });
        s.destroy();
        server.close();
      }
    });
  };
  const server = kind === 'tls' ? tls.createServer(tlsOptions(), onSocket) : net.createServer(onSocket);
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
} else if (process.env.PLAIN_STREAM_ROLE === 'tx') {
  const port = Number(process.env.PLAIN_STREAM_PORT);
  const buf = Buffer.alloc(size, 0xab);
  const go = async (s) => {
    s.setNoDelay(noDelay);
    const cpu0 = process.cpuUsage();
    for (let sent = 0; sent < total; sent += size) {
      const ok = s.write(buf);
      if (depth > 0 ? s.writableLength >= depth : !ok) await new Promise((r) => s.once('drain', r));
    }
    process.send({ cpuMs: cpuMs(process.cpuUsage(cpu0)) });
  };
  const s =
    kind === 'tls'
      ? tls.connect({ ...tlsOptions(), port, host: '127.0.0.1' }, () => go(s))
      : net.connect({ port, host: '127.0.0.1' }, () => go(s));
  s.on('error', () => undefined);
} else {
  const self = fileURLToPath(import.meta.url);
  const rx = fork(self, argv, { env: { ...process.env, PLAIN_STREAM_ROLE: 'rx' } });
  const killer = setTimeout(() => {
    rx.kill('SIGKILL');
    tx?.kill('SIGKILL');
    console.error('timed out after 120 s');
    process.exit(1);
  }, 120_000);
  let tx;
  const { port } = await new Promise((r) => rx.once('message', r));
  tx = fork(self, argv, {
    env: { ...process.env, PLAIN_STREAM_ROLE: 'tx', PLAIN_STREAM_PORT: String(port) },
  });
  const txDone = new Promise((r) => tx.once('message', r));
  const result = await new Promise((r) => rx.once('message', r));
  const sender = await txDone;
  clearTimeout(killer);
  const ns = (ms) => ((ms * 1e6) / total).toFixed(2);
  if (argv.includes('--json')) {
    console.log(
      JSON.stringify({
        mbps: total / 1e3 / result.ms,
        rxNsPerByte: (result.cpuMs * 1e6) / total,
        txNsPerByte: (sender.cpuMs * 1e6) / total,
        rxCpu: (100 * result.cpuMs) / result.ms,
        txCpu: (100 * sender.cpuMs) / result.ms,
      }),
    );
  } else
    console.log(
      `${kind} ${size} B writes, ${depth ? `${depth} B queue` : 'default queue'}, ${noDelay ? 'nodelay' : 'Nagle'}` +
        `${kind === 'tls' ? `, ${certKind}` : ''}: ${(total / 1e3 / result.ms).toFixed(0)} MB/s; ` +
        `CPU receiver ${ns(result.cpuMs)} ns/B, sender ${ns(sender.cpuMs)} ns/B`,
    );
  tx.kill();
  rx.kill();
}
