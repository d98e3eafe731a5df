/**
 * The CLI's command line as a process: usage errors exit 2, --help / --version exit 0, and a
 * port that is taken exits 1.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, cliArgv, tempDir } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };

/** Runs the CLI to completion with no stdin; resolves with its exit code and output. */
function runCli(
  args: string[],
  cwd: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, cliArgv(args), {
      cwd,
      env: { ...process.env, NO_COLOR: '1', MESHWIRE_NETWORK_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`meshwire ${args.join(' ')} did not exit\n${stdout}\n${stderr}`));
    }, 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('meshwire CLI: arguments', () => {
  it('bad arguments exit 2 with the usage on stderr', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    // Each kind of failure once (the parser itself is unit-tested in cli-format.test.ts): no
    // port, an unknown flag, a bad port, and an option only the library rejects.
    const cases = [[], ['--bogus', '8001'], ['70000'], ['--name', 'a:b', '8001']];
    const results = await Promise.all(cases.map((args) => runCli(args, cwd)));
    results.forEach((result, i) => {
      const args = JSON.stringify(cases[i]);
      assert.equal(result.code, 2, `exit code for ${args}: ${result.stderr}`);
      assert.match(result.stderr, /^meshwire: .+\n\nUsage: meshwire \[options\] <port> \[host:port\]/, args);
      assert.equal(result.stdout, '', args);
    });
  });

  it('--help and --version exit 0', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const [help, version] = await Promise.all([runCli(['--help'], cwd), runCli(['-v'], cwd)]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^Usage: meshwire/);
    for (const flag of ['--name', '--debug', '--compat', '--network-key', '--downloads', '--json', '/send']) {
      assert.ok(help.stdout.includes(flag), `help mentions ${flag}`);
    }
    assert.equal(version.code, 0);
    assert.equal(version.stdout, `meshwire ${pkg.version}\n`);
  });

  it('a port already in use exits 1 with an error', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as net.AddressInfo;
    const result = await runCli(['--compat', '--host', '127.0.0.1', String(port)], cwd);
    assert.equal(result.code, 1);
    assert.match(result.stdout, /\[ERROR\] .*EADDRINUSE/);
  });
});
