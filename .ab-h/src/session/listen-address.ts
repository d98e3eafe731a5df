import { formatAddress, isLoopbackHost, isWildcardHost, tryParseAddress } from '../address.js';

/**
 * The address a listening peer can be dialled on, from the listen address it states (its hello
 * or LISTEN line) and the socket's remote address. A peer behind a real interface that announces
 * `localhost:<port>` or a wildcard (as the original always does) is reachable at its socket's IP
 * instead. The result is a hint for discovery, never a binding of the address to the peer's ID.
 */
export function reachableListenAddress(listen: string, remoteAddress: string): string {
  // A LISTEN line is untrusted text: anything that is not host:port would poison the peer lists
  // this node shares, so the socket's own address stands in for it.
  const stated = tryParseAddress(listen);
  if (!stated) return remoteAddress;
  const remote = tryParseAddress(remoteAddress);
  const local = isLoopbackHost(stated.host) || isWildcardHost(stated.host);
  if (local && remote && remote.host !== 'localhost' && !isLoopbackHost(remote.host)) {
    return formatAddress(remote.host, stated.port);
  }
  return listen;
}
