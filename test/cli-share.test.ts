/**
 * Secure-mode files through the real CLI: `/share` + `/get <prefix>` between two CLIs, `/files`,
 * `--accept-files none|ask` against a library FileShare that pushes offers, and a download that
 * resumes after the receiving CLI is killed with SIGKILL and started again in the same folder.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { it } from 'node:test';
import { P2PNode } from '../src/index.js';
import { FileShare } from '../src/files/index.js';
import { AcceptPrompt } from '../src/cli/accept-prompt.js';
import { parseCli } from '../src/cli/args.js';
import { parseCommand } from '../src/cli/commands.js';
import { resolveRootPrefix } from '../src/cli/root-prefix.js';
import { Cli, FAST, sha256File, startMesh, tempDir, type JsonEvent } from './cli-harness.js';

const TIMEOUT = { timeout: 60_000 };

it('/share prints a root, /get <prefix> fetches it, /files lists both sides', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const [alice, bob] = (await startMesh(['alice', 'bob'], dir, (fn) => t.after(fn))) as [Cli, Cli];
  const source = path.join(alice.cwd, 'notes.bin');
  await writeFile(source, randomBytes(700 * 1024 + 17));

  alice.send('/share notes.bin');
  const shared = await alice.waitForType('file-shared');
  const root = shared.root as string;
  assert.match(root, /^[0-9a-f]{64}$/);
  assert.equal(shared.size, 700 * 1024 + 17);
  const offer = await bob.waitForType('file-offer', (e) => e.root === root);
  assert.equal(offer.push, false);
  assert.equal(offer.name, 'notes.bin');

  // Errors first: a prefix that is too short, not hex, or unknown says what to do.
  const errors: JsonEvent[] = [];
  for (const line of ['/get ab', '/get xyz!', `/get ${root.startsWith('0000') ? 'ffff' : '0000'}`]) {
    const since = bob.mark();
    bob.send(line);
    errors.push(await bob.waitForType('command-error', () => true, { since }));
  }
  assert.match(errors[0]?.message as string, /too short/);
  assert.match(errors[1]?.message as string, /Not a root/);
  assert.match(errors[2]?.message as string, /No file offered with a root starting with/);
  assert.match(errors[2]?.hint as string, /\/share/);

  const since = bob.mark();
  bob.send(`/get ${root.slice(0, 8)}`);
  const started = await bob.waitForType('download-start', (e) => e.root === root, { since });
  assert.equal(started.resumed, false);
  const done = await bob.waitForType('download-complete', (e) => e.root === root, {
    since,
    timeoutMs: 30_000,
  });
  assert.equal(done.path, path.join(bob.cwd, 'downloads', 'notes.bin'));
  assert.equal(await sha256File(done.path as string), await sha256File(source));

  // /files: bob now serves the file too; alice lists her share.
  const marks = [alice.mark(), bob.mark()];
  alice.send('/files');
  bob.send('/files');
  const aliceFiles = await alice.waitForType('files', () => true, { since: marks[0] });
  const bobFiles = await bob.waitForType('files', () => true, { since: marks[1] });
  const row = (e: JsonEvent): Record<string, unknown> | undefined =>
    (e.files as Record<string, unknown>[]).find((f) => f.root === root);
  assert.equal(row(aliceFiles)?.status, 'shared');
  assert.equal(row(aliceFiles)?.path, source);
  assert.equal(row(bobFiles)?.status, 'shared');
  assert.equal(row(bobFiles)?.bytesDone, 700 * 1024 + 17);

  // Asking again for a file already held fetches nothing.
  const again = bob.mark();
  bob.send(`/get ${root.slice(0, 8)}`);
  const info = await bob.waitForType('info', (e) => /Already have notes\.bin/.test(e.text as string), {
    since: again,
  });
  assert.ok(info);
});

it('/files in text mode shows a table, and /files --json one JSON line', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const cwd = path.join(dir, 'text');
  await mkdir(cwd);
  await writeFile(path.join(cwd, 'a.txt'), 'hello\n');
  const cli = new Cli(['--host', '127.0.0.1', '--name', 'text', '0'], {
    cwd,
    cleanup: (fn) => t.after(fn),
    label: 'text',
  });
  await cli.waitForLine(/listening on port/);
  cli.send('/files');
  await cli.waitForLine(/\[FILE\] No transfers, shared files or offers yet/);
  cli.send('/share a.txt');
  const sharing = await cli.waitForLine(/\[FILE\] Sharing a\.txt \(6 bytes\), root [0-9a-f]{64}/);
  const root = /root ([0-9a-f]{64})/.exec(sharing)?.[1] as string;
  cli.send('/files');
  await cli.waitForLine(new RegExp(`^\\s+shared\\s+${root.slice(0, 12)}\\s+a\\.txt\\s+100\\.0% of 6 bytes`));
  cli.send('/files --json');
  const json = await cli.waitForLine(/^\{"type":"files"/);
  const parsed = JSON.parse(json) as { files: { root: string; status: string }[] };
  assert.deepEqual(
    parsed.files.map((f) => [f.root, f.status]),
    [[root, 'shared']],
  );
  cli.send('/get');
  await cli.waitForLine(/Usage: \/get <root-prefix>/);
});

it('parses /share, /get, /files and --accept-files', () => {
  assert.deepEqual(parseCommand('/share "my file.txt"'), { kind: 'share', file: 'my file.txt' });
  assert.deepEqual(parseCommand('/get 1a2b'), { kind: 'get', root: '1a2b' });
  assert.deepEqual(parseCommand('/files'), { kind: 'files', json: false });
  assert.deepEqual(parseCommand('/files --json'), { kind: 'files', json: true });
  assert.equal(parseCommand('/files -x').kind, 'error');
  assert.equal(parseCommand('/share a b').kind, 'error');
  const config = (argv: string[]): unknown => {
    const parsed = parseCli(argv, {}, '/tmp');
    return parsed.kind === 'run' ? parsed.config.acceptFiles : (parsed as { message?: string }).message;
  };
  assert.equal(config(['0']), 'all');
  assert.equal(config(['--accept-files', 'none', '0']), 'none');
  assert.equal(config(['--accept-files', 'ask', '0']), 'ask');
  assert.match(config(['--accept-files', 'maybe', '0']) as string, /--accept-files must be ask, all or none/);
  assert.match(config(['--compat', '--accept-files', 'none', '0']) as string, /needs secure mode/);
  assert.match(config(['--no-input', '--accept-files', 'ask', '0']) as string, /needs input/);
});

it('resolves a root prefix: unique, ambiguous (listed), unknown, too short, a full root', () => {
  const a = 'ab12'.padEnd(64, '0');
  const b = 'ab13'.padEnd(64, '1');
  const known = new Map([
    [a, { name: 'a.txt' }],
    [b, { name: 'b.txt' }],
  ]);
  assert.deepEqual(resolveRootPrefix('AB12', known), { root: a });
  const ambiguous = resolveRootPrefix('ab1', known);
  assert.ok('error' in ambiguous);
  assert.match(ambiguous.error, /too short/);
  const amb = resolveRootPrefix('ab12', new Map([...known, ['ab12'.padEnd(64, '3'), { name: 'd.txt' }]]));
  assert.ok(
    'error' in amb && /ambiguous: ab1200000000 "a\.txt", ab1233333333 "d\.txt"/.test(amb.error),
    JSON.stringify(amb),
  );
  assert.match((resolveRootPrefix('ffff', known) as { hint: string }).hint, /\/share/);
  assert.deepEqual(resolveRootPrefix('f'.repeat(64), known), { root: 'f'.repeat(64) });
  assert.match((resolveRootPrefix('xyz0', known) as { error: string }).error, /Not a root/);
});

it('an unanswered question refuses after the timeout; answers go to the oldest question', async () => {
  const prompt = new AcceptPrompt(50);
  // The prompt's timer does not hold the process open (the CLI does): this test must.
  const hold = setInterval(() => undefined, 1000);
  const asked: number[] = [];
  const first = prompt.question(() => asked.push(1));
  const second = prompt.question(() => asked.push(2));
  assert.deepEqual(asked, [1]);
  assert.equal(prompt.answer('maybe'), false, 'not an answer: the line is a command or chat');
  assert.equal(prompt.answer('Y'), true);
  assert.deepEqual(await first, { accepted: true, by: 'user' });
  assert.deepEqual(asked, [1, 2]);
  assert.deepEqual(await second, { accepted: false, by: 'timeout' });
  assert.equal(prompt.pending, false);
  assert.equal(prompt.answer('y'), false, 'no question waits');
  clearInterval(hold);
});

/** A library node + FileShare that pushes offers to a CLI (as `sendFile` does). */
async function pusher(t: { after: (fn: () => unknown) => void }, dir: string, port: number) {
  const node = new P2PNode({ host: '127.0.0.1', port: 0, name: 'pusher' });
  t.after(() => node.close());
  const share = new FileShare(node, { downloadsDir: path.join(dir, 'pusher-downloads') });
  t.after(() => share.close());
  await node.start();
  await share.start();
  const peer = await node.connectToPeer(`127.0.0.1:${port}`);
  return { node, share, peer };
}

