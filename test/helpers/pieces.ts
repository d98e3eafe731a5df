/**
 * Helpers of the FileShare tests: secure nodes on loopback with a FileShare each, connecting
 * them, random files, and a bounded wait on a FileShare event. Everything registers its cleanup.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { P2PNode } from '../../src/node.js';
import { FileShare, type FileShareOptions } from '../../src/files/index.js';
import type { FileShareEvents } from '../../src/files/pieces/types.js';
import type { NodeOptions } from '../../src/options.js';
import { addressOf, createTestNode, waitFor } from './nodes.js';

export const MiB = 1024 * 1024;

/** SHA-256 of `data`, hex. */
export const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** A temporary folder removed after the test. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-pieces-'));
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 10 }));
  return dir;
}

/** A secure node and its FileShare. */
export interface SharePeer {
  node: P2PNode;
  share: FileShare;
  dir: string;
}

/**
 * A secure node with a FileShare under `<root>/<name>`. The share is constructed before the node
 * starts (the order that misses nothing); `startShare: false` leaves `share.start()` to the test.
 */
export async function sharePeer(
  t: TestContext,
  root: string,
  name: string,
  options: FileShareOptions = {},
  extra: { startShare?: boolean; node?: NodeOptions } = {},
): Promise<SharePeer> {
  const dir = path.join(root, name);
  const node = createTestNode(t, {
    mode: 'secure',
    name,
    keyFile: path.join(root, `${name}.key`),
    autoConnectMax: 0,
    peerTimeoutMs: 60_000,
    ...extra.node,
  });
  const share = new FileShare(node, { downloadsDir: dir, ...options });
  t.after(() => share.close());
  await node.start();
  if (extra.startShare !== false) await share.start();
  return { node, share, dir };
}

/** `a` dials `b`; resolves once `b` has it as a peer. */
export async function connect(a: P2PNode, b: P2PNode): Promise<void> {
  const accepted = waitFor(b, 'peer-connected', (m) => m.peer.id === a.id);
  await a.connectToPeer(addressOf(b));
  await accepted;
}

/** Writes `size` random bytes to `<dir>/<name>`. */
export async function randomFile(
  dir: string,
  name: string,
  size: number,
): Promise<{ file: string; data: Buffer }> {
  const data = randomBytes(size);
  const file = path.join(dir, name);
  await writeFile(file, data);
  return { file, data };
}

/** The next `event` of `share` for which `pred` holds; rejects after `timeoutMs`. */
export function nextShareEvent<K extends keyof FileShareEvents>(
  share: FileShare,
  event: K,
  pred: (e: FileShareEvents[K]) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<FileShareEvents[K]> {
  return new Promise((resolve, reject) => {
    const listener = (e: FileShareEvents[K]): void => {
      if (!pred(e)) return;
      clearTimeout(timer);
      share.off(event, listener);
      resolve(e);
    };
    const timer = setTimeout(() => {
      share.off(event, listener);
      reject(new Error(`timed out waiting for ${String(event)}`));
    }, timeoutMs);
    share.on(event, listener);
  });
}
