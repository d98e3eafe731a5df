/**
 * The CLI as a process: the text output format (categories, chat, escapes, progress lines,
 * errors), identity key files and the network key.
 */
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };

/** A port that was free a moment ago. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('meshwire CLI: text output', () => {
  it(
    'prints [HH:MM:SS] [CATEGORY] lines, chat as <name id>, progress lines and errors',
    TIMEOUT,
    async (t) => {
      const dir = await tempDir((fn) => t.after(fn));
      const textCwd = path.join(dir, 'text');
      const jsonCwd = path.join(dir, 'json');
      await mkdir(textCwd);
      await mkdir(jsonCwd);
      const text = new Cli(['--compat', '--host', '127.0.0.1', '--name', 'alice', '0'], {
        cwd: textCwd,
        cleanup: (fn) => t.after(fn),
        label: 'text',
      });
      const started = await text.waitForLine(/\[SYSTEM\] Node alice listening on port \d+/);
      assert.match(
        started,
        /^\[\d\d:\d\d:\d\d\] \[SYSTEM\] Node alice listening on port \d+ \(compat mode, ID \w+\)$/,
      );
      const port = Number(/port (\d+)/.exec(started)?.[1]);
      // Paced to 1 MiB/s, so the 4 chunks of 1 MiB arrive over ~0.75 s: the throttle (2 lines per
      // second per transfer) lets through the first, maybe one more, and the final one.
      const bob = new Cli(
        [...FAST, '--compat', '--name', 'bob', '--rate-limit', '1M', '0', `127.0.0.1:${port}`],
        {
          cwd: jsonCwd,
          cleanup: (fn) => t.after(fn),
          label: 'bob',
        },
      );
      await text.waitForLine(
        /^\[\d\d:\d\d:\d\d\] \[NETWORK\] Peer bob connected from 127\.0\.0\.1:\d+ \(1\/10 peers\)$/,
      );
      await bob.waitForType('bootstrap-success');

      bob.send('hello \u001b[31mred\u001b[0m');
      await text.waitForLine(/^\[\d\d:\d\d:\d\d\] <bob \S+> hello \\x1B\[31mred\\x1B\[0m$/);

      text.send('hi bob');
      await text.waitForLine(/^\[\d\d:\d\d:\d\d\] <alice \S+> hi bob$/);
      await bob.waitForType('chat', (e) => e.text === 'hi bob');

      // The original's protocol cannot carry a chat line that looks like a control line.
      text.send('PING');
      await text.waitForLine(/^\[\d\d:\d\d:\d\d\] \[ERROR\] .*\(ERR_CHAT_NOT_ENCODABLE\)$/);

      await writeFile(path.join(jsonCwd, 'file.bin'), Buffer.alloc(1024 * 1024, 7));
      bob.send('/send file.bin');
      await text.waitForLine(/\[FILE\] bob is sending file\.bin \(1\.0 MiB\)$/);
      await text.waitForLine(/\[FILE\] bob sent file: file\.bin \(1\.0 MiB\) -> downloads\/file\.bin$/);
      const progress = text.lines.filter((l) => /\[FILE\] file\.bin from bob: /.test(l));
      assert.ok(progress.length >= 2, `progress lines:\n${progress.join('\n')}`);
      assert.ok(progress.length <= 3, `at most ~2 per second:\n${progress.join('\n')}`);
      assert.match(progress.at(-1) as string, /100\.0% \(1\.0 MiB\/1\.0 MiB, /);
      assert.ok(!text.lines.some((l) => l.includes('\u001b')), 'no colour when stdout is not a TTY');

      text.send('/quit');
      assert.equal(await text.exitCode(), 0);
    },
  );
});

describe('meshwire CLI: identity and network key', () => {
  it('keeps its identity in .meshwire/node-<port>.key across restarts', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const port = await freePort();
    const ids: string[] = [];
    for (let run = 0; run < 2; run++) {
      const node = new Cli([...FAST, String(port)], {
        cwd,
        cleanup: (fn) => t.after(fn),
        label: `run ${run}`,
      });
      ids.push((await node.waitForType('system-start')).id as string);
      node.send('/quit');
      assert.equal(await node.exitCode(), 0);
    }
    assert.equal(ids[0], ids[1]);
    const info = await stat(path.join(cwd, '.meshwire', `node-${port}.key`));
    if (process.platform !== 'win32') assert.equal(info.mode & 0o777, 0o600);
  });

  it('peers with the same network key connect; a wrong key is refused', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const keyFile = path.join(cwd, 'network.key');
    await writeFile(keyFile, 'correct horse battery staple\n');
    await chmod(keyFile, 0o600);
    const a = new Cli([...FAST, '--name', 'a', '0'], {
      cwd,
      env: { MESHWIRE_NETWORK_KEY: 'correct horse battery staple' },
      cleanup: (fn) => t.after(fn),
      label: 'a',
    });
    const address = `127.0.0.1:${await a.port()}`;
    const b = new Cli([...FAST, '--name', 'b', '--network-key-file', 'network.key', '0', address], {
      cwd,
      cleanup: (fn) => t.after(fn),
      label: 'b',
    });
    await b.waitForType('bootstrap-success');
    const c = new Cli(
      ['--json', '--host', '127.0.0.1', '--bootstrap-retry', '20', '--network-key', 'wrong', '0', address],
      { cwd, cleanup: (fn) => t.after(fn), label: 'c' },
    );
    const failed = await c.waitForType('bootstrap-failed');
    assert.equal((failed.error as { code: string }).code, 'ERR_BOOTSTRAP_FAILED');
    assert.ok(!c.events.some((e) => e.type === 'peer-connected'));
  });
});
