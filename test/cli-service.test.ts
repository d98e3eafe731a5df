/**
 * The CLI as a service: piped chat lines wait for bootstrap instead of going to zero peers, the
 * end of piped input keeps it running, `--no-input` never reads stdin, and SIGTERM stops it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };

describe('meshwire CLI: headless', () => {
  it(
    'piped lines wait for bootstrap, then it keeps running after end of input until SIGTERM',
    TIMEOUT,
    async (t) => {
      const cwd = await tempDir((fn) => t.after(fn));
      const alice = new Cli([...FAST, '--name', 'alice', '0'], {
        cwd,
        cleanup: (fn) => t.after(fn),
        label: 'alice',
      });
      const address = `127.0.0.1:${await alice.port()}`;
      const bob = new Cli([...FAST, '--name', 'bob', '0', address], {
        cwd,
        cleanup: (fn) => t.after(fn),
        label: 'bob',
      });
      // Written at once, before bob has even started listening: `printf 'a\nb\n' | meshwire ...`.
      bob.child.stdin.end('first line\nsecond line\n');
      const first = await alice.waitForType('chat', (e) => e.text === 'first line');
      const second = await alice.waitForType('chat', (e) => e.text === 'second line');
      assert.ok(alice.events.indexOf(first) < alice.events.indexOf(second), 'in order');
      // Bob reports a send when its promise settles, which can be after Alice printed it.
      await bob.waitForType('chat-sent', (e) => e.text === 'second line');
      const sent = bob.events.filter((e) => e.type === 'chat-sent');
      assert.deepEqual(
        sent.map((e) => [e.text, e.sent]),
        [
          ['first line', 1],
          ['second line', 1],
        ],
      );
      const success = bob.events.findIndex((e) => e.type === 'bootstrap-success');
      assert.ok(
        success >= 0 && success < bob.events.indexOf(sent[0] as (typeof sent)[0]),
        'chat after bootstrap',
      );
      await bob.waitForType('info', (e) => /^End of input; running headless/.test(e.text as string));
      assert.equal(bob.child.exitCode, null, 'still running');
      // Still a working node: it receives.
      alice.send('still there?');
      await bob.waitForType('chat', (e) => e.text === 'still there?');
      bob.child.kill('SIGTERM');
      assert.equal(await bob.exitCode(), 0);
      await alice.waitForType('peer-disconnected', (e) => e.reason === 'goodbye');
    },
  );

  it('--no-input never reads stdin and runs until SIGINT', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const node = new Cli([...FAST, '--no-input', '0'], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'service',
    });
    await node.waitForType('info', (e) => /--no-input/.test(e.text as string));
    node.send('/quit'); // ignored: stdin is not read
    node.child.stdin.end();
    const peer = new Cli([...FAST, '0', `127.0.0.1:${await node.port()}`], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'peer',
    });
    await peer.waitForType('bootstrap-success');
    assert.equal(node.child.exitCode, null);
    assert.ok(
      !node.events.some((e) => e.type === 'info' && /End of input|Shutting down/.test(e.text as string)),
    );
    node.child.kill('SIGINT');
    assert.equal(await node.exitCode(), 0);
  });

  it('under nohup, SIGHUP does not stop a headless node; SIGTERM does', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const node = new Cli([...FAST, '0'], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'nohup',
      wrap: ['nohup'],
    });
    await node.port();
    node.child.stdin.end();
    await node.waitForType('info', (e) => /^End of input; running headless/.test(e.text as string));
    node.child.kill('SIGHUP');
    await node.waitForType('info', (e) => /^SIGHUP ignored/.test(e.text as string));
    // Still answering: a peer can join after the hangup.
    const peer = new Cli([...FAST, '0', `127.0.0.1:${await node.port()}`], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'peer',
    });
    await peer.waitForType('bootstrap-success');
    assert.equal(node.child.exitCode, null);
    assert.equal(node.child.signalCode, null);
    node.child.kill('SIGTERM');
    assert.equal(await node.exitCode(), 0);
  });
});
