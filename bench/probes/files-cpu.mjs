// Interleaved A/B of file transfers between two child processes, importing compiled trees, with
// each side's CPU per byte (process.cpuUsage: main thread, threadpool and workers) and RSS growth.
// Adapted from the previous FileShare session's scratch script.
//   npm run build && cp -r dist scratch/A   (the dist trees must sit inside the repo, for imports)
//   node bench/probes/files-cpu.mjs <sizeMiB> <rounds> <pieces|bytes|compat|secure-push> dirA[@window[@w]] ...
// `@w` turns on FileShare's hashInWorker for that tree; AB_PROF=rx|tx writes a --cpu-prof of that
// side to /tmp/fspeed-prof. Loopback only; the payload is cached in /tmp/fspeed-ab-data.
import { fork } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdirSync, openSync, writeSync, closeSync, rmSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
/* global performance, Buffer, setInterval, clearInterval */

const self = fileURLToPath(import.meta.url);
const role = process.env.AB_ROLE;

if (!role) {
  const [sizeMiB, roundsS, kind, ...dirs] = process.argv.slice(2);
  const size = Number(sizeMiB) * 1024 * 1024;
  const data = '/tmp/fspeed-ab-data';
  mkdirSync(data, { recursive: true });
  const file = path.join(data, `payload-${sizeMiB}.bin`);
  if (!readdirSync(data).includes(path.basename(file))) {
    const fd = openSync(file, 'w');
    const b = Buffer.allocUnsafe(4 << 20);
    for (let w = 0; w < size; w += b.length) {
      randomFillSync(b);
      writeSync(fd, b, 0, Math.min(b.length, size - w));
    }
    closeSync(fd);
  }
  const results = Object.fromEntries(dirs.map((d) => [d, []]));
  for (let r = 0; r < Number(roundsS); r++) {
    for (const dir of dirs) {
      const res = await runPair(dir, kind, file, size);
      results[dir].push(res);
      console.log(dir, JSON.stringify(res));
    }
  }
  for (const dir of dirs) {
    const med = (k) => {
      const v = results[dir].map((x) => x[k]).sort((a, b) => a - b);
      return v[Math.floor(v.length / 2)];
    };
    console.log(
      `${dir}: median MB/s ${med('mbps')}, tx ns/B ${med('txNs')}, rx ns/B ${med('rxNs')}, rx rss+ ${med('rxRss')} MiB, tx rss+ ${med('txRss')} MiB`,
    );
  }
  process.exit(0);
}

function call(child, msg) {
  return new Promise((resolve, reject) => {
    const on = (m) => {
      child.off('message', on);
      if (m.error) reject(new Error(m.error));
      else resolve(m);
    };
    child.on('message', on);
    child.send(msg);
  });
}

async function runPair(dir, kind, file, size) {
  const tmp = `/tmp/fspeed-ab-run`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const mk = (r) =>
    fork(self, [], {
      env: {
        ...process.env,
        AB_ROLE: r,
        AB_DIR: dir.split('@')[0],
        AB_WIN: dir.split('@')[1] ?? '',
        AB_HW: dir.split('@')[2] ?? '',
        AB_KIND: kind,
        AB_TMP: tmp,
        AB_SIZE: String(size),
      },
      execArgv: process.env.AB_PROF === r ? ['--cpu-prof', `--cpu-prof-dir=${tmp}/../fspeed-prof`] : [],
    });
  const tx = mk('tx');
  const rx = mk('rx');
  try {
    const { port } = await call(rx, { op: 'init' });
    await call(tx, { op: 'init', port });
    const { root } = await call(tx, { op: 'prepare', file });
    const a = await call(tx, { op: 'cpu' });
    const b = await call(rx, { op: 'cpu' });
    const t0 = performance.now();
    const done = call(rx, { op: 'receive', root });
    await call(tx, { op: 'send', file });
    const rxEnd = await done;
    const ms = performance.now() - t0;
    const a2 = await call(tx, { op: 'cpu' });
    const b2 = await call(rx, { op: 'cpu' });
    const ns = (x, y) => +(((y.user - x.user + y.system - x.system) * 1000) / size).toFixed(3);
    return {
      mbps: Math.round(size / 1e3 / ms),
      txNs: ns(a, a2),
      rxNs: ns(b, b2),
      txRss: Math.round((a2.maxRss - a.rss) / 1024 / 1024),
      rxRss: Math.round((rxEnd.maxRss - b.rss) / 1024 / 1024),
    };
  } finally {
    tx.send({ op: 'exit' });
    rx.send({ op: 'exit' });
    await Promise.all([new Promise((r) => tx.once('exit', r)), new Promise((r) => rx.once('exit', r))]);
  }
}

