// Two meshwire nodes in one process: connect, chat, send bytes, close.
// Runs as is: `node examples/quickstart.mjs` (after `npm install meshwire`).
import { P2PNode } from 'meshwire';

// Port 0 picks a free port; host 127.0.0.1 keeps the example on this machine.
const alice = new P2PNode({ name: 'alice', port: 0, host: '127.0.0.1' });
const bob = new P2PNode({ name: 'bob', port: 0, host: '127.0.0.1' });

alice.on('chat', (m) => console.log(`[${m.from.name}] ${m.text}`));
alice.on('bytes', (m) => console.log(`[BYTES] ${m.data.length} bytes from ${m.from.name}`));
alice.on('error', (m) => console.error(m.error.code, m.error.message)); // never crashes the process

await alice.start(); // listen + discovery and maintenance timers
await bob.start();

// Bob joins the network through Alice; wait until Alice sees him.
const connected = alice.waitFor('peer-connected', { timeoutMs: 5000 });
await bob.connectToPeer(`127.0.0.1:${alice.port}`);
const { peer } = await connected;
console.log(`${peer.name} connected to alice (${alice.getPeerInfo().peers.length} peer)`);

// Sends resolve once queued; waitFor resolves when Alice has received.
const chat = alice.waitFor('chat', { timeoutMs: 5000 });
const report = await bob.broadcastMessage('Hello network!'); // { sent: [ids], failed: [...] }
await chat;
console.log(`chat sent to ${report.sent.length} peer, failed for ${report.failed.length}`);

const bytes = alice.waitFor('bytes', { timeoutMs: 5000 });
await bob.sendBytesToPeer(alice.id, new TextEncoder().encode('custom protocol data'));
await bytes;

await bob.close(); // says goodbye to every peer
await alice.close();
console.log('done');
