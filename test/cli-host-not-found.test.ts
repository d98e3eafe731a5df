/**
 * An unknown bootstrap host is ERR_HOST_NOT_FOUND and is not retried. Real DNS, without sending
 * anything off this machine: the CLI runs in a network namespace the test creates (loopback
 * only), whose resolv.conf (`ip netns exec` mounts /etc/netns/<ns>/resolv.conf) points at a
 * tiny resolver on the namespace's 127.0.0.1 that answers NXDOMAIN to everything. Needs root;
 * the namespace and its directory are always removed.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

const ROOT = process.platform === 'linux' && process.getuid?.() === 0;
const NS = `mwdns${process.pid}`;

/** Answers every query with NXDOMAIN (the header's QR, RD copied, RA, RCODE 3; question echoed). */
const RESOLVER = `
const dgram = require('node:dgram');
const socket = dgram.createSocket('udp4');
socket.on('message', (msg, from) => {
  if (msg.length < 12) return;
  let end = 12;
  while (end < msg.length && msg[end] !== 0) end += msg[end] + 1;
  end += 5;
  const header = Buffer.alloc(12);
  msg.copy(header, 0, 0, 2);
  header[2] = 0x80 | (msg[2] & 0x01);
  header[3] = 0x83;
  header.writeUInt16BE(1, 4);
  socket.send(Buffer.concat([header, msg.subarray(12, end)]), from.port, from.address);
});
socket.bind(53, '127.0.0.1', () => console.log('ready'));
`;

function ip(...args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('ip', args, { timeout: 5000 }, (err, _out, stderr) =>
      err ? reject(new Error(`ip ${args.join(' ')}: ${stderr}`)) : resolve(),
    ),
  );
}

async function canUseNetns(): Promise<boolean> {
  if (!ROOT) return false;
  return ip('netns', 'list').then(
    () => true,
    () => false,
  );
}

describe('meshwire CLI: unknown host', () => {
  it(
    'bootstrap to a name DNS does not know: ERR_HOST_NOT_FOUND, one attempt, no retry',
    { timeout: 30_000 },
    async (t) => {
      if (!(await canUseNetns())) {
        t.skip('needs root and iproute2 (a network namespace with its own resolver)');
        return;
      }
      const cwd = await tempDir((fn) => t.after(fn));
      const etc = `/etc/netns/${NS}`;
      t.after(async () => {
        await ip('netns', 'del', NS).catch(() => undefined);
        await rm(etc, { recursive: true, force: true });
      });
      await ip('netns', 'add', NS);
      await ip('-n', NS, 'link', 'set', 'lo', 'up');
      await mkdir(etc, { recursive: true });
      await writeFile(`${etc}/resolv.conf`, 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n');

      const resolver = spawn('ip', ['netns', 'exec', NS, process.execPath, '-e', RESOLVER], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      t.after(() => {
        resolver.kill('SIGKILL');
      });
      const [first] = (await Promise.race([
        once(createInterface({ input: resolver.stdout }), 'line'),
        once(resolver, 'exit').then(() => {
          throw new Error('the test resolver exited');
        }),
      ])) as [string];
      assert.equal(first, 'ready');

      const node = new Cli([...FAST, '0', 'nosuch-meshwire-host.invalid:8001'], {
        cwd,
        cleanup: (fn) => t.after(fn),
        label: 'in netns',
        wrap: ['ip', 'netns', 'exec', NS],
      });
      const failedDial = await node.waitForType('connection-failed');
      assert.equal((failedDial.error as { code: string }).code, 'ERR_HOST_NOT_FOUND');
      assert.match(
        (failedDial.error as { message: string }).message,
        /host "nosuch-meshwire-host\.invalid" not found/,
      );
      const attempt = await node.waitForType('bootstrap-attempt');
      assert.equal(attempt.attempt, 1);
      assert.equal(attempt.retryInMs, undefined, 'not retried');
      const failed = await node.waitForType('bootstrap-failed');
      assert.equal(failed.attempts, 1);
      assert.equal(node.events.filter((e) => e.type === 'connection-failed').length, 1);
      node.child.kill('SIGTERM');
      assert.equal(await node.exitCode(), 0);
    },
  );
});