// ---- child
const dist = path.resolve(process.env.AB_DIR);
const kind = process.env.AB_KIND;
const tmp = process.env.AB_TMP;
const { P2PNode } = await import(path.join(dist, 'node.js'));
const files = await import(path.join(dist, 'files/index.js'));
// createIdentity, not generateKeyPairSync: that can deadlock Node 20 (src/secure/new-keys.ts).
const { createIdentity } = await import(path.join(dist, 'index.js'));
let node,
  share,
  receiver,
  peerId,
  maxRss = 0;
const rssTimer = setInterval(() => {
  maxRss = Math.max(maxRss, process.memoryUsage.rss());
}, 20);
process.on('message', async (m) => {
  if (process.env.AB_DEBUG) console.error(role, m.op);
  try {
    let out = {};
    if (m.op === 'init') {
      node = new P2PNode({
        mode: kind === 'compat' ? 'compat' : 'secure',
        host: '127.0.0.1',
        port: 0,
        ...(kind === 'compat' ? {} : { keyFile: `${tmp}/${role}.key` }),
        autoConnectMax: 0,
      });
      if (kind === 'pieces') {
        share = new files.FileShare(node, {
          downloadsDir: `${tmp}/${role}`,
          signer: files.signerFromPrivateKey((await createIdentity()).privateKey),
          ...(process.env.AB_WIN ? { window: Number(process.env.AB_WIN) } : {}),
          ...(process.env.AB_HW === 'w' ? { hashInWorker: true } : {}),
        });
      } else if (role === 'rx') {
        receiver = new files.FileReceiver(node, { downloadsDir: `${tmp}/${role}` });
      }
      const rStart = receiver?.start();
      await node.start();
      await share?.start();
      await rStart;
      if (m.port) {
        const connected = new Promise((r) => node.once('peer-connected', (e) => r(e.peer.id)));
        await node.connectToPeer(`127.0.0.1:${m.port}`);
        peerId = await connected;
      }
      out = { port: node.port };
    } else if (m.op === 'prepare') {
      if (kind === 'pieces') out = { root: (await share.shareFile(m.file, { announce: false })).rootHex };
    } else if (m.op === 'cpu') {
      const c = process.cpuUsage();
      maxRss = process.memoryUsage.rss();
      out = { ...c, rss: maxRss, maxRss };
    } else if (m.op === 'receive') {
      if (kind === 'bytes') {
        let got = 0;
        const size = Number(process.env.AB_SIZE);
        await new Promise((res) =>
          node.on('bytes', (e) => {
            got += e.data.length;
            if (got >= size) res();
          }),
        );
      } else if (kind === 'pieces') {
        const peers = node.getPeerInfo().peers.map((p) => p.id);
        await share.fetchFile(m.root, { sources: peers });
      } else {
        await new Promise((res, rej) => {
          receiver.once('file-complete', res);
          receiver.once('file-error', (e) => rej(e.error));
        });
      }
      out = { maxRss };
    } else if (m.op === 'send') {
      if (kind === 'bytes') {
        const buf = Buffer.alloc(256 * 1024);
        const size = Number(process.env.AB_SIZE);
        for (let sent = 0; sent < size; sent += buf.length) await node.sendBytesToPeer(peerId, buf);
      } else if (kind !== 'pieces') {
        const r = await files.sendFile(node, m.file, { to: peerId });
        if (r.failed.length) throw r.failed[0].error;
      }
    } else if (m.op === 'exit') {
      clearInterval(rssTimer);
      await share?.close();
      await receiver?.close?.();
      await node.close();
      process.exit(0);
    }
    process.send(out);
  } catch (err) {
    process.send({ error: String(err?.stack ?? err) });
  }
});
