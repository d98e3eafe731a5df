/**
 * Resume after SIGKILL (issue 14): the receiver, and separately the sender, is a child process
 * killed in the middle of a transfer and started again with the same key and folder. The
 * transfer resumes by itself, the file's SHA-256 matches, and the receiver fetches again no more
 * than what was in flight when it died.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { FileShare, signerFromPrivateKey } from '../src/files/index.js';
import { loadOrCreateIdentity } from '../src/secure/identity.js';
import { startNode, waitFor } from './helpers/nodes.js';
import { ChildPeer } from './support-faults/child.js';

const TEST = { timeout: 90_000 };
const MiB = 1024 * 1024;
const SIZE = 48 * MiB;
const WINDOW = 4;
const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-pieces-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  return dir;
}

/** An in-process secure node with a FileShare. */
async function localPeer(t: TestContext, root: string, name: string) {
  const keyFile = path.join(root, `${name}.key`);
  const node = await startNode(t, {
    mode: 'secure',
    name,
    keyFile,
    autoConnectMax: 0,
    peerTimeoutMs: 60_000,
  });
  const identity = await loadOrCreateIdentity(keyFile);
  const share = new FileShare(node, {
    downloadsDir: path.join(root, name),
    signer: signerFromPrivateKey(identity.privateKey),
    window: WINDOW,
  });
  t.after(() => share.close());
  await share.start();
  return { node, share };
}

describe('resume after SIGKILL', () => {
  it('of the receiver: it resumes when restarted and re-fetches at most the window', TEST, async (t) => {
    const root = await tempDir(t);
    const source = await localPeer(t, root, 'source');
    const data = randomBytes(SIZE);
    const file = path.join(root, 'data.bin');
    await writeFile(file, data);
    const offer = await source.share.shareFile(file);
    const keyFile = path.join(root, 'rx.key');
    const dir = path.join(root, 'rx');
    const args = [keyFile, dir, String(source.node.port)];

    const first = ChildPeer.spawn(t, 'piece-peer.ts', ['fetch', ...args, offer.rootHex], 'receiver');
    const progressed = await first.waitFor('progress', (e) => Number(e.bytesDone) >= SIZE / 4, 30_000);
    await first.kill();
    // What the receiver had verified and written when it died: at least what it last reported.
    const last = first.events.filter((e) => e.event === 'progress').at(-1)!;
    const before = Number(last.bytesDone);
    assert.ok(
      before >= Number(progressed.bytesDone) && before < SIZE,
      `${before} of ${SIZE} before the kill`,
    );

    const again = ChildPeer.spawn(t, 'piece-peer.ts', ['fetch', ...args, '-'], 'receiver, restarted');
    const resumed = await again
      .waitFor('resumed', () => true, 30_000)
      .catch((err: Error) => {
        throw new Error(
          `${err.message}; first run printed ${JSON.stringify(first.events.slice(-3))}; restart printed ${JSON.stringify(again.events.slice(0, 5))}`,
        );
      });
    assert.ok(
      Number(resumed.bytesDone) >= before,
      `resumed with ${String(resumed.bytesDone)}, had ${before}`,
    );
    const done = await again.waitFor('complete', () => true, 60_000);
    assert.equal(sha(await readFile(String(done.path))), sha(data));
    const refetched = Number(done.bytesThisSession) - (SIZE - Number(resumed.bytesDone));
    t.diagnostic(
      `verified before the kill ${before}, after restart ${String(resumed.bytesDone)}, fetched again ${refetched} bytes`,
    );
    // Pieces in flight when it died are the only ones fetched again.
    assert.ok(Number(done.bytesThisSession) <= SIZE - before + (WINDOW + 1) * offer.pieceLength);
  });

  it('of the sender: the receiver waits, and continues when the sender is back', TEST, async (t) => {
    const root = await tempDir(t);
    const rx = await localPeer(t, root, 'rx');
    const data = randomBytes(SIZE);
    const file = path.join(root, 'data.bin');
    await writeFile(file, data);
    const keyFile = path.join(root, 'tx.key');
    const dir = path.join(root, 'tx');

    const first = ChildPeer.spawn(
      t,
      'piece-peer.ts',
      ['serve', keyFile, dir, String(rx.node.port), file],
      'sender',
    );
    const shared = await first.waitFor('shared', () => true, 30_000);
    await first.waitFor('connected');
    const paused = new Promise<void>((resolve) => rx.share.once('download-paused', () => resolve()));
    let killed = false;
    rx.share.on('download-progress', ({ download }) => {
      if (!killed && download.bytesDone >= SIZE / 4) {
        killed = true;
        void first.kill();
      }
    });
    const fetched = rx.share.fetchFile(String(shared.root));
    await paused;
    assert.ok(killed);
    const d = rx.share.download(String(shared.root));
    assert.ok(d && d.bytesDone < SIZE && d.status === 'waiting');

    // The sender comes back with the same key and folder: it serves its share again unprompted.
    const back = waitFor(rx.node, 'peer-connected', () => true, 30_000);
    ChildPeer.spawn(
      t,
      'piece-peer.ts',
      ['serve', keyFile, dir, String(rx.node.port), '-'],
      'sender, restarted',
    );
    await back;
    assert.equal(sha(await readFile(await fetched)), sha(data));
  });
});
