/**
 * File safety through the real CLI: hostile names from the network never write outside the
 * downloads folder, and a sender killed mid-transfer leaves neither a final file nor a `.part`.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import { P2PNode } from '../src/index.js';
import { Cli, FAST, startMesh, tempDir } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };

/** Every file under `dir`, as paths relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

it('a hostile FILESTART name writes nothing outside the downloads folder', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const cwd = path.join(dir, 'victim');
  await mkdir(cwd);
  const cli = new Cli([...FAST, '--compat', '--name', 'victim', '0'], {
    cwd,
    cleanup: (fn) => t.after(fn),
    label: 'victim',
  });
  const port = await cli.port();

  const mallory = new P2PNode({ mode: 'compat', host: '127.0.0.1', port: 0, name: 'mallory' });
  t.after(() => mallory.close());
  await mallory.start();
  const victim = await mallory.connectToPeer(`127.0.0.1:${port}`);

  const content = Buffer.from('owned');
  const sha = createHash('sha256').update(content).digest('hex');
  const names = ['../escape.txt', '..\\escape.txt', `${path.join(dir, 'escape.txt')}`, '..'];
  for (const name of names) {
    const since = cli.mark();
    await mallory.sendBytesToPeer(victim.id, Buffer.from(`FILESTART:${name}|${content.length}|${sha}\n`));
    await mallory.sendBytesToPeer(victim.id, Buffer.concat([Buffer.from(`FILECHUNK:${name}\n`), content]));
    await mallory.sendBytesToPeer(victim.id, Buffer.from(`FILEEND:${name}|${sha}\n`));
    const refused = await cli.waitForType('file-error', (e) => e.name === name, { since });
    assert.equal((refused.error as { code: string }).code, 'ERR_FILE_NAME');
  }
  // Barrier: the chat line follows the file frames on the same connection.
  await mallory.broadcastMessage('done');
  await cli.waitForType('chat', (e) => e.text === 'done');

  assert.ok(!cli.events.some((e) => e.type === 'file-start' || e.type === 'file-complete'));
  assert.deepEqual(await listFiles(dir), [], 'no file anywhere in the test directory');
});

it('compat: killing the sender mid-transfer leaves no final file and no .part', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  // The sender is paced to 256 KiB/s, so a 1 MiB file takes ~4 s: ample time to kill it.
  // (The original's push frames: in secure mode /send is resumable instead.)
  const [sender, bob, charlie] = (await startMesh(
    ['sender', 'bob', 'charlie'],
    dir,
    (fn) => t.after(fn),
    (name) => (name === 'sender' ? ['--compat', '--rate-limit', '256K'] : ['--compat']),
  )) as [Cli, Cli, Cli];
  await writeFile(path.join(sender.cwd, 'big.bin'), randomBytes(1024 * 1024));

  sender.send('/send big.bin');
  await Promise.all(
    [bob, charlie].map((node) => node.waitForType('file-progress', (e) => e.name === 'big.bin')),
  );
  // The transfer really is in flight: each receiver holds a .part file.
  for (const node of [bob, charlie]) {
    assert.deepEqual(await readdir(path.join(node.cwd, 'downloads')), ['big.bin.part']);
  }
  sender.child.kill('SIGKILL');

  for (const node of [bob, charlie]) {
    const failed = await node.waitForType('file-error', (e) => e.name === 'big.bin');
    assert.equal((failed.error as { code: string }).code, 'ERR_CONNECTION_CLOSED');
    assert.ok(!node.events.some((e) => e.type === 'file-complete'));
    assert.deepEqual(await readdir(path.join(node.cwd, 'downloads')), []);
  }
});
