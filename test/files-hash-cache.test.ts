/**
 * The sender's cache of file hashes (hash-cache.ts): a file sent again unchanged is not hashed
 * again for FILESTART; any change to it (even of the same size) makes the next send hash it anew
 * and deliver the new content; the cache is bounded, least recently used out first.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileReceiver, sendFile, type FileReceiverEvents } from '../src/files/index.js';
import { FileHashCache, RACY_MARGIN_MS, sentFileHashes } from '../src/files/hash-cache.js';
import { startConnectedPair } from './helpers/nodes.js';
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
});
