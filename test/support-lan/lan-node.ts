/**
 * LAN discovery instances (`count`, default 1) in one process, run inside a test namespace.
 * argv[2]: JSON config. Prints one JSON object per line on stdout:
 *   { ev: 'created', ids: [...] }            instances made, waiting for `start` (deferStart)
 *   { ev: 'ready', ids: [...] }              all instances started
 *   { ev: 'candidate', i, id, address }      instance i found a peer address
 *   { ev: 'gone', i, id, reason }            instance i dropped a peer
 *   { ev: 'counters', counters: [...] }      answer to the `counters` command
 *   { ev: 'peers', peers: [...] }            answer to `peers`: each instance's LanPeer list
 *   { ev: 'closed', i }                      answer to `close [i]` (goodbye sent)
 *   { ev: 'cpu', ms }                        answer to `cpu`: CPU time used since `start`
 * Commands on stdin, one per line: `start`, `cpu`, `counters`, `peers`, `close` (all, then exit), `close i`.
 */
import { createInterface } from 'node:readline';
import { identitySigner, LanDiscovery, type LanDiscoveryOptions } from '../../src/discovery/lan/index.js';
import { createIdentity } from '../../src/secure/identity.js';

interface Config {
  mode?: 'secure' | 'compat';
  count?: number;
  networkKey?: string;
  port?: number;
  options?: Partial<LanDiscoveryOptions>;
  /** Create the instances, print `created`, and start them only on the `start` command. */
  deferStart?: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as Config;
const print = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');
const mode = config.mode ?? 'secure';
const instances: LanDiscovery[] = [];
const ids: string[] = [];
for (let i = 0; i < (config.count ?? 1); i++) {
  const signer = mode === 'secure' ? identitySigner(await createIdentity()) : undefined;
  const id = signer ? signer.id : `compat-${process.pid}-${i}`;
  ids.push(id);
  instances.push(
    new LanDiscovery({
      mode,
      port: (config.port ?? 7000) + i,
      ...(signer ? { signer } : { id }),
      ...(config.networkKey ? { networkKey: Buffer.from(config.networkKey, 'hex') } : {}),
      interfaces: ['eth0'],
      ...config.options,
      onCandidate: (c) => print({ ev: 'candidate', i, id: c.id, address: c.address, verified: c.verified }),
      onGone: (gone, reason) => print({ ev: 'gone', i, id: gone, reason }),
      onWarning: (err) => print({ ev: 'warning', i, message: err.message }),
    }),
  );
}
const startAll = async () => {
  await Promise.all(instances.map((lan) => lan.start()));
  print({ ev: 'ready', ids });
};
if (config.deferStart) print({ ev: 'created', ids });
else await startAll();

let cpuAtStart = process.cpuUsage();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [command, arg] = line.trim().split(' ');
  if (command === 'start') {
    cpuAtStart = process.cpuUsage();
    void startAll();
  } else if (command === 'cpu') {
    const used = process.cpuUsage(cpuAtStart);
    print({ ev: 'cpu', ms: (used.user + used.system) / 1000 });
  } else if (command === 'counters') print({ ev: 'counters', counters: instances.map((l) => l.counters) });
  else if (command === 'peers') print({ ev: 'peers', peers: instances.map((l) => l.peers()) });
  else if (command === 'close' && arg !== undefined) {
    const i = Number(arg);
    void instances[i]!.close().then(() => print({ ev: 'closed', i }));
  } else if (command === 'close') {
    void Promise.all(instances.map((l) => l.close())).then(() => {
      print({ ev: 'closed' });
      process.exit(0);
    });
  }
});
// The test closes stdin (or kills us) when done: never outlive it.
lines.on('close', () => void Promise.all(instances.map((l) => l.close())).then(() => process.exit(0)));
