/**
 * The CLI's shutdown paths: SIGTERM, SIGINT, /quit and end of input all close the node (peers
 * see a goodbye at once) and exit 0.
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
    it(`${how} closes the node, peers see the disconnect at once, exit code 0`, TIMEOUT, async (t) => {
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
      else if (how === 'end of input') node.child.stdin.end();
      else node.child.kill(how);
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
