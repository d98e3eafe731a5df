/**
 * CPU per byte of meshwire bulk transfer, per side, for A/B of compiled trees (issue 16 part 3).
 * Two processes per run (receiver node listens, sender node dials and loops
 * `await sendBytesToPeer(id, buf)`); each reports `process.cpuUsage()` over the transfer, so the
 * figures hold up on a busy machine where MB/s does not. Trees are interleaved run by run.
 *
 *   node bench/probes/bulk-cpu.mjs [--mode secure|compat] [--size BYTES] [--mib N] [--runs N]
 *        [--gc] [--prof DIR] DIST_DIR [DIST_DIR ...]
 *
 * DIST_DIR is a compiled tree (`npm run build` makes dist/; copy it elsewhere to keep an "A").
 * Below 4 KiB (`--size 32 --mib 8`: a small-message rate) the sender issues 1000 sends, then
 * awaits them all; the per-message CPU is then ns/B times the size.
 * `--gc` also counts the receiver's and sender's garbage collections (PerformanceObserver);
 * `--prof DIR` writes a V8 CPU profile of each side there (`bench/profile-summary.ts` reads them).
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { optionReader } from './probe-args.mjs';
/* global performance, Buffer, setTimeout, clearTimeout, PerformanceObserver */

const args = process.argv.slice(2);
const opt = optionReader(args);
const mode = opt('--mode', 'secure');
const size = Number(opt('--size', '65536'));
const total = Number(opt('--mib', '256')) * 1024 * 1024;
const runs = Number(opt('--runs', '3'));
const gcAt = args.indexOf('--gc');
const countGc = gcAt >= 0;
const profDir = opt('--prof', '');
if (countGc) args.splice(gcAt, 1);
const trees = args;
if (
  !['secure', 'compat'].includes(mode) ||
  !(size > 0) ||
  !(total > 0) ||
  !(runs > 0) ||
  trees.length === 0
) {
  console.error(
    'usage: node bench/probes/bulk-cpu.mjs [--mode secure|compat] [--size B] [--mib N] [--runs N] [--gc] DIST...',
  );
  process.exit(2);
}

const cpuMs = (u) => (u.user + u.system) / 1000;

function gcCounter() {
  const counts = { minor: 0, major: 0, ms: 0 };
  if (!countGc) return counts;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.detail?.kind === 1) counts.minor++;
      else counts.major++;
      counts.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return counts;
}

const role = process.env.BULK_CPU_ROLE;
if (role) {
  const dist = process.env.BULK_CPU_DIST;
  const { P2PNode } = await import(pathToFileURL(path.join(path.resolve(dist), 'index.js')).href);
  const node = new P2PNode({ host: '127.0.0.1', port: 0, mode, autoConnectMax: 0 });
  const gc = gcCounter();
  if (role === 'rx') {
    let got = 0;
    let cpu0;
    let t0 = 0;
    let gc0;
    node.on('bytes', (m) => {
      if (got === 0) {
        cpu0 = process.cpuUsage();
        t0 = performance.now();
        gc0 = { ...gc };
      }
      got += m.data.length;
      if (got >= total) {
        process.send({
          cpuMs: cpuMs(process.cpuUsage(cpu0)),
          ms: performance.now() - t0,
          gc: { minor: gc.minor - gc0.minor, major: gc.major - gc0.major, ms: gc.ms - gc0.ms },
        });
      }
    });
    await node.listen();
    process.send({ port: node.port });
  } else {
    await node.listen();
    const peer = await node.connectToPeer(`127.0.0.1:${process.env.BULK_CPU_PORT}`);
    const buf = Buffer.alloc(size, 0xab);
    const gc0 = { ...gc };
    const cpu0 = process.cpuUsage();
    if (size >= 4096) {
      for (let sent = 0; sent < total; sent += size) await node.sendBytesToPeer(peer.id, buf);
    } else {
      // Small messages: 1000 calls, then await them all (the bench's small-message pattern).
      for (let sent = 0; sent < total;) {
        const sends = [];
        for (let j = 0; j < 1000 && sent < total; j++, sent += size)
          sends.push(node.sendBytesToPeer(peer.id, buf));
        await Promise.all(sends);
      }
    }
    process.send({
      cpuMs: cpuMs(process.cpuUsage(cpu0)),
      gc: { minor: gc.minor - gc0.minor, major: gc.major - gc0.major, ms: gc.ms - gc0.ms },
    });
  }
  process.on('message', async () => {
    await node.close();
    process.exit(0);
  });
} else {
  const self = fileURLToPath(import.meta.url);
  const once = (child) => new Promise((resolve) => child.once('message', resolve));
  async function run(dist) {
    const env = { ...process.env, BULK_CPU_DIST: dist };
    const execArgv = [...process.execArgv, ...(profDir ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [])];
    const rx = fork(self, process.argv.slice(2), { env: { ...env, BULK_CPU_ROLE: 'rx' }, execArgv });
    let tx;
    const killer = setTimeout(() => {
      rx.kill('SIGKILL');
      tx?.kill('SIGKILL');
      console.error('timed out after 120 s');
      process.exit(1);
    }, 120_000);
    const { port } = await once(rx);
    tx = fork(self, process.argv.slice(2), {
      env: { ...env, BULK_CPU_ROLE: 'tx', BULK_CPU_PORT: String(port) },
      execArgv,
    });
    const [r, t] = await Promise.all([once(rx), once(tx)]);
    clearTimeout(killer);
    rx.send('exit');
    tx.send('exit');
    await Promise.all([
      new Promise((res) => rx.once('exit', res)),
      new Promise((res) => tx.once('exit', res)),
    ]);
    return {
      rx: (r.cpuMs * 1e6) / total,
      tx: (t.cpuMs * 1e6) / total,
      mbps: total / 1e3 / r.ms,
      rgc: r.gc,
      tgc: t.gc,
    };
  }
  const results = new Map(trees.map((t) => [t, []]));
  for (let i = 0; i < runs; i++) {
    for (const tree of trees) {
      const s = await run(tree);
      results.get(tree).push(s);
      const gcText = countGc
        ? ` gc rx ${s.rgc.minor}/${s.rgc.major} (${s.rgc.ms.toFixed(0)} ms) tx ${s.tgc.minor}/${s.tgc.major} (${s.tgc.ms.toFixed(0)} ms)`
        : '';
      const perMessage =
        size < 4096
          ? ` (rx ${((s.rx * size) / 1e3).toFixed(2)} µs/msg, tx ${((s.tx * size) / 1e3).toFixed(2)} µs/msg)`
          : '';
      console.log(
        `${tree}: ${mode} ${size} B: rx ${s.rx.toFixed(3)} ns/B, tx ${s.tx.toFixed(3)} ns/B, ${s.mbps.toFixed(0)} MB/s${perMessage}${gcText}`,
      );
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [tree, xs] of results) {
    console.log(
      `median ${tree}: rx ${med(xs.map((x) => x.rx)).toFixed(3)} ns/B, tx ${med(xs.map((x) => x.tx)).toFixed(3)} ns/B, ${med(xs.map((x) => x.mbps)).toFixed(0)} MB/s`,
    );
  }
}
