/**
 * A mesh node in its own process, for the crash / restart tests. Starts a P2PNode with the
 * options given as JSON in argv[2] and prints one JSON line per event on stdout:
 * `started` (id, port), `peer-connected` / `peer-disconnected` (peer id, reason, peerCount),
 * `chat` (from, text). Commands on stdin, one per line: `broadcast <text>` and `peers` (prints
 * `peers` with the connected IDs). It exits when its stdin closes (the parent died).
 *
 * Usage: mesh-node.ts '<NodeOptions as JSON>'
 */
import { createInterface } from 'node:readline';
import { P2PNode } from '../../src/node.js';
import type { NodeOptions } from '../../src/options.js';
import { print } from './child-io.js';

const options = JSON.parse(process.argv[2] ?? '{}') as NodeOptions;

const node = new P2PNode(options);
node.on('peer-connected', (m) => print('peer-connected', { peer: m.peer.id, peerCount: m.peerCount }));
node.on('peer-disconnected', (m) =>
  print('peer-disconnected', { peer: m.peer.id, reason: m.reason, peerCount: m.peerCount }),
);
node.on('chat', (m) => print('chat', { from: m.from.id, text: m.text }));
await node.start();
print('started', { id: node.id, port: node.port });

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, ...rest] = line.split(' ');
  if (command === 'broadcast') {
    void node.broadcastMessage(rest.join(' ')).then((r) => print('broadcast', { sent: r.sent.length }));
  } else if (command === 'peers') {
    print('peers', { ids: node.getPeerInfo().peers.map((p) => p.id) });
  }
});
lines.on('close', () => {
  void node.close().then(() => process.exit(0));
});
