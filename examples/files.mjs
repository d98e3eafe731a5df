// Verified file transfer between two nodes: `node examples/files.mjs`.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { P2PNode } from 'meshwire';
import { FileReceiver, sendFile } from 'meshwire/files';

const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-example-'));
const file = path.join(dir, 'report.txt');
await writeFile(file, 'quarterly numbers\n'.repeat(10_000));

const alice = new P2PNode({ name: 'alice', port: 0, host: '127.0.0.1' });
const bob = new P2PNode({ name: 'bob', port: 0, host: '127.0.0.1' });
const receiver = new FileReceiver(alice, { downloadsDir: path.join(dir, 'downloads') });
receiver.on('file-error', (f) => console.error(f.error.code, f.error.message));
const receiverReady = receiver.start(); // subscribes before alice accepts anyone
await alice.start();
await receiverReady;
await bob.start();

const connected = bob.waitFor('peer-connected', { timeoutMs: 5000 });
await bob.connectToPeer(`127.0.0.1:${alice.port}`);
await connected;

const complete = receiver.waitFor('file-complete', { timeoutMs: 10_000 });
const result = await sendFile(bob, file, { to: alice.id }); // { name, size, sha256, sent, failed }
const received = await complete;
console.log(`sent ${result.name} (${result.size} bytes) to ${result.sent.length} peer`);
console.log(
  `received ${received.name} from ${received.from.name}, sha256 matches: ${received.sha256 === result.sha256}`,
);

await bob.close();
await receiver.close();
await alice.close();
await rm(dir, { recursive: true, force: true });
