/**
 * Malformed, out-of-order and hostile file frames (src/files) sent over real loopback sockets by
 * hand-made peers, to a node running a FileReceiver, in compat and secure mode. Every case must
 * end in 'file-error' events (never a crash), nothing written outside the downloads directory, no
 * `.part` file left behind, and the receiver still storing a good file afterwards.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FileReceiver, sendFile, type FileReceiverEvents } from '../src/files/index.js';
import type { P2PNode } from '../src/node.js';
import type { Mode, NodeOptions } from '../src/options.js';
import { createIdentity } from '../src/secure/index.js';
import { addressOf, MODES, RawCompatPeer, startNode, waitFor } from './helpers/nodes.js';
import { describeFrames, helloFrame, RawNativePeer } from './support-secure/raw-native.js';
import { EventLog } from './helpers/wait.js';

const TEST = { timeout: 15_000 };
const QUIET: NodeOptions = { maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000, autoConnectMax: 0 };
const WAIT_MS = 5_000;

const sha = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

type FileEvent = {
  [K in keyof FileReceiverEvents]: { type: K } & FileReceiverEvents[K];
}[keyof FileReceiverEvents];

/** Every receiver event, in order, with bounded waits for one that matches. */
class Events {
  readonly #log = new EventLog<FileEvent>();
  readonly all: FileEvent[] = this.#log.all;

  constructor(receiver: FileReceiver) {
    for (const type of ['file-start', 'file-progress', 'file-complete', 'file-error'] as const) {
      receiver.on(type, (event: FileReceiverEvents[typeof type]) =>
        this.#log.push({ type, ...event } as FileEvent),
      );
    }
  }

  errors(): { name?: string; code: string; message: string }[] {
    return this.all
      .filter((e): e is Extract<FileEvent, { type: 'file-error' }> => e.type === 'file-error')
      .map((e) => ({
        ...(e.name !== undefined ? { name: e.name } : {}),
        code: e.error.code,
        message: e.error.message,
      }));
  }

  /** Resolves once an event matching `match` has been seen (now or later). */
  seen(what: string, match: (e: FileEvent) => boolean): Promise<FileEvent> {
    return this.#log.waitFor(match, {
      timeoutMs: WAIT_MS,
      timeoutError: () =>
        new Error(`timed out waiting for ${what}; events: ${this.all.map((e) => e.type).join(', ')}`),
    });
  }
}

/** Every file and directory under `dir`, relative, sorted. */
async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => e.split(path.sep).join('/')).sort();
}

/** A hand-made hostile peer connected to the node: it sends BYTES payloads exactly as given. */
interface RawSender {
  id: string;
  sendBytes(payload: Uint8Array): void;
  close(): void;
}

async function rawSender(t: TestContext, node: P2PNode): Promise<RawSender> {
  if (node.mode === 'compat') {
    const raw = await RawCompatPeer.join(t, node, 'hostile');
    return {
      id: raw.id,
      sendBytes: (payload) => raw.send(Buffer.concat([Buffer.from(`BYTES:${payload.length}\n`), payload])),
      close: () => raw.socket.destroy(),
    };
  }
  const me = await createIdentity();
  const peer = await RawNativePeer.dial(t, node.port, me);
  const connected = waitFor(node, 'peer-connected', (m) => m.peer.id === me.id);
  peer.send(helloFrame(me.id, [], 'hostile'));
  assert.equal((await peer.nextFrame()).type, 'hello', describeFrames(peer.frames));
  await connected;
  return {
    id: me.id,
    sendBytes: (data) => peer.send({ type: 'bytes', data }),
    close: () => peer.socket.destroy(),
  };
}

