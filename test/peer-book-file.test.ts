/** The persisted peer book: round trip, bounds, batching, atomic writes, corrupt files. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { MAX_PEER_BOOK_FILE_BYTES, PeerBookFile } from '../src/discovery/peer-book-file.js';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-peerbook-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const ID_A = 'a'.repeat(32);
const ID_B = 'b'.repeat(32);

test('round trip: saved entries load back, newest first, file mode 0600', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'sub', 'peers-8001.json');
  const book = new PeerBookFile({ file, flushDelayMs: 0 });
  assert.deepEqual(await book.load(), [], 'a missing file is an empty book');
  book.recordSuccess('10.0.0.1:8001', ID_A, 1000);
  book.recordSuccess('[fd00::2]:8002', ID_B, 2000);
  book.recordSuccess('host.lan:8003', undefined, 1500);
  await book.close();
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const again = new PeerBookFile({ file });
  assert.deepEqual(await again.load(), [
    { address: '[fd00::2]:8002', id: ID_B, lastSuccess: 2000 },
    { address: 'host.lan:8003', lastSuccess: 1500 },
    { address: '10.0.0.1:8001', id: ID_A, lastSuccess: 1000 },
  ]);
  // No temp file is left behind.
  assert.deepEqual(await readdir(path.dirname(file)), ['peers-8001.json']);
});

test('bounded: the least recently successful entries are evicted', async (t) => {
  const file = path.join(await tempDir(t), 'peers.json');
  const book = new PeerBookFile({ file, maxEntries: 3, flushDelayMs: 0 });
  for (let i = 1; i <= 5; i++) book.recordSuccess(`10.0.0.${i}:7000`, undefined, i * 1000);
  assert.deepEqual(
    book.entries().map((e) => e.address),
    ['10.0.0.5:7000', '10.0.0.4:7000', '10.0.0.3:7000'],
  );
  // An older success does not overwrite a newer one.
  book.recordSuccess('10.0.0.5:7000', undefined, 1);
  assert.equal(book.entries()[0]!.lastSuccess, 5000);
  await book.close();
  // A hand-edited file with too many entries is cut to the bound on load.
  const big = {
    version: 1,
    peers: Array.from({ length: 50 }, (_, i) => ({ address: `10.1.0.${i}:1`, lastSuccess: i })),
  };
  await writeFile(file, JSON.stringify(big));
  const loaded = await new PeerBookFile({ file, maxEntries: 3 }).load();
  assert.equal(loaded.length, 3);
});

test('writes are batched: many successes, one write', async (t) => {
  const file = path.join(await tempDir(t), 'peers.json');
  const book = new PeerBookFile({ file, flushDelayMs: 50 });
  for (let i = 0; i < 100; i++) book.recordSuccess(`10.0.0.1:${7000 + i}`, undefined, i);
  assert.equal(book.writes, 0);
  await new Promise<void>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error('no write within 5 s')), 5_000);
    const poll = setInterval(() => {
      if (book.writes > 0) {
        clearInterval(poll);
        clearTimeout(deadline);
        resolve();
      }
    }, 10);
  });
  assert.equal(book.writes, 1);
  const saved = JSON.parse(await readFile(file, 'utf8')) as { peers: unknown[] };
  assert.equal(saved.peers.length, 100);
  await book.close();
  assert.equal(book.writes, 1, 'nothing new: close writes nothing');
});

test('a corrupt, truncated, foreign or oversized file: warn, keep a .bad copy, start empty', async (t) => {
  const dir = await tempDir(t);
  const cases: [string, string | Buffer][] = [
    ['truncated', '{"version":1,"peers":[{"address":"10.0.0.1:1","lastSu'],
    ['garbage', Buffer.from([0xff, 0x00, 0x13, 0x37])],
    ['foreign', JSON.stringify({ version: 99, peers: [] })],
    ['oversized', ' '.repeat(MAX_PEER_BOOK_FILE_BYTES + 1)],
  ];
  for (const [name, content] of cases) {
    const file = path.join(dir, `${name}.json`);
    await writeFile(file, content);
    const warnings: string[] = [];
    const book = new PeerBookFile({ file, flushDelayMs: 0, onWarning: (m) => warnings.push(m) });
    assert.deepEqual(await book.load(), [], name);
    assert.equal(warnings.length, 1, name);
    assert.match(warnings[0]!, /\.bad/, name);
    assert.deepEqual(await readFile(`${file}.bad`), Buffer.from(content), `${name}: the bad copy is intact`);
    // The book still works and writes a good file.
    book.recordSuccess('10.0.0.9:9', ID_A, 9);
    await book.close();
    assert.equal((await new PeerBookFile({ file }).load()).length, 1, name);
  }
});

test('invalid entries are skipped and reported, valid ones kept', async (t) => {
  const file = path.join(await tempDir(t), 'peers.json');
  const peers = [
    { address: '10.0.0.1:7000', id: ID_A, lastSuccess: 5 },
    { address: 'not an address', lastSuccess: 1 },
    { address: '10.0.0.2:99999', lastSuccess: 1 },
    { address: '10.0.0.3:7000', id: 'x'.repeat(500), lastSuccess: 1 },
    { address: '10.0.0.4:7000', lastSuccess: 'yesterday' },
    null,
  ];
  await writeFile(file, JSON.stringify({ version: 1, peers }));
  const warnings: string[] = [];
  const loaded = await new PeerBookFile({ file, onWarning: (m) => warnings.push(m) }).load();
  assert.deepEqual(loaded, [{ address: '10.0.0.1:7000', id: ID_A, lastSuccess: 5 }]);
  assert.deepEqual(warnings.length, 1);
  assert.match(warnings[0]!, /skipped 5 invalid entries/);
});

test('a failed write is reported, not thrown, and the book keeps working', async (t) => {
  const dir = await tempDir(t);
  // The parent "directory" is a file: mkdir and the write fail.
  await writeFile(path.join(dir, 'blocker'), 'x');
  const warnings: string[] = [];
  const book = new PeerBookFile({
    file: path.join(dir, 'blocker', 'peers.json'),
    flushDelayMs: 0,
    onWarning: (m) => warnings.push(m),
  });
  book.recordSuccess('10.0.0.1:1', undefined, 1);
  await book.close();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /could not be saved/);
  assert.equal(book.size, 1);
});

test('invalid options and addresses are refused; an odd ID is dropped', async (t) => {
  assert.throws(() => new PeerBookFile({ file: '' }), /peerBookFile/);
  assert.throws(() => new PeerBookFile({ file: 'x', maxEntries: 0 }), /maxEntries/);
  assert.throws(() => new PeerBookFile({ file: 'x', flushDelayMs: -1 }), /flushDelayMs/);
  const book = new PeerBookFile({ file: path.join(await tempDir(t), 'peers.json') });
  assert.throws(
    () => book.recordSuccess('nope'),
    (err: Error & { code?: string }) => err.code === 'ERR_INVALID_ARGUMENT',
  );
  // An ID of an unexpected shape is not stored; the proven address is.
  book.recordSuccess('10.0.0.1:1', 'bad id with spaces', 1);
  assert.deepEqual(book.entries(), [{ address: '10.0.0.1:1', lastSuccess: 1 }]);
  await book.close();
});
