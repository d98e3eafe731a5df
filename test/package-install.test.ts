/**
 * The package as users get it: `npm pack`, then the tarball installed offline into a fresh
 * CommonJS project and a fresh ESM project. The examples under examples/ run there as written,
 * TypeScript with `module: nodenext` type-checks and runs in both, the `meshwire` bin works, the
 * install holds the lockfile's runtime closure and nothing else, and publint / arethetypeswrong
 * find nothing. Everything listens on 127.0.0.1 only, and nothing reaches the npm registry.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { QUICKSTART_OUTPUT } from './helpers/examples.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The lockfile's entries for the runtime closure: top-level, non-dev packages, keyed by path. */
async function runtimeEntries(): Promise<Record<string, unknown>> {
  const lock = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { dev?: boolean }>;
  };
  const entries: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key.startsWith('node_modules/') || entry.dev || key.includes('/node_modules/', 1)) continue;
    entries[key] = entry;
  }
  return entries;
}

/** Top-level folders an install of the package puts in node_modules: meshwire plus its runtime closure. */
async function runtimeClosure(): Promise<string[]> {
  const names = new Set<string>(['meshwire']);
  for (const key of Object.keys(await runtimeEntries())) {
    names.add(key.slice('node_modules/'.length).split('/')[0] as string);
  }
  return [...names].sort();
}
const BIN = (name: string): string => path.join(ROOT, 'node_modules', '.bin', name);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const STEP = 120_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, timeout = STEP): Promise<Run> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.NODE_TEST_CONTEXT;
    delete env.NODE_OPTIONS; // no tsx loader: the installed package must run on plain Node
    execFile(cmd, args, { cwd, timeout, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string, timeout?: number): Promise<string> {
  const result = await run(cmd, args, cwd, timeout);
  assert.equal(result.code, 0, `${cmd} ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

let dir: string;
let tarball: string;

/**
 * A fresh project of the given module type with the tarball installed offline. The project starts
 * with a lockfile holding this repository's runtime entries (as a project that already has them
 * would): `npm ci` caches the dependencies' tarballs but not the registry metadata that resolving
 * `~2.4.0` needs, so on a machine whose npm cache holds only what `npm ci` put there, an offline
 * install of the tarball into an empty project fails (ENOTCACHED), and a test must not reach the
 * registry. npm still installs the tarball and links its dependencies; the closure check below
 * catches one missing or extra.
 */
async function project(type: 'module' | 'commonjs'): Promise<string> {
  const cwd = path.join(dir, type);
  await mkdir(cwd);
  const name = `try-meshwire-${type}`;
  await writeFile(
    path.join(cwd, 'package.json'),
    JSON.stringify({ name, version: '1.0.0', private: true, type }),
  );
  await writeFile(
    path.join(cwd, 'package-lock.json'),
    JSON.stringify({
      name,
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: { '': { name, version: '1.0.0' }, ...(await runtimeEntries()) },
    }),
  );
  await ok(NPM, ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], cwd);
  return cwd;
}

const TS_PROGRAM = `import { P2PNode, MeshwireError, generateNetworkKey, type PeerConnectedMessage } from 'meshwire';
import { FileReceiver, sendFile } from 'meshwire/files';

async function main(): Promise<void> {
  const node = new P2PNode({ port: 0, host: '127.0.0.1' });
  await node.start();
  const wait: Promise<PeerConnectedMessage> = node.waitFor('peer-connected', { timeoutMs: 10 });
  await wait.catch((err: unknown) => {
    if (!(err instanceof MeshwireError) || err.code !== 'ERR_TIMEOUT') throw err;
  });
  await node.close();
  const reflect = (Reflect as unknown as { getMetadata?: unknown }).getMetadata;
  console.log(typeof sendFile, typeof FileReceiver, generateNetworkKey().length, typeof reflect);
}

void main();
`;

async function typescript(cwd: string): Promise<void> {
  await writeFile(path.join(cwd, 'main.ts'), TS_PROGRAM);
  await writeFile(
    path.join(cwd, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        outDir: 'out',
        typeRoots: [path.join(ROOT, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['main.ts'],
    }),
  );
  await ok(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.'], cwd);
  const out = await ok(process.execPath, ['out/main.js'], cwd, 20_000);
  assert.equal(out.trim(), 'function function 43 undefined');
}

before(
  async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-package-'));
    // npm pack runs `prepare`, i.e. a fresh build of dist/.
    const out = await ok(NPM, ['pack', '--silent', '--pack-destination', dir], ROOT, 240_000);
    tarball = path.join(dir, out.trim().split('\n').pop() as string);
  },
  { timeout: 300_000 },
);

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the packed package', { timeout: 600_000 }, () => {
  test('contents: both builds, sources for the maps, the documents, nothing from test/', async () => {
    const files = (await ok('tar', ['tzf', tarball], dir))
      .split('\n')
      .map((f) => f.replace(/^package\//, ''));
    for (const wanted of [
      'LICENSE',
      'CHANGELOG.md',
      'README.md',
      'PROTOCOL.md',
      'PROTOCOL-compat.md',
      'bench/README.md',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cjs/index.js',
      'dist/cjs/index.d.ts',
      'dist/cjs/package.json',
      'dist/files/index.js',
      'dist/cjs/files/index.js',
      'dist/cli/main.js',
      'src/index.ts',
      'examples/quickstart.mjs',
    ]) {
      assert.ok(files.includes(wanted), `${wanted} is packed`);
    }
    assert.deepEqual(
      files.filter((f) => f.startsWith('test/') || f.startsWith('scratch/') || f.includes('node_modules')),
      [],
    );
  });

  test('CommonJS project: require() works, the CJS example runs, TypeScript nodenext compiles and runs', async () => {
    const cwd = await project('commonjs');
    const installed = (await readdir(path.join(cwd, 'node_modules'))).filter((f) => !f.startsWith('.'));
    // Exactly the production closure of the lockfile, and nothing else: a new runtime dependency
    // (or one of its own) must be a decision, not an accident.
    assert.deepEqual(installed.sort(), await runtimeClosure(), 'only the runtime dependencies');
    await copyFile(path.join(ROOT, 'examples', 'quickstart.cjs'), path.join(cwd, 'quickstart.cjs'));
    const out = await ok(process.execPath, ['quickstart.cjs'], cwd, 30_000);
    assert.match(out, /\[bob\] Hello from CommonJS!\ndone\n$/);
    assert.equal(
      (
        await ok(process.execPath, ['-e', "console.log(typeof require('meshwire/files').sendFile)"], cwd)
      ).trim(),
      'function',
    );
    await typescript(cwd);
    // The bin runs from the install.
    assert.match(
      await ok(path.join(cwd, 'node_modules', '.bin', 'meshwire'), ['--version'], cwd),
      /^meshwire \d+\.\d+\.\d+/,
    );
    // publint on the installed files as they are (no second pack).
    await ok(
      BIN('publint'),
      ['--pack', 'false', '--strict', path.join(cwd, 'node_modules', 'meshwire')],
      cwd,
    );
  });

  test('ESM project: the README examples run as written, TypeScript nodenext compiles and runs', async () => {
    const cwd = await project('module');
    for (const example of ['quickstart.mjs', 'files.mjs']) {
      await copyFile(path.join(ROOT, 'examples', example), path.join(cwd, example));
    }
    const quick = await ok(process.execPath, ['quickstart.mjs'], cwd, 30_000);
    assert.equal(quick, QUICKSTART_OUTPUT);
    const files = await ok(process.execPath, ['files.mjs'], cwd, 30_000);
    assert.match(files, /received report\.txt from bob, sha256 matches: true/);
    await typescript(cwd);
  });

  test('arethetypeswrong finds no problem in the tarball', async () => {
    // meshwire/web is ESM only (the dashboard serves its page relative to import.meta.url):
    // checked for everything but CommonJS resolution.
    await ok(BIN('attw'), [tarball, '--format', 'ascii', '--exclude-entrypoints', 'web'], dir);
    await ok(
      BIN('attw'),
      [tarball, '--format', 'ascii', '--entrypoints', 'web', '--profile', 'esm-only'],
      dir,
    );
  });
});
