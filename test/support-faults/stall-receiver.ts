/**
 * A receiving peer in its own process, for the stalled-receiver tests: the parent SIGSTOPs it
 * (it reads nothing while stopped, so its kernel buffers fill and the sender must hold or refuse
 * data) and later SIGCONTs it. Starts a P2PNode with the options given as JSON in argv[2] and
 * prints one JSON line per event on stdout: `started` (id, port), `peer-connected`,
 * `peer-disconnected` (peer, reason), and for every BYTES message `recv` (from, seq: the
 * big-endian uint32 at offset 0, size). It checks that the sequence numbers from each sender only
 * increase and prints `order-error` otherwise. It exits when its stdin closes.
 *
 * Usage: stall-receiver.ts '<NodeOptions as JSON>'
 */
import { P2PNode } from '../../src/node.js';
import type { NodeOptions } from '../../src/options.js';
import { print, exitWhenStdinEnds } from './child-io.js';

const options = JSON.parse(process.argv[2] ?? '{}') as NodeOptions;

exitWhenStdinEnds();

const node = new P2PNode(options);
const last = new Map<string, number>();
node.on('peer-connected', (m) => print('peer-connected', { peer: m.peer.id }));
node.on('peer-disconnected', (m) => print('peer-disconnected', { peer: m.peer.id, reason: m.reason }));
node.on('bytes', (m) => {
  const seq = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).readUInt32BE(0);
  const before = last.get(m.from.id) ?? -1;
  if (seq <= before) print('order-error', { from: m.from.id, seq, after: before });
  last.set(m.from.id, seq);
  print('recv', { from: m.from.id, seq, size: m.data.byteLength });
});
await node.start();
print('started', { id: node.id, port: node.port });
