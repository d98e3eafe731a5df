/**
 * A raw mDNS peer inside a test namespace, with no meshwire logic: it prints every packet it
 * hears and sends whatever response the test hands it (forgeries, replays).
 *   stdout: { ev: 'ready' }, { ev: 'packet', hex, from }
 *   stdin:  `send {"instance","port","txt","addresses","ttl"}` (see ResponseParts)
 */
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import makeMdns from 'multicast-dns';
import { buildResponse, type ResponseParts } from '../../src/discovery/lan/packets.js';

const ifaceIp = process.argv[2]!;
const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
socket.on('message', (msg: Buffer, rinfo) =>
  print({ ev: 'packet', hex: msg.toString('hex'), from: rinfo.address }),
);
const mdns = makeMdns({ socket, interface: ifaceIp, bind: '0.0.0.0', loopback: false });
mdns.on('ready', () => print({ ev: 'ready' }));
mdns.on('warning', () => undefined);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  if (!line.startsWith('send ')) return;
  const parts = JSON.parse(line.slice(5)) as ResponseParts;
  (mdns as unknown as { send(p: unknown, cb: () => void): void }).send(buildResponse(parts), () =>
    print({ ev: 'sent' }),
  );
});
lines.on('close', () => mdns.destroy(() => process.exit(0)));
