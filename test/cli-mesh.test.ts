/**
 * The real CLI, three processes on loopback: the mesh forms, /peers shows it, chat reaches the
 * others, /send delivers byte-identical files to everyone or to one peer only.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sha256File, startMesh, tempDir, type Cli, type JsonEvent } from './cli-harness.js';

const TIMEOUT = { timeout: 30_000 };

interface PeerJson {
  id: string;
  name: string;
  address: string;
}

describe('meshwire CLI: a three-node mesh', { timeout: 90_000 }, () => {
  let dir: string;
  let alice: Cli;
  let bob: Cli;
  let charlie: Cli;
  const cleanups: (() => unknown)[] = [];

  before(
    async () => {
      dir = await tempDir((fn) => cleanups.push(fn));
      [alice, bob, charlie] = (await startMesh(['alice', 'bob', 'charlie'], dir, (fn) =>
        cleanups.push(fn),
      )) as [Cli, Cli, Cli];
    },
    { timeout: 45_000 },
  );

  after(async () => {
    // Children first (they hold files in the directory), then the directory.
    for (const fn of cleanups.reverse()) await fn();
  });

  it('forms a full mesh that /peers shows', TIMEOUT, async () => {
    const since = alice.mark();
    alice.send('/peers');
    const peers = await alice.waitForType('peers', () => true, { since });
    const info = peers.info as {
      name: string;
      peers: PeerJson[];
      known: { address: string; connected: boolean }[];
    };
    assert.equal(info.name, 'alice');
    assert.deepEqual(info.peers.map((p) => p.name).sort(), ['bob', 'charlie']);
    for (const p of info.peers) assert.match(p.id, /^[0-9a-f]{32}$/);
    assert.ok(info.known.filter((k) => k.connected).length >= 2, 'known peers include the connected ones');
  });

  it('delivers chat to the others and echoes it locally', TIMEOUT, async () => {
    const marks = [alice.mark(), bob.mark(), charlie.mark()];
    bob.send('network status looks good');
    const echo = await bob.waitForType('chat-sent', () => true, { since: marks[1] });
    assert.equal(echo.text, 'network status looks good');
    assert.equal(echo.sent, 2);
    for (const [node, since] of [
      [alice, marks[0]],
      [charlie, marks[2]],
    ] as const) {
      const chat = await node.waitForType('chat', () => true, { since });
      assert.equal(chat.text, 'network status looks good');
      assert.equal((chat.from as PeerJson).name, 'bob');
    }
  });

  it('/send offers the file and both others pull byte-identical copies (secure mode)', TIMEOUT, async () => {
    // Several pieces (256 KiB each) plus a partial one.
    const source = path.join(alice.cwd, 'payload.bin');
    await writeFile(source, randomBytes(3 * 256 * 1024 + 1234));
    const want = await sha256File(source);
    const marks = [alice.mark(), bob.mark(), charlie.mark()];
    alice.send('/send payload.bin');
    const [bobDone, charlieDone] = await Promise.all([
      bob.waitForType('download-complete', (e) => e.name === 'payload.bin', { since: marks[1] }),
      charlie.waitForType('download-complete', (e) => e.name === 'payload.bin', { since: marks[2] }),
    ]);
    const offered = await alice.waitForType('file-offered', () => true, { since: marks[0] });
    assert.deepEqual((offered.to as PeerJson[]).map((p) => p.name).sort(), ['bob', 'charlie']);
    const sent = await alice.waitForType('file-sent', () => true, { since: marks[0] });
    assert.equal(sent.root, offered.root);
    assert.deepEqual((sent.delivered as PeerJson[]).map((p) => p.name).sort(), ['bob', 'charlie']);
    assert.deepEqual(sent.refused, []);
    for (const [done, node, since] of [
      [bobDone, bob, marks[1]],
      [charlieDone, charlie, marks[2]],
    ] as const) {
      assert.equal(path.dirname(done.path as string), path.join(node.cwd, 'downloads'));
      assert.equal(await sha256File(done.path as string), want);
      const offer = await node.waitForType('file-offer', (e) => e.root === offered.root, { since });
      assert.equal(offer.push, true);
      assert.equal((offer.from as PeerJson).name, 'alice');
    }
  });

  it('/send to one peer reaches only it', TIMEOUT, async () => {
    await writeFile(path.join(alice.cwd, 'only-charlie.txt'), 'for charlie only\n');
    const marks = [alice.mark(), bob.mark(), charlie.mark()];
    alice.send('/send only-charlie.txt charlie');
    const done = await charlie.waitForType('download-complete', (e) => e.name === 'only-charlie.txt', {
      since: marks[2],
    });
    assert.equal(
      await sha256File(done.path as string),
      await sha256File(path.join(alice.cwd, 'only-charlie.txt')),
    );
    const sent = await alice.waitForType('file-sent', () => true, { since: marks[0] });
    assert.deepEqual(
      (sent.delivered as PeerJson[]).map((p) => p.name),
      ['charlie'],
    );
    // Barrier: a chat alice sends after the offer reaches bob over the same connection after
    // any offer would have; by then bob would have reported it. (Charlie's `have` announcement
    // may reach bob: a file he could /get, nothing pushed.)
    alice.send('barrier after the file');
    await bob.waitForType('chat', (e) => e.text === 'barrier after the file', { since: marks[1] });
    const bobFiles = bob.events
      .slice(marks[1])
      .filter((e: JsonEvent) => e.type.startsWith('download-') || (e.type === 'file-offer' && e.push));
    assert.deepEqual(bobFiles, []);
    assert.ok(!(await readdir(path.join(bob.cwd, 'downloads'))).includes('only-charlie.txt'));
  });

  it('reports unknown peers, unknown commands and missing files', TIMEOUT, async () => {
    await writeFile(path.join(alice.cwd, 'x.txt'), 'x');
    const errors: string[] = [];
    for (const line of ['/send x.txt nobody', '/send no-such-file.txt', '/frobnicate', '/send']) {
      const since = alice.mark();
      alice.send(line);
      const error = await alice.waitForType('command-error', () => true, { since });
      errors.push(error.message as string);
    }
    assert.match(errors[0] as string, /No connected peer named "nobody"/);
    assert.match(errors[1] as string, /no such file/);
    assert.match(errors[2] as string, /Unknown command \/frobnicate.*\/help/);
    assert.match(errors[3] as string, /Usage: \/send/);
  });
});