/** A node with a FileReceiver in `<root>/downloads`, and a hostile raw peer connected to it. */
async function setup(
  t: TestContext,
  mode: Mode,
  options: { maxFileSize?: number; maxConcurrentTransfers?: number } = {},
) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'meshwire-hostile-files-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const downloadsDir = path.join(root, 'downloads');
  const node = await startNode(t, { mode, ...QUIET });
  const receiver = new FileReceiver(node, { downloadsDir, ...options });
  t.after(() => receiver.close());
  const events = new Events(receiver);
  await receiver.start();
  const sender = await rawSender(t, node);
  let markers = 0;
  /** Waits until the receiver has handled everything sent so far (a stray FILEEND is its echo). */
  const flush = async (): Promise<void> => {
    const name = `marker-${markers++}`;
    sender.sendBytes(Buffer.from(`FILEEND:${name}|${sha(Buffer.alloc(0))}\n`));
    await events.seen(`the ${name} echo`, (e) => e.type === 'file-error' && e.name === name);
  };
  /** Errors other than the flush markers' echoes. */
  const errors = () => events.errors().filter((e) => !e.name?.startsWith('marker-'));
  return { root, downloadsDir, node, receiver, events, sender, flush, errors };
}

const start = (name: string, size: number, digest: string): Buffer =>
  Buffer.from(`FILESTART:${name}|${size}|${digest}\n`);
const chunk = (name: string, data: Uint8Array): Buffer =>
  Buffer.concat([Buffer.from(`FILECHUNK:${name}\n`), data]);
const end = (name: string, digest: string): Buffer => Buffer.from(`FILEEND:${name}|${digest}\n`);

/** The receiver still stores a good file: from the hostile peer itself, then from a legitimate node. */
async function assertStillReceives(t: TestContext, ctx: Awaited<ReturnType<typeof setup>>): Promise<void> {
  const content = randomBytes(3000);
  ctx.sender.sendBytes(start('good.bin', content.length, sha(content)));
  ctx.sender.sendBytes(chunk('good.bin', content.subarray(0, 1000)));
  ctx.sender.sendBytes(chunk('good.bin', content.subarray(1000)));
  ctx.sender.sendBytes(end('good.bin', sha(content)));
  const done = await ctx.events.seen('good.bin', (e) => e.type === 'file-complete' && e.name === 'good.bin');
  assert.equal(done.type === 'file-complete' && done.path, path.join(ctx.downloadsDir, 'good.bin'));
  assert.deepEqual(await readFile(path.join(ctx.downloadsDir, 'good.bin')), content);

  const legit = await startNode(t, { mode: ctx.node.mode, name: 'legit', ...QUIET });
  const joined = waitFor(ctx.node, 'peer-connected', (m) => m.peer.id === legit.id);
  await legit.connectToPeer(addressOf(ctx.node));
  await joined;
  const heard = waitFor(ctx.node, 'chat', (m) => m.from.id === legit.id && m.text === 'hi');
  await legit.sendMessageToPeer(ctx.node.id, 'hi');
  await heard;
  const file = path.join(ctx.root, 'legit-source.txt');
  await writeFile(file, 'from a legitimate peer');
  await sendFile(legit, file, { to: ctx.node.id, name: 'legit.txt' });
  await ctx.events.seen('legit.txt', (e) => e.type === 'file-complete' && e.name === 'legit.txt');
  assert.equal(await readFile(path.join(ctx.downloadsDir, 'legit.txt'), 'utf8'), 'from a legitimate peer');
  await rm(file);
  assert.equal(ctx.receiver.activeTransfers, 0);
}