it('--accept-files none refuses every offer; nothing is written', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const cwd = path.join(dir, 'none');
  await mkdir(cwd);
  const cli = new Cli([...FAST, '--name', 'none', '--accept-files', 'none', '0'], {
    cwd,
    cleanup: (fn) => t.after(fn),
    label: 'none',
  });
  const { share, peer } = await pusher(t, dir, await cli.port());
  const file = path.join(dir, 'unwanted.bin');
  await writeFile(file, randomBytes(64 * 1024));
  const refused = new Promise<string>((resolve) => share.once('offer-refused', (e) => resolve(e.rootHex)));
  const { offer } = await share.sendFile(file, { to: peer.id });
  assert.equal(await refused, offer.rootHex);
  const answer = await cli.waitForType('accept-answer', (e) => e.root === offer.rootHex);
  assert.deepEqual([answer.accepted, answer.by], [false, 'policy']);
  assert.ok(!cli.events.some((e) => e.type === 'download-start'));
  const entries = await readdir(path.join(cwd, 'downloads')).catch(() => []);
  assert.deepEqual(
    entries.filter((n) => n !== '.meshwire'),
    [],
  );
});

it('--accept-files ask: y accepts, n refuses', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const cwd = path.join(dir, 'ask');
  await mkdir(cwd);
  const cli = new Cli([...FAST, '--name', 'ask', '--accept-files', 'ask', '0'], {
    cwd,
    cleanup: (fn) => t.after(fn),
    label: 'ask',
  });
  const { share, peer } = await pusher(t, dir, await cli.port());
  const wanted = path.join(dir, 'wanted.bin');
  const unwanted = path.join(dir, 'unwanted.bin');
  await writeFile(wanted, randomBytes(300 * 1024));
  await writeFile(unwanted, randomBytes(1000));

  const yes = await share.sendFile(wanted, { to: peer.id });
  await cli.waitForType('accept-question', (e) => e.root === yes.offer.rootHex);
  cli.send('y');
  const done = await cli.waitForType('download-complete', (e) => e.root === yes.offer.rootHex);
  assert.equal(await sha256File(done.path as string), await sha256File(wanted));

  const refused = new Promise<string>((resolve) => share.once('offer-refused', (e) => resolve(e.rootHex)));
  const no = await share.sendFile(unwanted, { to: peer.id });
  await cli.waitForType('accept-question', (e) => e.root === no.offer.rootHex);
  cli.send('n');
  assert.equal(await refused, no.offer.rootHex);
  const answer = await cli.waitForType('accept-answer', (e) => e.root === no.offer.rootHex);
  assert.deepEqual([answer.accepted, answer.by], [false, 'user']);
});

