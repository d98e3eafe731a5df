/**
 * `npm run sim`'s command line: --help prints the usage (every option the parser accepts), a
 * bad option is one line on stderr with exit code 2, not a stack trace, and the heap flags it
 * re-executes Node with depend on --threads and never override the caller's.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { missingHeapFlags } from '../scripts/sim/heap-flags.js';

const SIM = new URL('../scripts/sim.ts', import.meta.url).pathname;

function sim(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', SIM, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('--help lists every option the simulator accepts and exits 0', () => {
  const r = sim('--help');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^usage: npm run sim -- --nodes N --messages M/);
  const source = readFileSync(SIM, 'utf8');
  const parserBlock = source.slice(source.indexOf('options: {'), source.indexOf('strict: true'));
  const accepted = [...parserBlock.matchAll(/^\s+'?([a-z-]+)'?: \{ type:/gm)].map((m) => m[1]!);
  assert.ok(accepted.length >= 15, `found ${accepted.length} options`);
  for (const name of accepted)
    assert.match(r.stdout, new RegExp(`--${name}\\b`), `--${name} missing from --help`);
});

test('an unknown option or a missing value: one line on stderr, exit 2', () => {
  for (const args of [['--bogus'], ['--nodes'], ['--nodes', '1']]) {
    const r = sim(...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^sim: .+\n$/, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '');
  }
});

test('heap flags: 64 MB semi-spaces on one thread; 96 MB and no parallel scavenge with workers', () => {
  const P = '--no-allocation-site-pretenuring';
  assert.deepEqual(missingHeapFlags([], ['--nodes', '100']), ['--max-semi-space-size=64', P]);
  assert.deepEqual(missingHeapFlags([], ['--threads', '1']), ['--max-semi-space-size=64', P]);
  for (const args of [
    ['--threads', '2'],
    ['--nodes', '9', '--threads=4'],
  ]) {
    assert.deepEqual(missingHeapFlags([], args), ['--max-semi-space-size=96', '--no-parallel-scavenge', P]);
  }
  // The caller's own flags win, and once all are there nothing is added (no second re-exec).
  assert.deepEqual(missingHeapFlags(['--max-semi-space-size=32'], ['--threads', '2']), [
    '--no-parallel-scavenge',
    P,
  ]);
  assert.deepEqual(
    missingHeapFlags(['--parallel-scavenge', '--allocation-site-pretenuring'], ['--threads', '2']),
    ['--max-semi-space-size=96'],
  );
  assert.deepEqual(
    missingHeapFlags(
      ['--max-semi-space-size=96', '--no-parallel-scavenge', P, '--import', 'tsx'],
      ['--threads', '2'],
    ),
    [],
  );
});