describe('malformed and out-of-order file frames', () => {
  for (const mode of MODES) {
    test(
      `${mode}: stray, truncated, overflowing and mismatched transfers end in file-error, no .part left`,
      TEST,
      async (t) => {
        const ctx = await setup(t, mode);
        const { sender } = ctx;
        const ten = Buffer.from('0123456789');
        // FILECHUNK and FILEEND without FILESTART.
        sender.sendBytes(chunk('stray.txt', ten));
        sender.sendBytes(end('stray.txt', sha(ten)));
        // FILESTART announcing 10 bytes, 5 arrive, then FILEEND.
        sender.sendBytes(start('short.txt', 10, sha(ten)));
        sender.sendBytes(chunk('short.txt', ten.subarray(0, 5)));
        sender.sendBytes(end('short.txt', sha(ten)));
        // 10 announced, 20 sent: refused at the overflowing chunk; later frames of it are dropped.
        sender.sendBytes(start('long.txt', 10, sha(ten)));
        sender.sendBytes(chunk('long.txt', Buffer.concat([ten, ten])));
        sender.sendBytes(chunk('long.txt', ten));
        sender.sendBytes(end('long.txt', sha(ten)));
        // FILEEND with another hash than FILESTART announced.
        sender.sendBytes(start('hash1.txt', 10, sha(ten)));
        sender.sendBytes(chunk('hash1.txt', ten));
        sender.sendBytes(end('hash1.txt', sha(Buffer.from('other'))));
        // Content that does not match the hash announced (and repeated) by the sender.
        sender.sendBytes(start('hash2.txt', 10, sha(Buffer.from('other'))));
        sender.sendBytes(chunk('hash2.txt', ten));
        sender.sendBytes(end('hash2.txt', sha(Buffer.from('other'))));
        // A transfer restarted by a second FILESTART of the same name.
        sender.sendBytes(start('again.txt', 10, sha(ten)));
        sender.sendBytes(chunk('again.txt', ten.subarray(0, 3)));
        sender.sendBytes(start('again.txt', 10, sha(ten)));
        await ctx.flush();
        assert.deepEqual(
          ctx.errors().map((e) => `${e.name}: ${e.code}`),
          [
            'stray.txt: ERR_FILE_PROTOCOL',
            'stray.txt: ERR_FILE_PROTOCOL',
            'short.txt: ERR_FILE_INTEGRITY',
            'long.txt: ERR_FILE_INTEGRITY',
            'hash1.txt: ERR_FILE_INTEGRITY',
            'hash2.txt: ERR_FILE_INTEGRITY',
            'again.txt: ERR_ABORTED',
          ],
        );
        assert.match(ctx.errors()[2]?.message ?? '', /received 5 of the announced 10/);
        assert.match(ctx.errors()[3]?.message ?? '', /more data than the announced 10/);
        // The restarted transfer is still open: its .part exists until it completes.
        assert.deepEqual(await walk(ctx.root), ['downloads', 'downloads/again.txt.part']);
        sender.sendBytes(chunk('again.txt', ten));
        sender.sendBytes(end('again.txt', sha(ten)));
        await ctx.events.seen('again.txt', (e) => e.type === 'file-complete' && e.name === 'again.txt');
        assert.deepEqual(await walk(ctx.root), ['downloads', 'downloads/again.txt']);
        await assertStillReceives(t, ctx);
      },
    );
  }

  test('compat: malformed headers are file-errors, never crashes', TEST, async (t) => {
    const ctx = await setup(t, 'compat', { maxFileSize: 4096 });
    const digest = sha(Buffer.from('x'));
    const frames = [
      'FILESTART:x.txt|abc|' + digest,
      'FILESTART:x.txt|10',
      'FILESTART:|10|' + digest,
      'FILESTART:x.txt|-1|' + digest,
      'FILESTART:x.txt|99999999999999999999|' + digest,
      'FILESTART:x.txt|10|' + digest.toUpperCase(),
      'FILESTART:x.txt|10|' + digest + '\nextra',
      'FILESTART:big.txt|8192|' + digest,
      'FILECHUNK:no-newline',
      'FILECHUNK:\ncontent',
      'FILEEND:x.txt',
      'FILEEND:x.txt|nothex',
      `FILESTART:${'n'.repeat(5000)}|1|${digest}`,
    ];
    for (const frame of frames) ctx.sender.sendBytes(Buffer.from(frame));
    ctx.sender.sendBytes(
      Buffer.concat([Buffer.from('FILESTART:'), Buffer.from([0xff, 0xfe]), Buffer.from(`|1|${digest}\n`)]),
    );
    await ctx.flush();
    const codes = ctx.errors().map((e) => e.code);
    assert.equal(codes.length, frames.length + 1, JSON.stringify(ctx.errors()));
    assert.deepEqual(
      new Set(codes),
      new Set(['ERR_FILE_PROTOCOL', 'ERR_FILE_TOO_LARGE']),
      JSON.stringify(ctx.errors()),
    );
    assert.deepEqual(await walk(ctx.root), ['downloads']);
    await assertStillReceives(t, ctx);
  });
});

