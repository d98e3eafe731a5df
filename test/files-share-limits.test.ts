/**
 * FileShare limits and start-up on real loopback sockets: an offer that arrives before
 * `share.start()` is not missed, the per-peer download rate limit paces requests, and the disk
 * use cap refuses pushed offers (reported on both sides) and fetches (ERR_DISK_QUOTA).
 */
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { FileShare } from '../src/files/index.js';
import { createTestNode, waitFor } from './helpers/nodes.js';
import { connect, MiB, nextShareEvent, randomFile, sha, sharePeer, tempDir } from './helpers/pieces.js';

const TEST = { timeout: 60_000 };

describe('FileShare: the start-up gap', () => {
  it('an offer that arrives before share.start() is handled once it starts', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await sharePeer(t, root, 'a');
    const b = await sharePeer(t, root, 'b', {}, { startShare: false });
    await connect(a.node, b.node);
    const { file, data } = await randomFile(root, 'early.bin', 2 * MiB + 5);
    // The offer reaches b's node while b's share has not started: it must wait, not be lost.
    const arrived = waitFor(b.node, 'bytes', (m) => m.from.id === a.node.id);
    const { offeredTo } = await a.share.sendFile(file, { to: b.node.id });
    assert.deepEqual(offeredTo, [b.node.id]);
    await arrived;
    const complete = nextShareEvent(b.share, 'download-complete');
    await b.share.start();
    const { path: got } = await complete;
    assert.equal(sha(await readFile(got)), sha(data));
  });

  it('a share constructed before its node starts sees peers that connect during start', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await sharePeer(t, root, 'a');
    const { file, data } = await randomFile(root, 'f.bin', MiB);
    const offer = await a.share.shareFile(file, { announce: false });
    const node = createTestNode(t, {
      mode: 'secure',
      keyFile: `${root}/late.key`,
      autoConnectMax: 0,
      bootstrap: `127.0.0.1:${a.node.port}`,
    });
    const share = new FileShare(node, { downloadsDir: `${root}/late` });
    t.after(() => share.close());
    await node.start();
    await waitFor(a.node, 'peer-connected', (m) => m.peer.id === node.id);
    await share.start();
    // The peer connected before start() is known: fetchFile asks it without being told.
    const got = await share.fetchFile(offer.rootHex);
    assert.equal(sha(await readFile(got)), sha(data));
  });
});

describe('FileShare: download rate limit', () => {
  it('a receiver limited to 1 MiB/s per peer paces its requests', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await sharePeer(t, root, 'a');
    const rx = await sharePeer(t, root, 'rx', { downloadBytesPerSecondPerPeer: MiB });
    await connect(rx.node, a.node);
    const { file, data } = await randomFile(root, 'f.bin', 3 * MiB);
    const offer = await a.share.shareFile(file, { announce: false });
    const t0 = performance.now();
    const got = await rx.share.fetchFile(offer.rootHex, { sources: [a.node.id] });
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(sha(await readFile(got)), sha(data));
    // 3 MiB at 1 MiB/s with a 1 s burst: about 2 s; unlimited, a fraction of a second.
    assert.ok(seconds >= 1.5, `took ${seconds.toFixed(2)} s`);
    assert.equal(a.share.bytesServed, 3 * MiB, 'nothing requested twice');
  });

  it('fetchFile with a signal rejects with ERR_ABORTED when aborted mid-download', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await sharePeer(t, root, 'a', { uploadBytesPerSecondPerPeer: MiB });
    const rx = await sharePeer(t, root, 'rx');
    await connect(rx.node, a.node);
    const { file } = await randomFile(root, 'slow.bin', 4 * MiB);
    const offer = await a.share.shareFile(file, { announce: false });
    const ac = new AbortController();
    const fetching = rx.share.fetchFile(offer.rootHex, { sources: [a.node.id], signal: ac.signal });
    await nextShareEvent(rx.share, 'download-progress');
    ac.abort(new Error('enough'));
    await assert.rejects(fetching, { code: 'ERR_ABORTED', message: /fetch aborted/ });
  });

  it('rejects invalid limits, naming the option', TEST, async (t) => {
    const node = createTestNode(t, { mode: 'secure' });
    for (const bad of [-1, 1.5, Number.NaN]) {
      assert.throws(() => new FileShare(node, { downloadBytesPerSecondPerPeer: bad }), {
        code: 'ERR_INVALID_OPTION',
        message: /downloadBytesPerSecondPerPeer/,
      });
      assert.throws(() => new FileShare(node, { maxDiskBytes: bad }), {
        code: 'ERR_INVALID_OPTION',
        message: /maxDiskBytes/,
      });
    }
  });
});

