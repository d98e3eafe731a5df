/**
 * A FileShare peer (secure mode, piece protocol) in its own process, for the SIGKILL resume
 * tests. Prints JSON lines on stdout; exits when its stdin closes (the parent died).
 *
 * Usage: piece-peer.ts serve <keyFile> <dir> <connectPort|-> <filePath|->
 *        piece-peer.ts fetch <keyFile> <dir> <connectPort|-> <root|->
 * `serve` shares `filePath` (or serves what it shared before a restart when `-`); `fetch` fetches
 * `root` (or only resumes what its state folder holds when `-`).
 */
import { P2PNode } from '../../src/node.js';
import { FileShare, signerFromPrivateKey } from '../../src/files/index.js';
import { loadOrCreateIdentity } from '../../src/secure/identity.js';
import { print, exitWhenStdinEnds } from './child-io.js';

const [role, keyFile, dir, connectPort, target] = process.argv.slice(2);
if ((role !== 'serve' && role !== 'fetch') || !keyFile || !dir || !connectPort || !target) {
  console.error('usage: piece-peer.ts serve|fetch <keyFile> <dir> <connectPort|-> <filePath|root|->');
  process.exit(2);
}

exitWhenStdinEnds();

const node = new P2PNode({
  host: '127.0.0.1',
  port: 0,
  mode: 'secure',
  keyFile,
  autoConnectMax: 0,
  maintenanceIntervalMs: 60_000,
  discoveryIntervalMs: 60_000,
});
await node.start();
const identity = await loadOrCreateIdentity(keyFile);
const share = new FileShare(node, {
  downloadsDir: dir,
  signer: signerFromPrivateKey(identity.privateKey),
  window: 4,
  // Small batches: the test checks how much is fetched again after a kill.
  stateBatchPieces: 4,
  stateFlushMs: 100,
});
share.on('download-start', ({ download, resumed }) => {
  if (resumed) print('resumed', { bytesDone: download.bytesDone });
});
share.on('download-progress', ({ download }) => {
  print('progress', { bytesDone: download.bytesDone, pieces: download.pieces, done: download.piecesDone });
});
share.on('download-complete', ({ download, path }) => {
  print('complete', { path, bytesThisSession: download.bytesThisSession });
});
share.on('warning', ({ error }) => print('warning', { message: error.message }));
await share.start();
print('ready', { port: node.port, id: node.id });
if (role === 'serve' && target !== '-') {
  const offer = await share.shareFile(target);
  print('shared', { root: offer.rootHex, pieceLength: offer.pieceLength });
}
if (connectPort !== '-') {
  await node.connectToPeer(`127.0.0.1:${connectPort}`);
  print('connected');
}
if (role === 'fetch' && target !== '-') void share.fetchFile(target).catch(() => undefined);
