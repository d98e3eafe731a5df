/**
 * A sending peer in its own process, for the SIGKILL test: starts a node, connects to the
 * receiver, sends one file with `sendFile`, and prints JSON lines on stdout (`connected`,
 * `progress` after each chunk, `done`). It exits when its stdin closes (the parent died).
 *
 * Usage: file-sender.ts <mode> <receiverPort> <filePath>
 */
import { P2PNode } from '../../src/node.js';
import { sendFile } from '../../src/files/index.js';
import type { Mode } from '../../src/options.js';
import { print, exitWhenStdinEnds } from './child-io.js';

const [mode, port, filePath] = process.argv.slice(2);
if (!mode || !port || !filePath) {
  console.error('usage: file-sender.ts <mode> <receiverPort> <filePath>');
  process.exit(2);
}

exitWhenStdinEnds();

const node = new P2PNode({
  host: '127.0.0.1',
  port: 0,
  mode: mode as Mode,
  maintenanceIntervalMs: 60_000,
  discoveryIntervalMs: 60_000,
});
await node.start();
const peer = await node.connectToPeer(`127.0.0.1:${port}`);
print('connected', { id: node.id, peer: peer.id });
const result = await sendFile(node, filePath, {
  to: peer.id,
  onProgress: (p) => print('progress', { bytesSent: p.bytesSent, totalBytes: p.totalBytes }),
});
print('done', { size: result.size, sent: result.sent.length });
