/**
 * Which network interfaces LAN discovery uses: one socket per multicast-capable interface with
 * an IPv4 address. Loopback is used only when named explicitly.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { MeshwireError } from '../../errors.js';

/** One interface LAN discovery sends and listens on. */
export interface LanInterface {
  name: string;
  /** The IPv4 address the multicast socket is bound to (its first). */
  ipv4: string;
  /** The IPv4 netmask of `ipv4`, to tell which interface a packet came in on. */
  netmask: string;
  /** Every address announced on it: IPv4 first, then global or unique-local IPv6 (link-local has no use without a scope). */
  addresses: string[];
}

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_MULTICAST = 0x1000;

/** Linux interface flags, or undefined where /sys does not tell. */
function linuxFlags(name: string): number | undefined {
  if (process.platform !== 'linux' || !/^[\w.@-]{1,15}$/.test(name)) return undefined;
  try {
    return parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
  } catch {
    return undefined;
  }
}

function describe(name: string, infos: os.NetworkInterfaceInfo[]): LanInterface | undefined {
  const v4 = infos.filter((i) => i.family === 'IPv4');
  if (v4.length === 0) return undefined;
  const v6 = infos.filter(
    (i) => i.family === 'IPv6' && !i.address.toLowerCase().startsWith('fe80') && !i.internal,
  );
  return {
    name,
    ipv4: v4[0]!.address,
    netmask: v4[0]!.netmask,
    addresses: [...v4, ...v6].map((i) => i.address).slice(0, 8),
  };
}

/**
 * The interfaces to use. With `names`, exactly those (each must exist and have IPv4, else
 * `ERR_INVALID_OPTION` naming it); without, every interface that is up, multicast-capable, not
 * loopback and has IPv4.
 */
export function selectInterfaces(names?: readonly string[]): LanInterface[] {
  const all = os.networkInterfaces();
  if (names) {
    return names.map((name) => {
      const found = all[name] ? describe(name, all[name]!) : undefined;
      if (!found)
        throw new MeshwireError(
          'ERR_INVALID_OPTION',
          `invalid option interfaces: ${JSON.stringify(name)} is not an interface with an IPv4 address`,
        );
      return found;
    });
  }
  const out: LanInterface[] = [];
  for (const [name, infos] of Object.entries(all)) {
    if (!infos || infos.some((i) => i.internal)) continue;
    const flags = linuxFlags(name);
    if (flags !== undefined && (!(flags & IFF_UP) || !(flags & IFF_MULTICAST) || flags & IFF_LOOPBACK))
      continue;
    const found = describe(name, infos);
    if (found) out.push(found);
  }
  return out;
}

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

/** True when IPv4 `ip` lies in `iface`'s subnet. */
export function onInterface(ip: string, iface: LanInterface): boolean {
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return false;
  const mask = ipv4ToInt(iface.netmask);
  return (ipv4ToInt(ip) & mask) === (ipv4ToInt(iface.ipv4) & mask);
}
