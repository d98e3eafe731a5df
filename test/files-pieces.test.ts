/**
 * FileShare (secure mode) between real nodes on loopback: pull from one and from several
 * sources, a corrupting source dropped at its first bad piece with nothing bad written, a source
 * that dies mid-transfer, consent (`accept`), resume after the receiver and after the sender
 * restart, and resume states that are corrupt, truncated or from another file.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { performance } from 'node:perf_hooks';
import type { P2PNode } from '../src/node.js';
import { FileShare, type FileShareOptions } from '../src/files/index.js';
import {
  encodeLayer,
  encodeNope,
  encodeOfferFrame,
  encodePiece,
  encodeRequest,
  NopeReason,
} from '../src/files/pieces/wire.js';
import { loadOrCreateIdentity } from '../src/secure/identity.js';
import { addressOf, startNode, waitFor } from './helpers/nodes.js';

const TEST = { timeout: 60_000 };
const MiB = 1024 * 1024;
const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-pieces-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  return dir;
}

interface Peer {
  node: P2PNode;
  share: FileShare;
  dir: string;
  keyFile: string;
}

/** A secure node with a key file, and a started FileShare signing with the node's key (node.signer). */
async function peer(
  t: TestContext,
  root: string,
  name: string,
  options: FileShareOptions = {},
): Promise<Peer> {
  const dir = path.join(root, name);
  const keyFile = path.join(root, `${name}.key`);
  const node = await startNode(t, {
    mode: 'secure',
    name,
    keyFile,
    autoConnectMax: 0,
    peerTimeoutMs: 60_000,
  });
  const identity = await loadOrCreateIdentity(keyFile);
  assert.equal(identity.id, node.id);
  assert.deepEqual(
    Buffer.from(node.signer?.publicKey ?? []),
    identity.publicKeyRaw,
    'node.signer is the identity',
  );
  const share = new FileShare(node, { downloadsDir: dir, ...options });
  t.after(() => share.close());
  await share.start();
  return { node, share, dir, keyFile };
}

async function connect(a: P2PNode, b: P2PNode): Promise<void> {
  const accepted = waitFor(b, 'peer-connected', (m) => m.peer.id === a.id);
  await a.connectToPeer(addressOf(b));
  await accepted;
}

async function randomFile(dir: string, name: string, size: number): Promise<{ file: string; data: Buffer }> {
  const data = randomBytes(size);
  const file = path.join(dir, name);
  await writeFile(file, data);
  return { file, data };
}

