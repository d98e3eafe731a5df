import dgram from 'node:dgram';
import makeMdns from 'multicast-dns';
import type { Packet } from 'dns-packet';
import { MeshwireError } from '../../errors.js';
import type { LanInterface } from './interfaces.js';

const MDNS_GROUP = '224.0.0.251';
const RECEIVE_BUFFER_BYTES = 1 << 20;

/** A multicast-dns instance; `send` exists on it but not in its type definitions. */
export type MdnsSocket = makeMdns.MulticastDNS & {
  send(packet: Packet, cb: (err?: Error | null) => void): void;
};

/**
 * Opens the mDNS socket of one interface: bound to the wildcard address (a socket bound to a
 * unicast address receives no multicast), joined to the group on `iface`, sending through it,
 * with multicast loopback on (several nodes may share a host). `onBytes` sees every datagram's
 * size before it is parsed.
 *
 * @throws MeshwireError `ERR_DISCOVERY_SOCKET` when the socket cannot be bound.
 */
export async function openMdnsSocket(
  iface: LanInterface,
  port: number,
  onBytes: (bytes: number) => void,
): Promise<MdnsSocket> {
  const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  socket.on('message', (msg: Buffer) => onBytes(msg.length));
  const mdns = makeMdns({
    socket,
    interface: iface.ipv4,
    bind: '0.0.0.0',
    port,
    ip: MDNS_GROUP,
    multicast: true,
    loopback: true,
    ttl: 255,
  }) as MdnsSocket;
  await new Promise<void>((resolve, reject) => {
    mdns.once('ready', resolve);
    mdns.once('error', (err: Error) =>
      reject(
        new MeshwireError('ERR_DISCOVERY_SOCKET', `mDNS socket on ${iface.name}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
  });
  mdns.removeAllListeners('error');
  try {
    // A LAN of nodes answering one query at once arrives as a burst: room for it.
    socket.setRecvBufferSize(RECEIVE_BUFFER_BYTES);
  } catch {
    // Capped by the system (net.core.rmem_max): the default still works, with more retries.
  }
  return mdns;
}
