/**
 * The CLI's command line as a process: usage errors exit 2 with one line, --help / --version /
 * keygen exit 0, and a port that is taken exits 1.
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
  it('bad arguments exit 2 with one line and a pointer to --help on stderr', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    // Each kind of failure once (the parser itself is unit-tested in cli-format.test.ts and
    // cli-errors.test.ts): no port, a mistyped flag, a bad port, a bad name, a bad bootstrap
    // port.
    const cases: [string[], RegExp][] = [
      [[], /^missing <port>$/],
      [['--nmae', 'alice', '8001'], /^unknown option --nmae; did you mean --name\?$/],
      [['70000'], /^<port> must be from 0 to 65535, got 70000$/],
      [['--name', 'a:b', '8001'], /^invalid --name "a:b": names cannot contain ':' or '\|'$/],
      [['8002', '127.0.0.1:99999'], /^bootstrap address: port out of range \(1-65535\)/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, cwd)));
    results.forEach((result, i) => {
      const [argv, message] = cases[i] as [string[], RegExp];
      const args = JSON.stringify(argv);
      assert.equal(result.code, 2, `exit code for ${args}: ${result.stderr}`);
      const lines = result.stderr.split('\n');
      assert.equal(lines.length, 3, `two lines for ${args}: ${result.stderr}`);
      assert.match(lines[0] as string, /^meshwire: /, args);
      assert.match((lines[0] as string).slice('meshwire: '.length), message, args);
      assert.equal(lines[1], "Try 'meshwire --help' for more information.", args);
      assert.equal(result.stdout, '', args);
    });
  });

  it('keygen --network prints a fresh 256-bit key and nothing else on stdout', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const [a, b] = await Promise.all([
      runCli(['keygen', '--network'], cwd),
      runCli(['keygen', '--network'], cwd),
    ]);
    for (const result of [a, b]) {
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stdout, /^[A-Za-z0-9_-]{43}\n$/);
      assert.equal(Buffer.from(result.stdout.trim(), 'base64url').length, 32);
    }
    assert.notEqual(a.stdout, b.stdout);
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

  it('a port already in use exits 1 with ERR_ADDRESS_IN_USE and what to do', TIMEOUT, async (t) => {
    const cwd = await tempDir((fn) => t.after(fn));
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise((resolve) => server.close(resolve)));
    const { port } = server.address() as net.AddressInfo;
    const result = await runCli(['--compat', '--host', '127.0.0.1', String(port)], cwd);
    assert.equal(result.code, 1);
    assert.match(
      result.stdout,
      new RegExp(
        `\\[ERROR\\] port ${port} is already in use on 127\\.0\\.0\\.1; pick another port or 0 \\(any free port\\) \\(ERR_ADDRESS_IN_USE\\)`,
      ),
    );
    // Secure mode too (the identity loads first, then the listen fails the same way).
    const secure = await runCli(
      ['--host', '127.0.0.1', '--key-file', path.join(cwd, 'k.key'), String(port)],
      cwd,
    );
    assert.equal(secure.code, 1);
    assert.match(secure.stdout, /already in use .*\(ERR_ADDRESS_IN_USE\)/);
  });
});
