/**
 * The sender's cache of file hashes (hash-cache.ts): a file sent again unchanged is not hashed
 * again for FILESTART; any change to it (even of the same size) makes the next send hash it anew
 * and deliver the new content; the cache is bounded, least recently used out first. And the
 * sender's end check: a file changed in place while it is sent fails the send, whether the check
 * is by stat (a settled file) or by hashing the bytes sent (a file changed just before).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileReceiver, sendFile, type FileReceiverEvents } from '../src/files/index.js';
import { FileHashCache, RACY_MARGIN_MS, sentFileHashes } from '../src/files/hash-cache.js';
import { rejectsWith, startConnectedPair } from './helpers/nodes.js';
import { mulberry32, seededBytes } from './helpers/random.js';
import { tempDir } from './helpers/temp-dir.js';

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

describe('sender hash cache', { timeout: 30_000 }, () => {
  it('keeps at most its bound, drops the least recently used, and notices changes', async (t) => {
    const dir = await tempDir(t);
    const cache = new FileHashCache(2);
    const now = Date.now();
    cache.set(await stat(path.join(dir), { bigint: true }), 'fresh', now);
    assert.equal(cache.size, 0, 'a file changed within the racy margin is not recorded');
    cache.racyMarginMs = -60_000;
    const files = await Promise.all(
      ['a', 'b', 'c'].map(async (n) => {
        const f = path.join(dir, n);
        await writeFile(f, n);
        return f;
      }),
    );
    const st = await Promise.all(files.map((f) => stat(f, { bigint: true })));
    cache.set(st[0]!, 'A', now);
    cache.set(st[1]!, 'B', now);
    assert.equal(cache.get(st[0]!), 'A'); // a is now the most recent
    cache.set(st[2]!, 'C', now);
    assert.equal(cache.size, 2);
    assert.equal(cache.get(st[1]!), undefined, 'b was the least recently used');
    assert.equal(cache.get(st[2]!), 'C');
    await writeFile(files[0]!, 'zz'); // a new size (a same-size write in the same tick is the racy case)
    assert.equal(cache.get(await stat(files[0]!, { bigint: true })), undefined);
  });

  it('a file sent twice is hashed once for FILESTART; a changed one is hashed again', async (t) => {
    const dir = await tempDir(t);
    const { listener, dialer } = await startConnectedPair(t, { mode: 'compat' }, { mode: 'compat' });
    const receiver = new FileReceiver(listener, { downloadsDir: path.join(dir, 'in') });
    t.after(() => receiver.close());
    await receiver.start();
    const complete = (): Promise<FileReceiverEvents['file-complete']> =>
      new Promise((resolve, reject) => {
        receiver.once('file-complete', resolve);
        receiver.once('file-error', (e) => reject(e.error));
      });
    const file = path.join(dir, 'data.bin');
    const first = seededBytes(mulberry32(11), 700 * 1024);
    await writeFile(file, first);
    const to = dialer.getPeerInfo().peers[0]!.id;
    // The file was just written: let the cache take it anyway (the default margin is 1 s).
    sentFileHashes.racyMarginMs = -60_000;
    t.after(() => {
      sentFileHashes.racyMarginMs = RACY_MARGIN_MS;
    });

    const hits0 = sentFileHashes.hits;
    let done = complete();
    assert.equal((await sendFile(dialer, file, { to })).sha256, sha(first));
    assert.deepEqual(await readFile((await done).path), first);
    assert.equal(sentFileHashes.hits, hits0, 'first send: hashed');

    done = complete();
    assert.equal((await sendFile(dialer, file, { to })).sha256, sha(first));
    assert.deepEqual(await readFile((await done).path), first);
    assert.equal(sentFileHashes.hits, hits0 + 1, 'second send: from the cache');

    // Same size, one byte changed in place.
    const second = Buffer.from(first);
    second[12345]! ^= 1;
    await writeFile(file, second);
    done = complete();
    assert.equal((await sendFile(dialer, file, { to })).sha256, sha(second));
    assert.deepEqual(await readFile((await done).path), second);
    assert.equal(sentFileHashes.hits, hits0 + 1, 'changed file: hashed again');
  });

  for (const settled of [true, false]) {
    it(`a file changed in place while it is sent fails the send (${settled ? 'stat' : 'second hash'})`, async (t) => {
      const dir = await tempDir(t);
      const { listener, dialer } = await startConnectedPair(t, { mode: 'compat' }, { mode: 'compat' });
      const receiver = new FileReceiver(listener, { downloadsDir: path.join(dir, 'in') });
      t.after(() => receiver.close());
      await receiver.start();
      const file = path.join(dir, 'moving.bin');
      await writeFile(file, seededBytes(mulberry32(12), 2 * 1024 * 1024));
      if (settled) {
        // Count the fresh file as settled (no second hash), and make sure the write below lands
        // in a later clock tick than the file's creation, as it would for any settled file.
        sentFileHashes.racyMarginMs = -60_000;
        t.after(() => {
          sentFileHashes.racyMarginMs = RACY_MARGIN_MS;
        });
        const created = Number((await stat(file, { bigint: true })).ctimeNs / 1_000_000n);
        while (Date.now() < created + 20) await new Promise((r) => setImmediate(r));
      }
      const hits = sentFileHashes.hits;
      let changed = false;
      const sending = sendFile(dialer, file, {
        to: dialer.getPeerInfo().peers[0]!.id,
        chunkSize: 256 * 1024,
        onProgress: () => {
          if (changed) return;
          changed = true;
          // Same size, one byte further on changed, while the send is under way.
          const fd = openSync(file, 'r+');
          writeSync(fd, Buffer.from([0x55]), 0, 1, 1_500_000);
          closeSync(fd);
        },
      });
      const err = await rejectsWith(sending, 'ERR_FILE_IO');
      assert.match(err.message, /changed while being sent/);
      assert.equal(sentFileHashes.hits, hits);
      // The entry is gone: the next send hashes the new content and delivers it intact.
      const done = new Promise<FileReceiverEvents['file-complete']>((resolve) =>
        receiver.on('file-complete', resolve),
      );
      const now = await readFile(file);
      assert.equal(
        (await sendFile(dialer, file, { to: dialer.getPeerInfo().peers[0]!.id })).sha256,
        sha(now),
      );
      assert.deepEqual(await readFile((await done).path), now);
    });
  }
});