it('a download resumes after the receiving CLI is killed (SIGKILL) and restarted', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const size = 3 * 1024 * 1024;
  // Paced to 512 KiB/s per peer, 3 MiB takes ~6 s: ample time to kill the receiver mid-way.
  const [sender, receiver] = (await startMesh(
    ['sender', 'receiver'],
    dir,
    (fn) => t.after(fn),
    (name) => (name === 'sender' ? ['--rate-limit', '512K'] : []),
  )) as [Cli, Cli];
  const source = path.join(sender.cwd, 'big.bin');
  await writeFile(source, randomBytes(size));
  sender.send('/share big.bin');
  const root = (await sender.waitForType('file-shared')).root as string;
  await receiver.waitForType('file-offer', (e) => e.root === root);
  receiver.send(`/get ${root.slice(0, 10)}`);
  // Past a third, so that a resume state (written at least every second) holds verified pieces.
  await receiver.waitForType(
    'download-progress',
    (e) => e.root === root && (e.bytesDone as number) >= size / 3 && (e.bytesDone as number) < size,
  );
  receiver.child.kill('SIGKILL');
  await receiver.exited;
  const downloads = path.join(receiver.cwd, 'downloads');
  assert.ok((await readdir(downloads)).includes('big.bin.part'), 'the .part survives the crash');

  const port = await sender.port();
  const again = new Cli([...FAST, '--name', 'receiver', '0', `127.0.0.1:${port}`], {
    cwd: receiver.cwd,
    cleanup: (fn) => t.after(fn),
    label: 'receiver-again',
  });
  const resumed = await again.waitForType('download-start', (e) => e.root === root);
  assert.equal(resumed.resumed, true);
  assert.ok((resumed.bytesDone as number) > 0, 'verified pieces were kept');
  assert.ok((resumed.bytesDone as number) < size);
  t.diagnostic(
    `killed past ${size / 3} bytes; ${resumed.bytesDone as number} of ${size} bytes kept at restart`,
  );
  const done = await again.waitForType('download-complete', (e) => e.root === root, { timeoutMs: 40_000 });
  assert.equal(done.path, path.join(downloads, 'big.bin'));
  assert.equal(await sha256File(done.path as string), await sha256File(source));
  assert.ok(!(await readdir(downloads)).includes('big.bin.part'));
});