describe('FileShare: disk use cap', () => {
  it('refuses a pushed offer that would pass maxDiskBytes, and says why on both sides', TEST, async (t) => {
    const root = await tempDir(t);
    const a = await sharePeer(t, root, 'a');
    const rx = await sharePeer(t, root, 'rx', { maxDiskBytes: 4 * MiB });
    await connect(a.node, rx.node);
    const { file } = await randomFile(root, 'big.bin', 5 * MiB);
    const declined = nextShareEvent(rx.share, 'offer-declined');
    const refused = nextShareEvent(a.share, 'offer-refused');
    const { offer } = await a.share.sendFile(file, { to: rx.node.id });
    const d = await declined;
    assert.equal(d.error.code, 'ERR_DISK_QUOTA');
    assert.match(d.error.message, /maxDiskBytes/);
    assert.equal(d.offer.rootHex, offer.rootHex);
    assert.equal((await refused).rootHex, offer.rootHex);
    assert.deepEqual(
      (await readdir(rx.dir)).filter((n) => !n.startsWith('.')),
      [],
      'no .part was created',
    );
    // fetchFile is refused the same way.
    await assert.rejects(rx.share.fetchFile(offer.rootHex, { sources: [a.node.id] }), {
      code: 'ERR_DISK_QUOTA',
    });
  });

  it('counts the downloads in progress: a second one that would pass the cap is refused', TEST, async (t) => {
    const root = await tempDir(t);
    // A slow source keeps the first download in progress.
    const a = await sharePeer(t, root, 'a', { uploadBytesPerSecondPerPeer: MiB });
    const rx = await sharePeer(t, root, 'rx', { maxDiskBytes: 4 * MiB });
    await connect(rx.node, a.node);
    const first = await randomFile(root, 'one.bin', 3 * MiB);
    const second = await randomFile(root, 'two.bin', 2 * MiB);
    const third = await randomFile(root, 'three.bin', MiB);
    const o1 = await a.share.shareFile(first.file, { announce: false });
    const o2 = await a.share.shareFile(second.file, { announce: false });
    const o3 = await a.share.shareFile(third.file, { announce: false });
    const fetching = rx.share.fetchFile(o1.rootHex, { sources: [a.node.id] });
    await nextShareEvent(rx.share, 'download-start');
    await assert.rejects(rx.share.fetchFile(o2.rootHex, { sources: [a.node.id] }), {
      code: 'ERR_DISK_QUOTA',
      message: /3145728 reserved/,
    });
    // 3 + 1 MiB fits exactly.
    const [got1, got3] = await Promise.all([
      fetching,
      rx.share.fetchFile(o3.rootHex, { sources: [a.node.id] }),
    ]);
    assert.equal(sha(await readFile(got1)), sha(first.data));
    assert.equal(sha(await readFile(got3)), sha(third.data));
    // Finished downloads no longer count: the second now fits.
    const got2 = await rx.share.fetchFile(o2.rootHex, { sources: [a.node.id] });
    assert.equal(sha(await readFile(got2)), sha(second.data));
  });

  it(
    'downloads begun at the same moment cannot pass the cap or maxDownloads between them',
    TEST,
    async (t) => {
      const root = await tempDir(t);
      const a = await sharePeer(t, root, 'a', { uploadBytesPerSecondPerPeer: 4 * MiB });
      const rx = await sharePeer(t, root, 'rx', { maxDiskBytes: 4 * MiB });
      const one = await sharePeer(t, root, 'one', { maxDownloads: 1 });
      await connect(rx.node, a.node);
      await connect(one.node, a.node);
      const offers = [
        await a.share.shareFile((await randomFile(root, 'x.bin', 3 * MiB)).file, { announce: false }),
        await a.share.shareFile((await randomFile(root, 'y.bin', 2 * MiB)).file, { announce: false }),
      ];
      // Both fetches start in the same tick, each with the offer in hand (no WANT round trip).
      for (const [share, code] of [
        [rx.share, 'ERR_DISK_QUOTA'],
        [one.share, 'ERR_TOO_MANY_PENDING'],
      ] as const) {
        const results = await Promise.allSettled(
          offers.map((o) => share.fetchFile(o, { sources: [a.node.id] })),
        );
        assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1, code);
        const refused = results.find((r) => r.status === 'rejected');
        assert.equal((refused as PromiseRejectedResult).reason.code, code);
      }
    },
  );
});
