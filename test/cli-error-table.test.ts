/**
 * The CLI's error table as processes on 127.0.0.1: a mode mismatch is worded with --compat and
 * not retried, two nodes sharing a key file are told so, a chat line over the limit, an
 * unquoted /send, a /connect port out of range, the --network-key warning, FORCE_COLOR.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };
const TEXT = ['--host', '127.0.0.1', '--bootstrap-retry', '100,200,400,800'];

describe('meshwire CLI: errors a person can act on', () => {
  it(
    'a secure node bootstrapping to a compat node: "add --compat", one attempt, no retries',
    TIMEOUT,
    async (t) => {
      const cwd = await tempDir((fn) => t.after(fn));
      const compat = new Cli([...FAST, '--compat', '--name', 'old', '0'], {
        cwd,
        cleanup: (fn) => t.after(fn),
        label: 'compat',
      });
      const address = `127.0.0.1:${await compat.port()}`;
      const secure = new Cli([...TEXT, '0', address], { cwd, cleanup: (fn) => t.after(fn), label: 'secure' });
      const attempt = await secure.waitForLine(/\[BOOTSTRAP\] Attempt 1\/5 /);
      assert.match(
        attempt,
        /it is a compat-mode \(plaintext\) node and this one is in secure mode; add --compat to join it .*; not retrying/,
      );
      const failed = await secure.waitForLine(/\[BOOTSTRAP\] Could not reach /);
      assert.match(failed, /after 1 attempt: .*add --compat to join it/);
      assert.ok(!secure.lines.some((l) => /Attempt 2\//.test(l)), secure.lines.join('\n'));
      // And the other way round.
      const compatDialer = new Cli(
        [...TEXT, '--compat', '0', `127.0.0.1:${await secureListenPort(secure)}`],
        {
          cwd,
          cleanup: (fn) => t.after(fn),
          label: 'compat dialer',
        },
      );
      const reverse = await compatDialer.waitForLine(/\[BOOTSTRAP\] Attempt 1\/5 /);
      assert.match(
        reverse,
        /it is a secure-mode node and this one runs with --compat; remove --compat to join it/,
      );
      await compatDialer.waitForLine(/\[BOOTSTRAP\] Could not reach .* after 1 attempt/);
    },
  );

  it('two nodes with one key file: "both use the same key file"', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const keyFile = path.join(cwd, 'shared.key');
    const first = new Cli([...FAST, '--key-file', keyFile, '0'], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'first',
    });
    const address = `127.0.0.1:${await first.port()}`;
    const second = new Cli([...TEXT, '--key-file', keyFile, '0', address], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'second',
    });
    const line = await second.waitForLine(/\[BOOTSTRAP\] Attempt 1\/5 /);
    assert.ok(
      line.includes(
        `that node has this node's identity: both use the same key file (${keyFile}); give each node its own --key-file`,
      ),
      line,
    );
    assert.match(line, /not retrying/);
  });

  it('chat over the limit, an unquoted /send, a /connect port out of range', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const bob = new Cli([...FAST, '--name', 'bob', '0'], { cwd, cleanup: (fn) => t.after(fn), label: 'bob' });
    const address = `127.0.0.1:${await bob.port()}`;
    const alice = new Cli([...TEXT, '--name', 'alice', '0', address], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'alice',
    });
    await alice.waitForLine(/\[BOOTSTRAP\] Joined the network through bob/);

    alice.send('x'.repeat(270_000));
    const tooLong = await alice.waitForLine(/\[ERROR\] message too long/);
    assert.match(tooLong, /\[ERROR\] message too long \(263\.7 KiB; 256\.0 KiB max\); use \/send for files$/);

    await writeFile(path.join(cwd, 'my file.txt'), 'spaces\n');
    alice.send('/send my file.txt');
    const unquoted = await alice.waitForLine(/\[ERROR\] No connected peer named "file\.txt"/);
    assert.match(unquoted, /; did you mean \/send "my file\.txt"\? Quote file names that contain spaces$/);

    alice.send('/connect 127.0.0.1:99999');
    await alice.waitForLine(
      /\[ERROR\] Cannot connect: port out of range \(1-65535\) in "127\.0\.0\.1:99999"$/,
    );
    alice.send('/quit');
    assert.equal(await alice.exitCode(), 0);
  });

  it('--network-key on the command line warns on stderr; FORCE_COLOR colours a pipe', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const node = new Cli([...TEXT, '--network-key', 'hunter2', '0'], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'warned',
      env: { FORCE_COLOR: '1', NO_COLOR: undefined },
    });
    const started = await node.waitForLine(/Node .* listening on port/);
    assert.match(
      node.stderr,
      /^meshwire: warning: --network-key on the command line is visible to other users .*MESHWIRE_NETWORK_KEY or a file for --network-key-file/m,
    );
    assert.ok(started.includes('\u001b['), `coloured: ${JSON.stringify(started)}`);
    node.send('/quit');
    assert.equal(await node.exitCode(), 0);
  });
});

/** The port a text-mode node listens on, from its start line. */
async function secureListenPort(node: Cli): Promise<number> {
  const line = await node.waitForLine(/listening on port \d+/);
  return Number(/listening on port (\d+)/.exec(line)?.[1]);
}
