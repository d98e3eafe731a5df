/**
 * The CLI's shutdown paths: SIGTERM, SIGINT and /quit close the node (peers see a goodbye at
 * once) and exit 0; end of piped input keeps it running headless until a signal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };

describe('meshwire CLI: shutdown', () => {
  // One observer node watches four nodes leave, each in another way.
  const cleanups: (() => unknown)[] = [];
  let observer: Cli;
  let address: string;
  before(async () => {
    const dir = await tempDir((fn) => cleanups.push(fn));
    observer = new Cli([...FAST, '--name', 'observer', '0'], {
      cwd: dir,
      cleanup: (fn) => cleanups.push(fn),
      label: 'observer',
    });
    address = `127.0.0.1:${await observer.port()}`;
  });
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  for (const how of ['SIGTERM', 'SIGINT', '/quit', 'end of input'] as const) {
    const what = how === 'end of input' ? 'end of input keeps it running until SIGTERM, which' : how;
    it(`${what} closes the node, peers see the disconnect at once, exit code 0`, TIMEOUT, async (t) => {
      const name = how.replace(/\W/g, '') || 'eof';
      const since = observer.mark();
      const node = new Cli([...FAST, '--name', name, '0', address], {
        cwd: observer.cwd,
        cleanup: (fn) => t.after(fn),
        label: name,
      });
      await node.waitForType('bootstrap-success');
      const joined = await observer.waitForType(
        'peer-connected',
        (e) => (e.peer as { name: string }).name === name,
        {
          since,
        },
      );
      assert.ok(joined);
      if (how === '/quit') node.send('/quit');
      else if (how === 'end of input') {
        // A pipe that ends is not a user leaving: the CLI keeps running headless (systemd,
        // docker without -t, nohup) until a signal.
        node.child.stdin.end();
        await node.waitForType('info', (e) => /^End of input; running headless/.test(e.text as string));
        assert.equal(node.child.exitCode, null);
        assert.ok(
          !observer.events
            .slice(since)
            .some((e) => e.type === 'peer-disconnected' && (e.peer as { name: string }).name === name),
        );
        node.child.kill('SIGTERM');
      } else node.child.kill(how);
      assert.equal(await node.exitCode(), 0);
      const gone = await observer.waitForType(
        'peer-disconnected',
        (e) => (e.peer as { name: string }).name === name,
        { since, timeoutMs: 5000 },
      );
      assert.equal(gone.reason, 'goodbye');
      assert.ok(node.events.some((e) => e.type === 'info' && e.text === 'Node stopped'));
    });
  }
});