function once<T>(
  share: FileShare,
  event:
    | 'download-complete'
    | 'source-dropped'
    | 'download-start'
    | 'offer-refused'
    | 'warning'
    | 'download-paused'
    | 'download-failed',
  pred: (e: never) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${event}`)), timeoutMs);
    const listener = (e: never): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      share.off(event, listener as never);
      resolve(e as T);
    };
    share.on(event, listener as never);
  });
}

describe('FileShare: pull, verify, many sources', () => {
  it('fetches a shared file by root, byte-identical, and then serves it itself', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await peer(t, root, 'a');
    const b = await peer(t, root, 'b');
    const c = await peer(t, root, 'c');
    await connect(b.node, a.node);
    const { file, data } = await randomFile(root, 'movie.bin', 5 * MiB + 123);
    const offer = await a.share.shareFile(file);
    assert.equal(offer.offeredBy, a.node.id);
    const got = await b.share.fetchFile(offer.rootHex);
    assert.equal(got, path.join(b.dir, 'movie.bin'));
    assert.equal(sha(await readFile(got)), sha(data));
    assert.deepEqual(
      (await readdir(b.dir)).filter((f) => f.endsWith('.part')),
      [],
    );
    // b now holds it: c fetches from b alone.
    await connect(c.node, b.node);
    const fromB = await c.share.fetchFile(offer.rootHex, { sources: [b.node.id] });
    assert.equal(sha(await readFile(fromB)), sha(data));
    assert.ok(b.share.bytesServed >= data.length);
  });

  it('sendFile offers; the accept hook decides; a refusal reaches the sender', TEST, async (t) => {
    const root = await tempDir(t);
    const seen: string[] = [];
    const a = await peer(t, root, 'a');
    const b = await peer(t, root, 'b', {
      accept: async (offer) => {
        seen.push(offer.name);
        return offer.name !== 'secret.txt';
      },
    });
    await connect(a.node, b.node);
    const ok = await randomFile(root, 'ok.txt', 70_000);
    const done = once<{ path: string }>(b.share, 'download-complete');
    const sent = await a.share.sendFile(ok.file, { to: b.node.id });
    assert.deepEqual(sent.offeredTo, [b.node.id]);
    assert.equal(sha(await readFile((await done).path)), sha(ok.data));

    const secret = await randomFile(root, 'secret.txt', 1000);
    const refused = once<{ peerId: string; rootHex: string }>(a.share, 'offer-refused');
    const offer = (await a.share.sendFile(secret.file, { to: b.node.id })).offer;
    const r = await refused;
    assert.equal(r.peerId, b.node.id);
    assert.equal(r.rootHex, offer.rootHex);
    assert.deepEqual(seen, ['ok.txt', 'secret.txt']);
    assert.ok(!(await readdir(b.dir)).some((f) => f.startsWith('secret')));
  });

  it('three sources share the work; a corrupting one is dropped at its first bad piece', TEST, async (t) => {
    const root = await tempDir(t);
    const [s1, s2, bad] = [await peer(t, root, 's1'), await peer(t, root, 's2'), await peer(t, root, 'bad')];
    const rx = await peer(t, root, 'rx', { window: 4 });
    for (const s of [s1, s2, bad]) await connect(rx.node, s.node);
    const { data } = await randomFile(root, 'src.bin', 8 * MiB);
    const copies = await Promise.all(
      [s1, s2, bad].map(async (s) => {
        const f = path.join(root, `${s.node.name}-copy.bin`);
        await writeFile(f, data);
        return f;
      }),
    );
    const offers = await Promise.all(
      [s1, s2, bad].map((s, i) => s.share.shareFile(copies[i]!, { name: 'src.bin' })),
    );
    assert.ok(offers.every((o) => o.rootHex === offers[0]!.rootHex));
    // Corrupt one byte in every piece of the bad copy, keeping size and mtime, so its server
    // still serves it as the shared file.
    const st = await stat(copies[2]!);
    const fh = await open(copies[2]!, 'r+');
    const pieceLength = offers[0]!.pieceLength;
    for (let i = 0; i * pieceLength < data.length; i++)
      await fh.write(Buffer.from([data[i * pieceLength]! ^ 0xff]), 0, 1, i * pieceLength);
    await fh.close();
    await utimes(copies[2]!, st.atimeMs / 1000, st.mtimeMs / 1000);

    const dropped = once<{ peerId: string; error: { code: string } }>(rx.share, 'source-dropped');
    const got = await rx.share.fetchFile(offers[0]!.rootHex, {
      sources: [s1.node.id, s2.node.id, bad.node.id],
    });
    const d = await dropped;
    assert.equal(d.peerId, bad.node.id);
    assert.equal(d.error.code, 'ERR_FILE_INTEGRITY');
    assert.equal(sha(await readFile(got)), sha(data));
    // Every source served something: the work was shared.
    assert.ok(
      s1.share.bytesServed > 0 && s2.share.bytesServed > 0,
      `${s1.share.bytesServed} / ${s2.share.bytesServed}`,
    );
  });

  it('a source that dies mid-transfer hands its pieces to the others', TEST, async (t) => {
    const root = await tempDir(t);
    const s1 = await peer(t, root, 's1');
    const s2 = await peer(t, root, 's2');
    const rx = await peer(t, root, 'rx', { window: 2 });
    await connect(rx.node, s1.node);
    await connect(rx.node, s2.node);
    const { file, data } = await randomFile(root, 'f.bin', 16 * MiB);
    const offer = await s1.share.shareFile(file);
    await s2.share.shareFile(file);
    let killed = false;
    rx.share.on('download-progress', ({ download }) => {
      if (!killed && download.piecesDone >= 8) {
        killed = true;
        void s2.share.close().then(() => s2.node.close());
      }
    });
    const got = await rx.share.fetchFile(offer.rootHex, { sources: [s1.node.id, s2.node.id] });
    assert.ok(killed);
    assert.equal(sha(await readFile(got)), sha(data));
  });
});

describe('FileShare: the same root from two peers at once', () => {
  it('two peers offering one file feed one download and one stored file', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await peer(t, root, 'a');
    const b = await peer(t, root, 'b');
    const rx = await peer(t, root, 'rx', { window: 2 });
    await connect(a.node, rx.node);
    await connect(b.node, rx.node);
    const { data } = await randomFile(root, 'src.bin', 12 * MiB);
    const copyA = path.join(root, 'a-copy.bin');
    const copyB = path.join(root, 'b-copy.bin');
    await writeFile(copyA, data);
    await writeFile(copyB, data);
    const starts: boolean[] = [];
    rx.share.on('download-start', (e) => starts.push(e.resumed));
    const completes: string[] = [];
    rx.share.on('download-complete', (e) => completes.push(e.path));
    const done = once<{ path: string }>(rx.share, 'download-complete');
    const [oa, ob] = await Promise.all([
      a.share.sendFile(copyA, { to: rx.node.id, name: 'shared.bin' }),
      b.share.sendFile(copyB, { to: rx.node.id, name: 'shared.bin' }),
    ]);
    assert.equal(oa.offer.rootHex, ob.offer.rootHex);
    const { path: stored } = await done;
    assert.equal(sha(await readFile(stored)), sha(data));
    assert.deepEqual(starts, [false]);
    assert.deepEqual(completes, [stored]);
    assert.deepEqual(
      (await readdir(path.join(root, 'rx'))).filter((f) => !f.startsWith('.')),
      ['shared.bin'],
    );
  });
});

describe('FileShare: hostile piece frames', () => {
  it(
    'junk, forged offers, unrequested pieces and bogus layers are reported or ignored, never written',
    TEST,
    async (t) => {
      const root = await tempDir(t);
      const rx = await peer(t, root, 'rx');
      const good = await peer(t, root, 'good');
      const evil = await startNode(t, { mode: 'secure', name: 'evil', autoConnectMax: 0 });
      await connect(evil, rx.node);
      await connect(good.node, rx.node);
      const warnings: string[] = [];
      rx.share.on('warning', (e) => warnings.push(e.error.code));
      const { file, data } = await randomFile(root, 'f.bin', 3 * MiB);
      const offer = await good.share.shareFile(file, { announce: false });
      const forged = Buffer.from(offer.body);
      forged[40]! ^= 1; // the size field: the signature no longer verifies
      const rootBytes = offer.root;
      for (const frame of [
        Buffer.from('MWF1'),
        Buffer.concat([Buffer.from('MWF1'), Buffer.from([0x66]), rootBytes]),
        encodeOfferFrame(forged),
        encodeOfferFrame(forged, true),
        encodePiece(rootBytes, 0, randomBytes(1000)),
        encodePiece(rootBytes, 0xfffffffe, randomBytes(10)),
        encodeLayer(rootBytes, [randomBytes(32), randomBytes(32)]),
        encodeRequest(randomBytes(32), 5),
        encodeNope(rootBytes, 0, NopeReason.busy),
      ]) {
        await evil.sendBytesToPeer(rx.node.id, frame);
      }
      // Nothing of that reached a download or the disk: the real fetch works.
      const got = await rx.share.fetchFile(offer.rootHex, { sources: [good.node.id] });
      assert.equal(sha(await readFile(got)), sha(data));
      assert.ok(warnings.filter((w) => w === 'ERR_FILE_PROTOCOL').length >= 4, warnings.join(','));
      assert.equal(rx.share.download(offer.rootHex), undefined);
      // The evil peer's request for an unknown root got a nope, and it is still connected.
      assert.ok(rx.node.getPeerInfo().peers.some((p) => p.id === evil.id));
    },
  );
});

describe('FileShare: upload rate limit', () => {
  it('a source limited to 1 MiB/s per peer paces its pieces', TEST, async (t) => {
    const root = await tempDir(t);
    const slow = await peer(t, root, 'slow', { uploadBytesPerSecondPerPeer: MiB });
    const rx = await peer(t, root, 'rx');
    await connect(rx.node, slow.node);
    const { file, data } = await randomFile(root, 'f.bin', 3 * MiB);
    const offer = await slow.share.shareFile(file, { announce: false });
    const t0 = performance.now();
    const got = await rx.share.fetchFile(offer.rootHex, { sources: [slow.node.id] });
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(sha(await readFile(got)), sha(data));
    // 3 MiB at 1 MiB/s with a 1 s burst: about 2 s; unlimited it takes a fraction of a second.
    assert.ok(seconds >= 1.5, `took ${seconds.toFixed(2)} s`);
  });
});

describe('FileShare: stalls', () => {
  it(
    'a source that stops answering is dropped after repeated timeouts; another takes over',
    TEST,
    async (t) => {
      const root = await tempDir(t);
      const good = await peer(t, root, 'good');
      const mute = await peer(t, root, 'mute');
      const rx = await peer(t, root, 'rx', { window: 2, requestTimeoutMs: 300 });
      await connect(rx.node, good.node);
      await connect(rx.node, mute.node);
      const { file, data } = await randomFile(root, 'f.bin', 6 * MiB);
      // Not announced: the receiver learns of the sources only from the fetch calls.
      const offer = await good.share.shareFile(file, { announce: false });
      await mute.share.shareFile(file, { announce: false });
      // The mute peer stays connected but its FileShare no longer answers anything.
      await mute.share.close();
      const dropped = once<{ peerId: string; error: { code: string } }>(rx.share, 'source-dropped');
      const paused = once(rx.share, 'download-paused');
      // With the offer in hand, the download starts with the mute peer as its only source and stalls.
      const fetching = rx.share.fetchFile(offer, { sources: [mute.node.id] });
      const d = await dropped;
      assert.equal(d.peerId, mute.node.id);
      assert.equal(d.error.code, 'ERR_PEER_TIMEOUT');
      await paused;
      // A good source joins the same download, which completes.
      const joined = rx.share.fetchFile(offer.rootHex, { sources: [good.node.id] });
      const got = await fetching;
      assert.equal(sha(await readFile(got)), sha(data));
      assert.equal(await joined, got);
    },
  );
});

describe('FileShare: disk full', () => {
  it('a full disk fails the download with ERR_FILE_IO, nothing under the final name', TEST, async (t) => {
    if (process.platform !== 'linux' || process.getuid?.() !== 0) {
      t.skip('needs root on Linux to mount a small tmpfs');
      return;
    }
    const root = await tempDir(t);
    const small = path.join(root, 'small');
    await mkdir(small);
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', small], { stdio: 'pipe' });
    } catch (err) {
      t.skip(`cannot mount a tmpfs here: ${(err as Error).message.split('\n')[0]}`);
      return;
    }
    // Unmounted in this test (lazily, so open handles cannot block it), before the temporary
    // directory's cleanup tries to remove the mount point.
    try {
      const a = await peer(t, root, 'a');
      const rx = await peer(t, root, 'rx', { downloadsDir: small, stateDir: path.join(root, 'rx-state') });
      await connect(rx.node, a.node);
      const { file } = await randomFile(root, 'big.bin', 8 * MiB);
      const offer = await a.share.shareFile(file);
      const failed = once<{ error: { code: string } }>(rx.share, 'download-failed');
      await assert.rejects(rx.share.fetchFile(offer.rootHex), { code: 'ERR_FILE_IO' });
      assert.equal((await failed).error.code, 'ERR_FILE_IO');
      assert.ok(!(await readdir(small)).includes('big.bin'));
      // The node and the share keep working: a chat still goes through.
      const heard = waitFor(a.node, 'chat', (m) => m.text === 'still here');
      await rx.node.sendMessageToPeer(a.node.id, 'still here');
      await heard;
      await rx.share.close();
    } finally {
      execFileSync('umount', ['-l', small], { stdio: 'pipe' });
    }
  });
});

describe('FileShare: resume', () => {
  it('the receiver restarts mid-transfer and re-fetches only what it had not verified', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await peer(t, root, 'a');
    const first = await peer(t, root, 'b', { window: 4 });
    await connect(first.node, a.node);
    const { file, data } = await randomFile(root, 'big.bin', 24 * MiB);
    const offer = await a.share.shareFile(file);
    let doneBefore = 0;
    const stopped = new Promise<void>((resolve) => {
      first.share.on('download-progress', ({ download }) => {
        if (doneBefore === 0 && download.piecesDone >= download.pieces / 3) {
          doneBefore = download.bytesDone;
          // Stop abruptly: no goodbye to the download, the node just goes.
          void first.node
            .close()
            .then(() => first.share.close())
            .then(resolve);
        }
      });
    });
    void first.share.fetchFile(offer.rootHex).catch(() => undefined);
    await stopped;
    assert.ok((await readdir(first.dir)).some((f) => f.endsWith('.part')));

    // Same key, same folder: the download resumes by itself once a source is connected.
    const again = await peer(t, root, 'b', { window: 4 });
    const d = again.share.download(offer.rootHex);
    assert.ok(d, 'resumed from the state file');
    assert.ok(d.bytesDone >= doneBefore, `${d.bytesDone} verified after restart, ${doneBefore} before`);
    const complete = once<{ path: string; download: { bytesThisSession: number } }>(
      again.share,
      'download-complete',
    );
    await connect(again.node, a.node);
    const c = await complete;
    assert.equal(sha(await readFile(c.path)), sha(data));
    assert.ok(c.download.bytesThisSession <= data.length - doneBefore + 4 * offer.pieceLength);
    assert.deepEqual(
      (await readdir(path.join(again.dir, '.meshwire'))).filter((f) => f.endsWith('.state')),
      [],
    );
  });

  it('the sender restarts: its shares come back and the paused download continues', TEST, async (t) => {
    const root = await tempDir(t);
    const first = await peer(t, root, 'a');
    const rx = await peer(t, root, 'rx', { window: 2 });
    await connect(rx.node, first.node);
    const { file, data } = await randomFile(root, 'f.bin', 16 * MiB);
    const offer = await first.share.shareFile(file);
    const paused = once(rx.share, 'download-paused');
    let stopped = false;
    rx.share.on('download-progress', ({ download }) => {
      if (!stopped && download.piecesDone >= 4) {
        stopped = true;
        void first.share.close().then(() => first.node.close());
      }
    });
    const got = rx.share.fetchFile(offer.rootHex);
    await paused;
    const again = await peer(t, root, 'a');
    await connect(rx.node, again.node);
    assert.equal(sha(await readFile(await got)), sha(data));
  });

  for (const [what, corrupt] of [
    ['corrupt', (s: string) => s.replace(/"bitfield":"[^"]*"/, '"bitfield":"AAAA"')],
    ['truncated', (s: string) => s.slice(0, s.length / 2)],
    ['from another file', (s: string) => s.replace(/"root":"[0-9a-f]{64}"/, `"root":"${'0'.repeat(64)}"`)],
  ] as const) {
    it(`a ${what} state file is discarded with a warning, never trusted`, TEST, async (t) => {
      const root = await tempDir(t);
      const a = await peer(t, root, 'a');
      const first = await peer(t, root, 'b', { window: 2 });
      await connect(first.node, a.node);
      const { file } = await randomFile(root, 'f.bin', 8 * MiB);
      const offer = await a.share.shareFile(file);
      const stopped = new Promise<void>((resolve) => {
        let once = false;
        first.share.on('download-progress', ({ download }) => {
          if (!once && download.piecesDone >= 3) {
            once = true;
            void first.node
              .close()
              .then(() => first.share.close())
              .then(resolve);
          }
        });
      });
      void first.share.fetchFile(offer.rootHex).catch(() => undefined);
      await stopped;
      const stateFile = path.join(first.dir, '.meshwire', 'f.bin.state');
      await writeFile(stateFile, corrupt(await readFile(stateFile, 'utf8')));

      const warnings: string[] = [];
      const node = await startNode(t, {
        mode: 'secure',
        name: 'b2',
        keyFile: first.keyFile,
        autoConnectMax: 0,
      });
      const share = new FileShare(node, { downloadsDir: first.dir });
      t.after(() => share.close());
      share.on('warning', (e) => warnings.push(e.error.message));
      await share.start();
      assert.equal(share.download(offer.rootHex), undefined);
      assert.ok(
        warnings.some((w) => /discard/.test(w)),
        warnings.join('\n'),
      );
      const left = await readdir(first.dir);
      assert.deepEqual(
        left.filter((f) => f.endsWith('.part')),
        [],
      );
    });
  }
});
