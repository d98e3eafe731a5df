/**
 * The namespace helper itself: hosts get their addresses and see no interface of the machine,
 * reach each other over the bridge, a cut link really cuts, restore heals, and destroy leaves
 * nothing behind.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { createLan, namespaceExists, netnsSkipReason, type NetnsHost } from './helpers/netns.js';

const skip = netnsSkipReason();

/** A TCP connect from `from` to `to:port`, 1 s deadline, run inside `from`. */
function tcpReach(from: NetnsHost, to: NetnsHost, port: number): Promise<string> {
  const script =
    `const s=require('net').connect(${port},'${to.ip}');` +
    `s.setTimeout(1000,()=>{process.exit(3)});s.on('connect',()=>{s.end();process.exit(0)});s.on('error',()=>process.exit(2))`;
  return from.run(process.execPath, ['-e', script]);
}

test(
  'netns: hosts on one bridge, cut and restore a link, nothing left after destroy',
  { skip, timeout: 30_000 },
  async (t) => {
    const cleanups: (() => Promise<void> | void)[] = [];
    t.after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });
    const lan = await createLan({ after: (fn) => cleanups.push(fn) }, 3);
    const [a, b, c] = lan.hosts as [NetnsHost, NetnsHost, NetnsHost];
    assert.match(
      await a.run('ip', ['-4', 'addr', 'show', 'eth0']),
      new RegExp(`inet ${a.ip.replace(/\./g, '\\.')}/24`),
    );
    // A host sees only its lo and eth0: none of the machine's interfaces.
    const links = await b.run('ip', ['-o', 'link', 'show']);
    const names = links
      .trim()
      .split('\n')
      .map((l) => l.split(':')[1]!.trim().split('@')[0])
      .sort();
    assert.deepEqual(names, ['eth0', 'lo']);

    const server = c.spawn(process.execPath, [
      '-e',
      "require('net').createServer(s=>s.end()).listen(7000,()=>console.log('up'))",
    ]);
    await once(server.stdout!, 'data');
    await tcpReach(a, c, 7000);
    await c.cut();
    await assert.rejects(tcpReach(a, c, 7000), 'a cut host is unreachable');
    await c.restore();
    // The bridge port needs a moment to forward again: retry, bounded.
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await tcpReach(a, c, 7000);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
    }
    const all = [`${lan.prefix}-br`, ...lan.hosts.map((h) => h.ns)];
    assert.ok(all.every(namespaceExists));
    await lan.destroy();
    assert.equal(
      server.exitCode !== null || server.signalCode !== null,
      true,
      'processes in hosts are killed',
    );
    assert.ok(
      all.every((n) => !namespaceExists(n)),
      'every namespace is deleted',
    );
  },
);