it(
  'secure /send: a sender killed mid-transfer leaves the download paused with its .part',
  TIMEOUT,
  async (t) => {
    const dir = await tempDir((fn) => t.after(fn));
    const [sender, bob] = (await startMesh(
      ['sender', 'bob'],
      dir,
      (fn) => t.after(fn),
      (name) => (name === 'sender' ? ['--rate-limit', '256K'] : []),
    )) as [Cli, Cli];
    await writeFile(path.join(sender.cwd, 'big.bin'), randomBytes(2 * 1024 * 1024));
    sender.send('/send big.bin bob');
    const progress = await bob.waitForType('download-progress', (e) => (e.bytesDone as number) > 0);
    sender.child.kill('SIGKILL');
    const paused = await bob.waitForType('download-paused', (e) => e.root === progress.root);
    assert.ok((paused.bytesDone as number) < 2 * 1024 * 1024);
    assert.ok(!bob.events.some((e) => e.type === 'download-complete' || e.type === 'download-failed'));
    assert.ok((await readdir(path.join(bob.cwd, 'downloads'))).includes('big.bin.part'), 'kept to resume');
    bob.send('/files');
    const files = await bob.waitForType('files');
    const row = (files.files as { root: string; status: string }[]).find((f) => f.root === progress.root);
    assert.equal(row?.status, 'paused');
  },
);

it('compat mode: /share, /get and /files say they need secure mode', TIMEOUT, async (t) => {
  const dir = await tempDir((fn) => t.after(fn));
  const cli = new Cli([...FAST, '--compat', '--name', 'old', '0'], {
    cwd: dir,
    cleanup: (fn) => t.after(fn),
    label: 'compat',
  });
  await cli.port();
  for (const line of ['/share a.txt', '/get abcd', '/files']) {
    const since = cli.mark();
    cli.send(line);
    const error = await cli.waitForType('command-error', () => true, { since });
    assert.match(error.message as string, /needs secure mode/, line);
    assert.match(error.hint as string, /\/send/);
  }
});
