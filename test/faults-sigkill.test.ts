/**
 * Fault: the sending peer of a file dies (SIGKILL, no goodbye, no FIN from the application) in
 * the middle of a transfer. The receiver must leave nothing behind (no file under a final name,
 * its `.part` deleted), report the failure, and keep working for the next sender.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FileReceiver, sendFile, type FileReceiverEvents } from '../src/files/index.js';
import { addressOf, MODES, startNode } from './helpers/nodes.js';
import { tempDir } from './helpers/temp-dir.js';
import { ChildPeer } from './support-faults/child.js';
import { nextEvent } from './helpers/wait.js';

/** Big enough that the transfer is surely still running when the kill lands (sparse: no disk I/O). */
const BIG_FILE_BYTES = 128 * 1024 * 1024;

function fileEvent<K extends keyof FileReceiverEvents>(
  receiver: FileReceiver,
  type: K,
  match: (e: FileReceiverEvents[K]) => boolean = () => true,
  timeoutMs = 15_000,
): Promise<FileReceiverEvents[K]> {
  return nextEvent<K, FileReceiverEvents[K]>(receiver, type, match, timeoutMs);
}

describe('SIGKILL of a sending peer mid-transfer', () => {
  for (const mode of MODES) {
    test(
      `no partial file is left and the receiver keeps working (${mode})`,
      { timeout: 30_000 },
      async (t) => {
        const dir = await tempDir(t, 'meshwire-faults-');
        const downloads = path.join(dir, 'downloads');
        const big = path.join(dir, 'big.bin');
        const fh = await open(big, 'w');
        await fh.truncate(BIG_FILE_BYTES);
        await fh.close();

        const node = await startNode(t, { mode, maintenanceIntervalMs: 100, peerTimeoutMs: 10_000 });
        const receiver = new FileReceiver(node, { downloadsDir: downloads });
        t.after(() => receiver.close());
        await receiver.start();
        const errors: FileReceiverEvents['file-error'][] = [];
        receiver.on('file-error', (e) => errors.push(e));

        const started = fileEvent(receiver, 'file-start', (e) => e.name === 'big.bin');
        const progress = fileEvent(receiver, 'file-progress', (e) => e.name === 'big.bin');
        const failed = fileEvent(receiver, 'file-error', (e) => e.name === 'big.bin');
        const sender = ChildPeer.spawn(
          t,
          'file-sender.ts',
          [mode, String(node.port), big],
          `sender (${mode})`,
        );

        const { finalPath } = await started;
        assert.ok(finalPath, 'file-start names the final path');
        const first = await progress;
        assert.ok(first.bytesReceived < BIG_FILE_BYTES);
        await sender.kill();
        assert.equal((await sender.exited).signal, 'SIGKILL');
        assert.ok(!sender.events.some((e) => e.event === 'done'), 'killed before it finished');
        assert.ok(
          sender.events.some((e) => e.event === 'progress'),
          'the child was sending when it was killed',
        );

        const error = await failed;
        assert.equal(error.error.code, 'ERR_CONNECTION_CLOSED', error.error.message);
        assert.equal(receiver.activeTransfers, 0);
        // Nothing under the final name, no `.part`: the downloads directory is empty again.
        assert.deepEqual(await readdir(downloads), []);
        assert.equal(
          errors.filter((e) => e.name === 'big.bin').length,
          1,
          'exactly one file-error for the transfer',
        );
        await assert.rejects(readFile(finalPath), { code: 'ENOENT' });
        await assert.rejects(readFile(`${finalPath}.part`), { code: 'ENOENT' });

        // The receiver still serves a legitimate sender, to the very name the dead one had reserved.
        const good = path.join(dir, 'big.bin');
        const content = randomBytes(3 * 256 * 1024 + 12_345);
        await rm(good);
        await writeFile(good, content);
        const other = await startNode(t, { mode });
        const peer = await other.connectToPeer(addressOf(node));
        const complete = fileEvent(receiver, 'file-complete', (e) => e.name === 'big.bin');
        const result = await sendFile(other, good, { to: peer.id });
        assert.deepEqual(result.sent, [peer.id]);
        const done = await complete;
        assert.equal(done.path, path.join(downloads, 'big.bin'));
        assert.equal(done.sha256, createHash('sha256').update(content).digest('hex'));
        assert.ok((await readFile(done.path)).equals(content));
        assert.deepEqual(await readdir(downloads), ['big.bin']);
      },
    );
  }
});
