import os from 'node:os';
import { formatAddress, isWildcardHost } from '../address.js';
import type { ResolvedOptions } from '../options.js';
import type { PeerBook } from './peer-book.js';

/**
 * The addresses this node can be reached on, so that discovery never dials itself, and the
 * address it advertises to each peer: the bound host, else the local address of that
 * connection (reachable by the peer, unlike the original's hard-coded `localhost`).
 */
export class SelfAddresses {
  readonly #options: ResolvedOptions;
  readonly #book: PeerBook;
  readonly #addresses = new Set<string>();

  constructor(options: ResolvedOptions, book: PeerBook) {
    this.#options = options;
    this.#book = book;
  }

  /** Records every `host:port` the node listens on: its bound host, or every interface for a wildcard bind. */
  rememberListening(port: number): void {
    const { host, advertiseHost } = this.#options;
    const hosts = new Set<string>(['localhost', host]);
    if (isWildcardHost(host)) {
      for (const list of Object.values(os.networkInterfaces())) {
        for (const info of list ?? []) hosts.add(info.address);
      }
    }
    for (const h of hosts) if (!isWildcardHost(h)) this.#addresses.add(formatAddress(h, port));
    if (advertiseHost) this.#addresses.add(formatAddress(advertiseHost, port));
  }

  /** The address to advertise on a connection (and remember as our own). */
  advertisedFor(localHost: string, port: number): string {
    const { host: bound, advertiseHost } = this.#options;
    const host = advertiseHost ?? (isWildcardHost(bound) ? localHost : bound);
    const address = formatAddress(host, port);
    this.#addresses.add(address);
    return address;
  }

  /** True when `address` is this node's (known statically, or learnt from a self-dial). */
  has(address: string): boolean {
    return this.#addresses.has(address) || this.#book.isSelf(address);
  }
}
