/**
 * The `--help` text, and "did you mean" for a mistyped flag.
 */

/** The `--help` text. */
export const USAGE = `Usage: meshwire [options] <port> [host:port]
       meshwire keygen --network

Runs a meshwire node listening on <port> (0 picks a free one) and, if [host:port] is
given, joins the network through that peer. Type chat messages or commands on stdin.
\`meshwire keygen --network\` prints a new random network key (256 bits).

Options:
  --name <name>               display name shown to peers (default: the short ID)
  --debug                     also show heartbeat and peer-exchange traffic
  --compat                    speak the original Go protocol: plaintext, no authentication
  --network-key <key>         shared secret; peers without it are refused (secure mode)
  --network-key-file <file>   read the network key from a file (must be mode 0600)
  --key-file <file>           identity key file (default: .meshwire/node-<port>.key;
                              with port 0 the identity is ephemeral)
  --downloads <dir>           where received files are stored (default: ./downloads); secure-mode
                              downloads interrupted by a crash resume when started again with it
  --accept-files <policy>     files peers offer: all (default), none, or ask (y/n on the input,
                              refused after 60 s); secure mode
  --max-peers <n>             most connected peers (default: 10)
  --overlay                   gossip overlay (secure mode): every chat reaches the whole network,
                              past --max-peers connections (HyParView + Plumtree)
  --lan                       find and announce peers on the local network (mDNS); off by default
  --lan-interface <name>      limit --lan to this interface (repeat for more)
  --peer-book <file>          remember peers proven by a dial, redial them at start
                              (default: .meshwire/peers-<port>.json; none with port 0)
  --no-peer-book              do not remember peers
  --web <port>                serve the live dashboard on 127.0.0.1:<port> (0 picks one)
  --metrics <port>            serve Prometheus metrics on 127.0.0.1:<port> (0 picks one)
  --json                      print one JSON object per line per event, for scripts
  --no-input                  never read stdin; run until SIGINT/SIGTERM (a service). This is
                              also what happens when stdin is not a terminal and ends
  -h, --help                  show this help and exit
  -v, --version               print the version and exit

Advanced:
  --host <addr>               address to listen on (default: 0.0.0.0)
  --advertise-host <host>     host other peers should dial to reach this node
  --rate-limit <size>         cap the /send upload rate, and what /share serves each peer,
                              bytes per second (e.g. 512K, 2M)
  --max-file-size <size>      refuse incoming files larger than this (default: 4G)
  --discovery-interval <ms>   peer discovery period (default: 30000)
  --maintenance-interval <ms> heartbeat and stale-peer check period (default: 15000)
  --peer-timeout <ms>         drop a peer silent for this long (default: 60000)
  --connection-timeout <ms>   connect + handshake time limit (default: 10000)
  --bootstrap-retry <ms,...>  delays between bootstrap attempts (default: 1000,2000,4000,8000,16000)

Commands (type them while the node runs):
  /peers                      connected peers (name, ID, address, last seen, RTT) and known peers
  /connect <host:port>        connect to a peer
  /discover                   ask every peer for its peers now
  /send <file> [peer]         send a file to all peers, or to one (by name or ID prefix); in
                              secure mode they pull it (verified, resumable, --accept-files)
  /share <file>               announce a file you hold and print its root (secure mode)
  /get <root-prefix>          fetch an offered file from every peer that has it (secure mode)
  /files [--json]             downloads (active, paused, failed), shared files, offers seen
  /quit                       leave the network and exit (also Ctrl-C, Ctrl-D)
  /help                       list the commands
  <text>                      chat with every peer (start with // to send a line beginning with /)

Environment:
  MESHWIRE_NETWORK_KEY        network key, when neither --network-key nor --network-key-file is given
  NO_COLOR                    disable colours
  FORCE_COLOR                 colours even when stdout is not a terminal (0: never)

Examples:
  meshwire --name alice 8001
  meshwire --name bob 8002 localhost:8001
  (umask 077; meshwire keygen --network > net.key)
  meshwire --network-key-file net.key 8003 localhost:8002
`;

/** A one-line usage error: the problem, then where to find help. */
export function usageError(message: string): string {
  return `meshwire: ${message}\nTry 'meshwire --help' for more information.\n`;
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short strings. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/**
 * The known flag closest to `typed` (`--nmae` -> `--name`, `--max-peer` -> `--max-peers`,
 * `-name` -> `--name`), or `undefined` when none is close enough to be a likely typo.
 */
export function suggestFlag(typed: string, known: readonly string[]): string | undefined {
  const bare = typed.replace(/^-+/, '').split('=')[0]?.toLowerCase() ?? '';
  if (bare === '') return undefined;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of known) {
    const score = name.startsWith(bare) && bare.length >= 3 ? 0.5 : distance(bare, name);
    if (score < bestDistance) {
      best = name;
      bestDistance = score;
    }
  }
  const allowed = Math.max(1, Math.floor(bare.length / 3));
  return best !== undefined && bestDistance <= allowed ? `--${best}` : undefined;
}
