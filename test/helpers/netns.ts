/**
 * Linux network namespaces as test "hosts" on one private LAN, for what loopback cannot test
 * honestly (multicast discovery, several addresses, a cut link).
 *
 * Layout of one {@link createLan} call with prefix P:
 *
 *   P-br  (namespace)  bridge `br0`, ports v0..v(N-1), multicast snooping off
 *   P-h0  (namespace)  lo up, `eth0` = 10.77.0.1/24 (veth peer of v0), 224.0.0.0/4 via eth0
 *   P-h1  ...          `eth0` = 10.77.0.2/24
 *
 * Every link is created *inside* these namespaces (`ip -n`), never in the machine's own
 * namespace, so no packet sent by a host can reach a real interface: the bridge namespace has no
 * uplink. Cleanup is registered before anything is created and deletes the namespaces (which
 * destroys their veths and bridge) and kills every process started in them. Names carry the pid,
 * so parallel runs never collide; a crashed earlier run's namespaces are swept by prefix when
 * their pid is gone.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

/** Common prefix of every namespace this helper creates. */
export const NETNS_PREFIX = 'mwt';

/** The subnet hosts live on (private; it exists only inside the namespaces). */
export const LAN_SUBNET = '10.77.0';

/** One simulated host: a namespace with one address on the shared bridge. */
export interface NetnsHost {
  /** Index in the LAN (0-based). */
  index: number;
  /** Namespace name. */
  ns: string;
  /** The host's IPv4 address on the LAN. */
  ip: string;
  /** Its interface name inside the namespace. */
  ifname: string;
  /** Spawns `command args` inside the host (`ip netns exec`); killed when the LAN is destroyed. */
  spawn(command: string, args: string[], options?: SpawnOptions): ChildProcess;
  /** Runs `command args` inside the host and resolves with its output; rejects on a non-zero exit. */
  run(command: string, args: string[]): Promise<string>;
  /** Cuts the host's link (its bridge port goes down: the host is alone, its address kept). */
  cut(): Promise<void>;
  /** Restores a cut link. */
  restore(): Promise<void>;
}

/** A set of hosts on one bridge. */
export interface Lan {
  prefix: string;
  hosts: NetnsHost[];
  /** Kills every process started in the hosts and deletes every namespace. Idempotent. */
  destroy(): Promise<void>;
}

let cachedSkipReason: string | false | undefined;

/**
 * Why namespace tests cannot run here, or `false` when they can (root, `ip` present, and a
 * namespace can really be created). Tests pass it as `{ skip: netnsSkipReason() }`.
 */
export function netnsSkipReason(): string | false {
  if (cachedSkipReason !== undefined) return cachedSkipReason;
  cachedSkipReason = computeSkipReason();
  return cachedSkipReason;
}

function computeSkipReason(): string | false {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const which = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (which.error || which.status !== 0) return '`ip` (iproute2) is missing';
  const probe = `${NETNS_PREFIX}-${process.pid}-probe`;
  const add = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  spawnSync('ip', ['netns', 'del', probe]);
  if (add.status !== 0) return `cannot create a network namespace: ${add.stderr.trim()}`;
  return false;
}

/** Runs `ip args`, rejecting with its stderr on failure. */
export function ip(args: string[]): Promise<string> {
  return runCommand('ip', args);
}

function runCommand(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err.trim()}`));
    });
  });
}

/**
 * Runs many `ip` commands in one process (`ip [-n ns] -batch -`): building 50 hosts stays fast.
 */
async function ipBatch(lines: string[], ns?: string): Promise<void> {
  if (lines.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ip -batch failed: ${err.trim()}`)),
    );
    child.stdin.end(lines.join('\n') + '\n');
  });
}