describe('hostile file names', () => {
  for (const mode of MODES) {
    test(
      `${mode}: ../, absolute, backslash, NUL and friends are refused; nothing leaves downloads/`,
      TEST,
      async (t) => {
        const ctx = await setup(t, mode);
        const passwd = await readFile('/etc/passwd').catch(() => undefined);
        const passwdMtime = passwd ? (await stat('/etc/passwd')).mtimeMs : undefined;
        const names = [
          '../escape.txt',
          '../../escape.txt',
          '/etc/passwd',
          `/${path.join(ctx.root, 'abs.txt')}`,
          'a\\b',
          '..\\escape.txt',
          'a\0b',
          'a\nb',
          '..',
          '.',
          'sub/dir.txt',
          'C:evil.txt',
          'x'.repeat(300),
          'bad\u0085c1.txt',
        ];
        const content = Buffer.from('pwned\n');
        for (const name of names) {
          ctx.sender.sendBytes(start(name, content.length, sha(content)));
          ctx.sender.sendBytes(chunk(name, content));
          ctx.sender.sendBytes(end(name, sha(content)));
        }
        await ctx.flush();
        const errors = ctx.errors();
        // One error per name (for the refused FILESTART; its chunk and end are dropped quietly),
        // except names the frame format itself cannot carry ('\n' ends the header line).
        assert.deepEqual(
          errors.filter((e) => e.code === 'ERR_FILE_NAME').map((e) => e.name),
          names.filter((n) => !n.includes('\n')),
          JSON.stringify(errors),
        );
        assert.ok(
          errors.every((e) => e.code === 'ERR_FILE_NAME' || e.code === 'ERR_FILE_PROTOCOL'),
          JSON.stringify(errors),
        );
        assert.deepEqual(await walk(ctx.root), ['downloads'], 'nothing written anywhere');
        for (const dir of [path.dirname(ctx.root), os.tmpdir(), process.cwd()]) {
          await assert.rejects(stat(path.join(dir, 'escape.txt')), { code: 'ENOENT' });
        }
        if (passwd) {
          assert.deepEqual(await readFile('/etc/passwd'), passwd);
          assert.equal((await stat('/etc/passwd')).mtimeMs, passwdMtime);
        }
        await assertStillReceives(t, ctx);
        assert.deepEqual(await walk(ctx.root), ['downloads', 'downloads/good.bin', 'downloads/legit.txt']);
      },
    );
  }
});

describe('transfers cut short', () => {
  for (const mode of MODES) {
    test(
      `${mode}: a sender that disconnects mid-transfer leaves no .part; transfers beyond the cap are refused`,
      TEST,
      async (t) => {
        const ctx = await setup(t, mode, { maxConcurrentTransfers: 4 });
        const big = randomBytes(64 * 1024);
        for (let i = 0; i < 6; i++) {
          ctx.sender.sendBytes(start(`f${i}.bin`, big.length, sha(big)));
          ctx.sender.sendBytes(chunk(`f${i}.bin`, big.subarray(0, 1000)));
        }
        await ctx.flush();
        assert.deepEqual(
          ctx.errors().map((e) => `${e.name}: ${e.code}`),
          ['f4.bin: ERR_TOO_MANY_PENDING', 'f5.bin: ERR_TOO_MANY_PENDING'],
        );
        assert.equal((await walk(ctx.downloadsDir)).filter((f) => f.endsWith('.part')).length, 4);
        ctx.sender.close();
        await ctx.events.seen(
          'the four aborted transfers',
          () => ctx.errors().filter((e) => e.code === 'ERR_CONNECTION_CLOSED').length === 4,
        );
        assert.equal(ctx.receiver.activeTransfers, 0);
        assert.deepEqual(await walk(ctx.root), ['downloads']);
        // The hostile peer is gone, so only the legitimate node's file can be checked now.
        const legit = await startNode(t, { mode, name: 'legit', ...QUIET });
        await legit.connectToPeer(addressOf(ctx.node));
        const file = path.join(ctx.root, 'after.txt');
        await writeFile(file, 'after');
        await sendFile(legit, file, { to: ctx.node.id, name: 'after.txt' });
        await ctx.events.seen('after.txt', (e) => e.type === 'file-complete' && e.name === 'after.txt');
        await rm(file);
        assert.deepEqual(await walk(ctx.root), ['downloads', 'downloads/after.txt']);
      },
    );
  }
});