/** Namespace names currently present. */
async function listNamespaces(): Promise<string[]> {
  const out = await ip(['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!)
    .filter((name) => name.length > 0);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces left by crashed earlier runs: those named `mwt-<pid>-...` whose pid no
 * longer runs. Never touches a live run's namespaces or anything without the prefix.
 */
export async function sweepLeftovers(): Promise<string[]> {
  const swept: string[] = [];
  for (const name of await listNamespaces()) {
    const match = new RegExp(`^${NETNS_PREFIX}-(\\d+)-`).exec(name);
    if (!match || pidAlive(Number(match[1]))) continue;
    await ip(['netns', 'del', name]).catch(() => undefined);
    swept.push(name);
  }
  return swept;
}

/** Where cleanup is registered: a `node:test` context or anything with `after`. */
export interface CleanupHost {
  after(fn: () => Promise<void> | void): void;
}

/**
 * Creates `count` hosts (1..200) on one bridge. Cleanup is registered on `t` before anything
 * exists, so a failure halfway still removes what was made.
 */
export async function createLan(t: CleanupHost, count: number): Promise<Lan> {
  if (!Number.isInteger(count) || count < 1 || count > 200) throw new Error(`createLan: bad count ${count}`);
  await sweepLeftovers();
  const prefix = `${NETNS_PREFIX}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const bridgeNs = `${prefix}-br`;
  const names = Array.from({ length: count }, (_, i) => `${prefix}-h${i}`);
  const children = new Set<ChildProcess>();
  let destroyed = false;

  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    await Promise.all([...children].map((child) => killAndWait(child)));
    const present = new Set(await listNamespaces().catch(() => [] as string[]));
    await ipBatch([bridgeNs, ...names].filter((ns) => present.has(ns)).map((ns) => `netns del ${ns}`)).catch(
      async () => {
        // One failure aborts a batch; fall back to one by one so the rest still goes.
        for (const ns of [bridgeNs, ...names]) await ip(['netns', 'del', ns]).catch(() => undefined);
      },
    );
  };
  t.after(destroy);

  await ipBatch([bridgeNs, ...names].map((ns) => `netns add ${ns}`));
  const bridgeLines = ['link add br0 type bridge mcast_snooping 0', 'link set br0 up', 'link set lo up'];
  names.forEach((ns, i) =>
    bridgeLines.push(
      `link add v${i} type veth peer name eth0 netns ${ns}`,
      `link set v${i} master br0`,
      `link set v${i} up`,
    ),
  );
  await ipBatch(bridgeLines, bridgeNs);
  await Promise.all(
    names.map((ns, i) =>
      ipBatch(
        [
          'link set lo up',
          `addr add ${hostIp(i)}/24 dev eth0`,
          'link set eth0 multicast on up',
          'route add 224.0.0.0/4 dev eth0',
        ],
        ns,
      ),
    ),
  );

  const hosts = names.map((ns, index): NetnsHost => {
    const spawnIn = (command: string, args: string[], options: SpawnOptions = {}): ChildProcess => {
      if (destroyed) throw new Error('LAN already destroyed');
      const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { stdio: 'pipe', ...options });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    };
    return {
      index,
      ns,
      ip: hostIp(index),
      ifname: 'eth0',
      spawn: spawnIn,
      run: (command, args) => runCommand('ip', ['netns', 'exec', ns, command, ...args]),
      cut: () => ip(['-n', bridgeNs, 'link', 'set', `v${index}`, 'down']).then(() => undefined),
      restore: () => ip(['-n', bridgeNs, 'link', 'set', `v${index}`, 'up']).then(() => undefined),
    };
  });
  return { prefix, hosts, destroy };
}

/** Host i's address: 10.77.0.(i + 1). */
function hostIp(i: number): string {
  return `${LAN_SUBNET}.${i + 1}`;
}

function killAndWait(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
    }, 2_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** True if a namespace of that name exists (for tests of the helper itself). */
export function namespaceExists(name: string): boolean {
  return existsSync(`/var/run/netns/${name}`) || existsSync(`/run/netns/${name}`);
}
