/**
 * Hostile frames over real loopback sockets, in compat and secure mode: length headers that claim
 * gigabytes, frames started before the hello or left half-sent by refused clients, request floods
 * from a peer that never reads, invalid UTF-8, PEERS lists far past the limits, and control lines
 * or handshake frames sent after the handshake. Every case checks that only the offending peer is
 * dropped, with a clear error code, that memory stays bounded (ArrayBuffer bytes measured after a
 * full collection), and that the node then still serves a legitimate peer (a fresh node connects
 * and a chat crosses both ways).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DEFAULT_CODEC_LIMITS } from '../src/codec/codec.js';
import type { Frame } from '../src/codec/frame.js';
import { NativeDecoder } from '../src/codec/native.js';
import type { MeshwireError } from '../src/errors.js';
import type { MeshMessage } from '../src/messages.js';
import type { P2PNode } from '../src/node.js';
import type { NodeOptions } from '../src/options.js';
import { createIdentity, type Identity } from '../src/secure/index.js';
import { HelloFirstDecoder } from '../src/session/hello-first.js';
import {
  closedPort,
  RawCompatListener,
  RawCompatPeer,
  record,
  startNode,
  waitFor,
  waitUntil,
  assertServesLegitimatePeer,
  ofType,
} from './helpers/nodes.js';
import {
  describeFrames,
  encodeFrames,
  helloFrame,
  rawNativeServer,
  RawNativePeer,
} from './support-secure/raw-native.js';

const TEST = { timeout: 15_000 };
/** No heartbeat or stale-peer cleanup during a test: raw peers see only what the test causes. */
const QUIET: NodeOptions = { maintenanceIntervalMs: 60_000, peerTimeoutMs: 60_000, autoConnectMax: 0 };
const MiB = 1024 * 1024;

/** A compat node with quiet maintenance and no dials of its own. */
function compatNode(t: TestContext, options: NodeOptions = {}): Promise<P2PNode> {
  return startNode(t, { mode: 'compat', ...QUIET, ...options });
}

/** The same in secure mode. */
function secureNode(t: TestContext, options: NodeOptions = {}): Promise<P2PNode> {
  return startNode(t, { mode: 'secure', ...QUIET, ...options });
}

/** One native frame built by hand: u32 length (type + body), type byte, body (PROTOCOL.md rule 5). */
function rawFrame(type: number, body: Uint8Array = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(5);
  header.writeUInt32BE(body.length + 1, 0);
  header[4] = type;
  return Buffer.concat([header, body]);
}

/** A native `string`: u16 byte length, then the bytes (not checked: tests put invalid UTF-8 here). */
function rawString(bytes: Uint8Array): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length, 0);
  return Buffer.concat([length, bytes]);
}

const T_HELLO = 0x01;
const T_REJECT = 0x02;
const T_PEERS = 0x06;
const T_CHAT = 0x07;
const T_BYTES = 0x08;
const T_GOODBYE = 0x0a;
/** Bytes that no UTF-8 decoder accepts: a lone continuation byte, an overlong '/', a surrogate. */
const BAD_UTF8 = [
  Buffer.from([0x68, 0x69, 0xff]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
];

/** A fresh identity for a hand-made native peer: any self-signed certificate passes TLS. */
function identity(): Promise<Identity> {
  return createIdentity();
}

/** Dials `node` with a raw TLS peer and completes the native handshake by hand. */
async function joinNative(t: TestContext, node: P2PNode): Promise<{ peer: RawNativePeer; id: string }> {
  const me = await identity();
  const peer = await RawNativePeer.dial(t, node.port, me);
  const connected = waitFor(node, 'peer-connected', (m) => m.peer.id === me.id);
  peer.send(helloFrame(me.id, [`127.0.0.1:${await closedPort()}`], 'raw'));
  const hello = await peer.nextFrame();
  assert.equal(hello.type, 'hello', describeFrames(peer.frames));
  await connected;
  return { peer, id: me.id };
}

/** Resolves with the error event and the disconnect of the connected peer `id`. */
function droppedWith(node: P2PNode, id: string) {
  return Promise.all([
    waitFor(node, 'error', (m) => m.peer?.id === id),
    waitFor(node, 'peer-disconnected', (m) => m.peer.id === id),
  ]);
}

v8.setFlagsFromString('--expose-gc');
/** A full garbage collection, so that memory figures show what is still reachable. */
const gc = vm.runInNewContext('gc') as () => void;

/** Bytes held by ArrayBuffers (Buffers included) after a full collection. */
function arrayBuffers(): number {
  gc();
  return process.memoryUsage().arrayBuffers;
}

/**
 * ArrayBuffer bytes held now beyond `before`, once that figure is under `limit`, or after 2 s:
 * V8 frees large backing stores after the collection, on another thread, so one reading right
 * after gc() may still count buffers that are already garbage. Memory that stays reachable stays
 * counted, and the caller's assertion then fails with the settled figure.
 */
async function heldSince(before: number, limit: number): Promise<number> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const held = arrayBuffers() - before;
    if (held < limit || Date.now() > deadline) return held;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('oversize length headers', () => {
  for (const [header, code] of [
    ['BYTES:99999999999', 'ERR_FRAME_TOO_LARGE'],
    ['BYTES:-1', 'ERR_MALFORMED_FRAME'],
    [`BYTES:${'9'.repeat(400)}`, 'ERR_FRAME_TOO_LARGE'],
  ] as const) {
    test(
      `compat ${header.slice(0, 24)}: that peer is dropped with ${code}, nothing allocated`,
      TEST,
      async (t) => {
        const node = await compatNode(t);
        const messages = record(node);
        const bad = await RawCompatPeer.join(t, node, 'bad', '127.0.0.1:1');
        const dropped = droppedWith(node, bad.id);
        const before = arrayBuffers();
        bad.send(`${header}\n${'x'.repeat(1000)}`);
        const [error, gone] = await dropped;
        const grown = await heldSince(before, 8 * MiB);
        assert.equal(error.error.code, code);
        assert.equal(gone.reason, 'protocol-error');
        assert.ok(grown < 8 * MiB, `arrayBuffers grew by ${grown} bytes`);
        await bad.expectClose();
        assert.deepEqual(ofType(messages, 'bytes'), []);
        assert.deepEqual(node.getPeerInfo().peers, []);
        await assertServesLegitimatePeer(t, node);
      },
    );
  }

  test(
    'compat BYTES:99999999999 in the same write as the hello: refused before any answer is used',
    TEST,
    async (t) => {
      const node = await compatNode(t);
      const errors: MeshMessage[] = [];
      node.on('error', (m) => errors.push(m));
      const bad = await RawCompatPeer.dial(t, node.port);
      const before = arrayBuffers();
      bad.send(`${bad.id}:bad\nBYTES:99999999999\n`);
      await bad.expectClose();
      assert.ok((await heldSince(before, 8 * MiB)) < 8 * MiB);
      await waitUntil([node], () => node.getPeerInfo().peers.length === 0, 'the peer is gone');
      await assertServesLegitimatePeer(t, node);
    },
  );

  for (const [what, length] of [
    ['4 GiB (0xffffffff)', 0xffffffff],
    ['one byte past the limit', 16 * MiB + 2],
  ] as const) {
    test(`native frame claiming ${what}: ERR_FRAME_TOO_LARGE after the handshake`, TEST, async (t) => {
      const node = await secureNode(t);
      const { peer, id } = await joinNative(t, node);
      const dropped = droppedWith(node, id);
      const header = Buffer.alloc(5);
      header.writeUInt32BE(length, 0);
      header[4] = T_BYTES;
      const before = arrayBuffers();
      const rssBefore = process.memoryUsage().rss;
      peer.socket.write(Buffer.concat([header, randomBytes(64 * 1024)]));
      const [error, gone] = await dropped;
      const grown = await heldSince(before, 8 * MiB);
      const rssGrown = process.memoryUsage().rss - rssBefore;
      t.diagnostic(`arrayBuffers +${(grown / MiB).toFixed(2)} MiB, rss +${(rssGrown / MiB).toFixed(2)} MiB`);
      assert.equal(error.error.code, 'ERR_FRAME_TOO_LARGE');
      assert.equal(gone.reason, 'protocol-error');
      assert.ok(grown < 8 * MiB, `arrayBuffers grew by ${grown} bytes`);
      await peer.expectClose();
      await assertServesLegitimatePeer(t, node);
    });
  }

  test(
    'native frame claiming 4 GiB before the hello: reported with the address, never allocated',
    TEST,
    async (t) => {
      const node = await secureNode(t);
      const reported = waitFor(node, 'error', (m) => m.error.code === 'ERR_FRAME_TOO_LARGE');
      const peers = await Promise.all(
        Array.from({ length: 8 }, async () => RawNativePeer.dial(t, node.port, await identity())),
      );
      const before = arrayBuffers();
      for (const peer of peers) peer.socket.write(Buffer.from([0xff, 0xff, 0xff, 0xff, T_BYTES, 1, 2, 3]));
      await Promise.all(peers.map((p) => p.expectClose()));
      const { error, address } = await reported;
      assert.match(error.message, /exceeds/);
      assert.match(address ?? '', /^127\.0\.0\.1:\d+$/);
      assert.ok((await heldSince(before, 8 * MiB)) < 8 * MiB);
      for (const peer of peers) assert.deepEqual(peer.frames, [], 'the node answered nothing');
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'native BYTES frame of an allowed size before the hello: refused from its header (rule 27), not buffered',
    TEST,
    async (t) => {
      // 16 unauthenticated clients (any self-signed certificate will do) each announce a 16 MiB
      // BYTES frame instead of a hello and send 1 MiB of it. Nothing but auth / hello / reject /
      // goodbye may come before the hello, so none of it may be held.
      const node = await secureNode(t);
      const codes: string[] = [];
      node.on('error', (m) => codes.push(m.error.code));
      const peers = await Promise.all(
        Array.from({ length: 16 }, async () => RawNativePeer.dial(t, node.port, await identity())),
      );
      // One buffer for all: what the attacking sockets hold must not count as the node's memory.
      const start = Buffer.alloc(5 + MiB, 1);
      start.writeUInt32BE(16 * MiB + 1, 0);
      start[4] = T_BYTES;
      const before = arrayBuffers();
      for (const peer of peers) peer.socket.write(start);
      await Promise.all(peers.map((p) => p.expectClose()));
      const grown = await heldSince(before, 8 * MiB);
      t.diagnostic(`arrayBuffers +${(grown / MiB).toFixed(2)} MiB for 16 clients announcing 16 MiB each`);
      assert.ok(grown < 16 * MiB, `arrayBuffers grew by ${(grown / MiB).toFixed(1)} MiB`);
      await waitUntil([node], () => codes.length === 16, 'every client is reported');
      assert.deepEqual(new Set(codes), new Set(['ERR_UNEXPECTED_FRAME']));
      await assertServesLegitimatePeer(t, node);
    },
  );
  test(
    'compat: clients refused with MAX_PEERS cannot leave a started BYTES payload buffered',
    TEST,
    async (t) => {
      // The node is full; each client sends its hello and, in the same write, 1 MiB of a 16 MiB
      // BYTES message, gets MAX_PEERS, and then keeps its socket open without reading.
      const node = await compatNode(t, { maxPeers: 1 });
      const first = await RawCompatPeer.join(t, node, 'first');
      const clients = await Promise.all(Array.from({ length: 16 }, () => RawCompatPeer.dial(t, node.port)));
      const payload = Buffer.alloc(MiB, 1);
      const before = arrayBuffers();
      for (const client of clients) {
        client.send(`${client.id}:late\nBYTES:${16 * MiB}\n`);
        client.send(payload);
      }
      for (const client of clients) assert.equal(await client.readLine(), 'MAX_PEERS');
      const held = await heldSince(before, 16 * MiB);
      t.diagnostic(`arrayBuffers +${(held / MiB).toFixed(2)} MiB after refusing 16 clients mid-BYTES`);
      assert.ok(held < 16 * MiB, `${(held / MiB).toFixed(1)} MiB still held for refused clients`);
      assert.equal(node.getPeerInfo().peers.length, 1);
      const left = waitFor(node, 'peer-disconnected', (m) => m.peer.id === first.id);
      first.socket.destroy();
      await left;
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'a client refused after its hello cannot leave a large frame buffered behind (network key)',
    TEST,
    async (t) => {
      // Each client says hello without the network-key proof and, in the same write, starts a
      // 16 MiB BYTES frame; it is refused (reject unauthorized), and then keeps its socket open.
      const node = await secureNode(t, { networkKey: 'secret' });
      let refused = 0;
      node.on('error', (m) => {
        if (m.error.code === 'ERR_UNAUTHORIZED') refused++;
      });
      const clients = await Promise.all(
        Array.from({ length: 16 }, async () => {
          const me = await identity();
          return { me, peer: await RawNativePeer.dial(t, node.port, me) };
        }),
      );
      const before = arrayBuffers();
      const header = Buffer.alloc(5);
      header.writeUInt32BE(16 * MiB + 1, 0);
      header[4] = T_BYTES;
      for (const { me, peer } of clients) {
        peer.socket.write(Buffer.concat([encodeFrames(helloFrame(me.id)), header, Buffer.alloc(MiB, 1)]));
      }
      for (const { peer } of clients)
        assert.deepEqual(await peer.nextFrame(), { type: 'reject', reason: 'unauthorized' });
      await waitUntil([node], () => refused === 16, 'every client is refused');
      const held = await heldSince(before, 16 * MiB);
      t.diagnostic(
        `arrayBuffers +${(held / MiB).toFixed(2)} MiB after refusing 16 clients with 16 MiB frames started`,
      );
      assert.ok(held < 16 * MiB, `${(held / MiB).toFixed(1)} MiB still held for refused clients`);
      await assertServesLegitimatePeer(t, node, { networkKey: 'secret' });
    },
  );
});

describe('nothing larger than maxLineBytes before the hello (rule 27)', () => {
  test(
    'a node dialling a listener that starts a 16 MiB BYTES frame instead of its hello',
    TEST,
    async (t) => {
      const node = await secureNode(t);
      const header = Buffer.alloc(5 + 64 * 1024, 1);
      header.writeUInt32BE(16 * MiB + 1, 0);
      header[4] = T_BYTES;
      const fake = await rawNativeServer(t, await identity(), (peer) => peer.socket.write(header));
      const before = arrayBuffers();
      await assert.rejects(node.connectToPeer(fake.address), (err: MeshwireError) => {
        assert.equal(err.code, 'ERR_UNEXPECTED_FRAME', err.message);
        return true;
      });
      assert.ok((await heldSince(before, 8 * MiB)) < 8 * MiB);
      await assertServesLegitimatePeer(t, node);
    },
  );

  /** Pushes `bytes` through a guarded decoder in pieces of the given sizes (cycled). */
  function decodeSplit(
    bytes: Buffer,
    sizes: number[],
  ): { frames: Frame[]; error?: MeshwireError; held: number } {
    const decoder = new HelloFirstDecoder(
      new NativeDecoder(DEFAULT_CODEC_LIMITS),
      DEFAULT_CODEC_LIMITS.maxLineBytes,
    );
    const frames: Frame[] = [];
    let held = 0;
    try {
      for (let pos = 0, i = 0; pos < bytes.length; i++) {
        const size = sizes[i % sizes.length] as number;
        frames.push(...decoder.push(bytes.subarray(pos, pos + size)));
        held = Math.max(held, decoder.bufferedBytes);
        pos += size;
      }
    } catch (err) {
      return { frames, error: err as MeshwireError, held };
    }
    return { frames, held };
  }

  const SPLITS = [[1], [2, 3], [7], [4096], [1 << 30], [5, 1, 1, 64]];
  const id = '0123456789abcdef0123456789abcdef';

  test('the guard passes any split of a valid stream unchanged', () => {
    const frames: Frame[] = [
      { type: 'auth', proof: Buffer.alloc(32, 7) },
      helloFrame(id, ['127.0.0.1:9'], 'name'),
      { type: 'peers', peers: [{ address: '10.0.0.1:1' }] },
      { type: 'chat', text: 'after the hello, anything goes' },
      { type: 'bytes', data: Buffer.alloc(100_000, 3) },
      { type: 'goodbye', reason: 'bye' },
    ];
    const stream = encodeFrames(...frames);
    const whole = new NativeDecoder(DEFAULT_CODEC_LIMITS).push(stream);
    for (const sizes of SPLITS) {
      const result = decodeSplit(stream, sizes);
      assert.equal(result.error, undefined, String(result.error));
      assert.deepEqual(result.frames, whole, `split ${sizes.join(',')}`);
    }
    // A listener's refusal comes before any hello; and small out-of-place frames are left to the
    // handshake code, which answers them with reject(unauthorized) (rule 25) before it closes.
    const early: Frame[] = [
      { type: 'reject', reason: 'max-peers' },
      { type: 'chat', text: 'let me in' },
      { type: 'request-peers' },
      { type: 'bytes', data: Buffer.alloc(DEFAULT_CODEC_LIMITS.maxLineBytes, 1) },
    ];
    for (const sizes of SPLITS) {
      assert.deepEqual(decodeSplit(encodeFrames(...early), sizes).frames, early, `split ${sizes.join(',')}`);
    }
  });

  test('the guard refuses a frame over maxLineBytes before the hello at its type byte, for any split', () => {
    const big = Buffer.alloc(5 + 1000, 1);
    big.writeUInt32BE(16 * MiB + 1, 0);
    big[4] = T_BYTES;
    const cases: [string, Buffer, string][] = [
      ['a 16 MiB BYTES frame first', big, 'ERR_UNEXPECTED_FRAME'],
      [
        'a BYTES frame one byte over maxLineBytes after an auth and a goodbye',
        Buffer.concat([
          encodeFrames({ type: 'auth', proof: Buffer.alloc(16) }, { type: 'goodbye', reason: 'x' }),
          rawFrame(T_BYTES, Buffer.alloc(DEFAULT_CODEC_LIMITS.maxLineBytes + 1)),
        ]),
        'ERR_UNEXPECTED_FRAME',
      ],
      [
        'a 4 GiB length (the decoder speaks first)',
        Buffer.from([0xff, 0xff, 0xff, 0xff, T_BYTES, 0]),
        'ERR_FRAME_TOO_LARGE',
      ],
      ['a zero length', Buffer.from([0, 0, 0, 0, T_CHAT]), 'ERR_MALFORMED_FRAME'],
    ];
    for (const [what, stream, code] of cases) {
      for (const sizes of SPLITS) {
        const result = decodeSplit(stream, sizes);
        assert.equal(result.error?.code, code, `${what}, split ${sizes.join(',')}: ${String(result.error)}`);
        // At most an auth frame (66 bytes) is ever held; never a byte of the refused body.
        assert.ok(result.held <= 70, `${what}: ${result.held} bytes held`);
      }
    }
  });
});

describe('a peer that asks and asks but never reads', () => {
  for (const mode of ['compat', 'secure'] as const) {
    test(
      `${mode}: REQUEST_PEERS and PING floods cannot make the node queue replies without bound`,
      TEST,
      async (t) => {
        const node = await startNode(t, { mode, ...QUIET });
        const port = await closedPort();
        const known = Array.from({ length: 5 }, (_, i) => `127.0.${i + 1}.1:${port}`);
        let socket: { pause(): void; write(b: Buffer): boolean; once(e: 'drain', f: () => void): void };
        let requests: Buffer;
        let marker: () => Promise<unknown>;
        if (mode === 'compat') {
          const raw = await RawCompatPeer.join(t, node, 'asker');
          raw.send(`PEERS:${known.join(',')}\n`);
          socket = raw.socket;
          requests = Buffer.from('REQUEST_PEERS\nPING\n'.repeat(1000));
          marker = () => {
            const seen = waitFor(node, 'chat', (m) => m.from.id === raw.id && m.text === 'done', 10_000);
            raw.send('done\n');
            return seen;
          };
        } else {
          const { peer, id } = await joinNative(t, node);
          peer.send({ type: 'peers', peers: known.map((address) => ({ address })) });
          socket = peer.socket;
          requests = encodeFrames(
            ...Array.from({ length: 1000 }, (): Frame[] => [
              { type: 'request-peers' },
              { type: 'ping', nonce: 1n },
            ]).flat(),
          );
          marker = () => {
            const seen = waitFor(node, 'chat', (m) => m.from.id === id && m.text === 'done', 10_000);
            peer.send({ type: 'chat', text: 'done' });
            return seen;
          };
        }
        await waitUntil([node], () => node.getPeerInfo().known.length >= 5, 'the list is learnt');
        socket.pause();
        const before = arrayBuffers();
        let sent = 0;
        while (sent < 4 * MiB) {
          sent += requests.length;
          if (!socket.write(requests)) await new Promise<void>((resolve) => socket.once('drain', resolve));
        }
        await marker();
        const held = await heldSince(before, 8 * MiB);
        t.diagnostic(
          `${(sent / MiB).toFixed(1)} MiB of requests, never read: the node holds +${(held / MiB).toFixed(2)} MiB`,
        );
        assert.ok(held < 8 * MiB, `the node queued ${(held / MiB).toFixed(1)} MiB of replies nobody reads`);
        await assertServesLegitimatePeer(t, node);
      },
    );
  }
});

describe('invalid UTF-8', () => {
  for (const [i, bad] of BAD_UTF8.entries()) {
    test(
      `compat chat line #${i} (${bad.toString('hex')}): that peer is dropped with ERR_MALFORMED_FRAME`,
      TEST,
      async (t) => {
        const node = await compatNode(t);
        const messages = record(node);
        const raw = await RawCompatPeer.join(t, node, 'raw', '127.0.0.1:1');
        // A chat first, in its own write (the codec discards what precedes an error in one chunk).
        const fine = waitFor(node, 'chat', (m) => m.from.id === raw.id);
        raw.send('fine line\n');
        await fine;
        const dropped = droppedWith(node, raw.id);
        raw.send(Buffer.concat([bad, Buffer.from(' and more\n')]));
        const [error, gone] = await dropped;
        assert.equal(error.error.code, 'ERR_MALFORMED_FRAME');
        assert.match(error.error.message, /UTF-8/);
        assert.equal(gone.reason, 'protocol-error');
        assert.deepEqual(
          ofType(messages, 'chat').map((m) => m.text),
          ['fine line'],
        );
        await raw.expectClose();
        await assertServesLegitimatePeer(t, node);
      },
    );
  }

  test('compat hello and LISTEN lines with invalid UTF-8: refused or dropped, reported', TEST, async (t) => {
    const node = await compatNode(t);
    const messages = record(node);
    const inHello = await RawCompatPeer.dial(t, node.port);
    inHello.send(Buffer.concat([Buffer.from(`${inHello.id}:`), BAD_UTF8[0] as Buffer, Buffer.from('\n')]));
    const inId = await RawCompatPeer.dial(t, node.port);
    inId.send(Buffer.concat([BAD_UTF8[1] as Buffer, Buffer.from(':name\n')]));
    await Promise.all([inHello.expectClose(), inId.expectClose()]);
    assert.equal(inHello.pending + inId.pending, 0, 'no answer to a broken hello');
    await waitUntil([node], () => ofType(messages, 'error').length >= 2, 'both reported');
    for (const { error } of ofType(messages, 'error')) {
      assert.equal(error.code, 'ERR_MALFORMED_FRAME');
      assert.match(error.message, /UTF-8/);
    }
    // A LISTEN line that is not UTF-8, in a later write than the hello: the peer is connected by
    // then (the hello is answered at once), so it is dropped.
    const inListen = await RawCompatPeer.join(t, node, 'ok');
    const dropped = waitFor(node, 'peer-disconnected', (m) => m.peer.id === inListen.id);
    inListen.send(Buffer.concat([Buffer.from('LISTEN:'), BAD_UTF8[2] as Buffer, Buffer.from(':1\n')]));
    assert.equal((await dropped).error?.code, 'ERR_MALFORMED_FRAME');
    await inListen.expectClose();
    // In the same write as the hello, it fails the handshake itself: reported with the address.
    const both = await RawCompatPeer.dial(t, node.port);
    const reported = waitFor(node, 'error', (m) => !m.peer && m.error.code === 'ERR_MALFORMED_FRAME');
    both.send(
      Buffer.concat([Buffer.from(`${both.id}:ok\nLISTEN:`), BAD_UTF8[2] as Buffer, Buffer.from(':1\n')]),
    );
    await both.expectClose();
    assert.equal(both.pending, 0, 'no answer: the hello failed with the chunk it came in');
    assert.match((await reported).error.message, /UTF-8/);
    assert.deepEqual(node.getPeerInfo().peers, []);
    await assertServesLegitimatePeer(t, node);
  });

  test(
    'native chat, goodbye reason and peers address with invalid UTF-8: dropped after the handshake',
    TEST,
    async (t) => {
      const node = await secureNode(t);
      const frames = [
        rawFrame(T_CHAT, BAD_UTF8[0]),
        rawFrame(T_GOODBYE, rawString(BAD_UTF8[1] as Buffer)),
        // One entry: an address string that is not UTF-8, then an unknown ID (length 0).
        rawFrame(
          T_PEERS,
          Buffer.concat([
            Buffer.from([0, 1]),
            rawString(Buffer.from([0x31, 0xff, 0x3a, 0x31])),
            Buffer.from([0]),
          ]),
        ),
      ];
      for (const frame of frames) {
        const { peer, id } = await joinNative(t, node);
        const dropped = droppedWith(node, id);
        peer.socket.write(frame);
        const [error, gone] = await dropped;
        assert.equal(error.error.code, 'ERR_MALFORMED_FRAME', error.error.message);
        assert.equal(gone.reason, 'protocol-error');
        await peer.expectClose();
      }
      assert.deepEqual(node.getPeerInfo().peers, []);
      await assertServesLegitimatePeer(t, node);
    },
  );

  test('native hello with a name that is not UTF-8: refused before connecting', TEST, async (t) => {
    const node = await secureNode(t);
    const messages = record(node);
    const me = await identity();
    const peer = await RawNativePeer.dial(t, node.port, me);
    const reported = waitFor(node, 'error');
    const body = Buffer.concat([
      Buffer.from([1]), // version
      rawString(Buffer.from(me.id, 'latin1')),
      rawString(BAD_UTF8[2] as Buffer),
      Buffer.from([0, 0]), // no listen addresses, no features
    ]);
    peer.socket.write(rawFrame(T_HELLO, body));
    await peer.expectClose();
    const { error } = await reported;
    assert.equal(error.code, 'ERR_MALFORMED_FRAME');
    assert.match(error.message, /UTF-8/);
    assert.deepEqual(peer.frames, [], describeFrames(peer.frames));
    assert.deepEqual(ofType(messages, 'peer-connected'), []);
    await assertServesLegitimatePeer(t, node);
  });
});

describe('PEERS lists far past the limits', () => {
  test(
    'compat PEERS line with 100 000 entries (~1.6 MB): dropped with ERR_LINE_TOO_LONG',
    TEST,
    async (t) => {
      const node = await compatNode(t);
      const raw = await RawCompatPeer.join(t, node, 'flood', '127.0.0.1:1');
      const dropped = droppedWith(node, raw.id);
      const entries: string[] = [];
      for (let i = 0; i < 100_000; i++)
        entries.push(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:${1000 + (i % 60_000)}`);
      const line = `PEERS:${entries.join(',')}\n`;
      assert.ok(line.length > 1_500_000, `line of ${line.length} bytes`);
      raw.send(line);
      const [error, gone] = await dropped;
      assert.equal(error.error.code, 'ERR_LINE_TOO_LONG');
      assert.equal(gone.reason, 'protocol-error');
      assert.equal(node.getPeerInfo().known.length, 1, 'only the raw peer itself is known');
      await raw.expectClose();
      await assertServesLegitimatePeer(t, node);
    },
  );

  test('compat PEERS line that never ends: dropped once it passes maxLineBytes', TEST, async (t) => {
    const maxLineBytes = 64 * 1024;
    const node = await compatNode(t, { maxLineBytes });
    const raw = await RawCompatPeer.join(t, node, 'endless', '127.0.0.1:1');
    const dropped = droppedWith(node, raw.id);
    const chunk = Buffer.from('10.1.2.3:4000,'.repeat(1024));
    let sent = 0;
    let closed = false;
    void raw.closed.then(() => (closed = true));
    raw.send('PEERS:');
    // Keeps writing while the node reads; stops when it closes (or at 64 MiB, which fails below).
    while (!closed && sent < 64 * MiB) {
      sent += chunk.length;
      if (!raw.socket.write(chunk)) {
        await Promise.race([new Promise((resolve) => raw.socket.once('drain', resolve)), raw.closed]);
      }
    }
    const [error] = await dropped;
    assert.equal(error.error.code, 'ERR_LINE_TOO_LONG');
    t.diagnostic(`the node closed the connection after the peer had written ${sent} bytes`);
    assert.ok(sent < 16 * MiB, `the node read ${sent} bytes of one line before dropping it`);
    await assertServesLegitimatePeer(t, node);
  });

  test(
    'compat PEERS line within maxLineBytes but with more than 1000 entries: ERR_TOO_MANY_ENTRIES',
    TEST,
    async (t) => {
      const node = await compatNode(t);
      const raw = await RawCompatPeer.join(t, node, 'many', '127.0.0.1:1');
      const dropped = droppedWith(node, raw.id);
      raw.send(`PEERS:${Array.from({ length: 5000 }, (_, i) => `h${i}:1`).join(',')}\n`);
      const [error] = await dropped;
      assert.equal(error.error.code, 'ERR_TOO_MANY_ENTRIES');
      assert.equal(node.getPeerInfo().known.length, 1);
      await assertServesLegitimatePeer(t, node);
    },
  );

  for (const [what, body] of [
    ['count 65535 and no entries', Buffer.from([0xff, 0xff])],
    [
      'count 1001 with 1001 valid entries',
      Buffer.concat([
        Buffer.from([0x03, 0xe9]),
        ...Array.from({ length: 1001 }, (_, i) =>
          Buffer.concat([rawString(Buffer.from(`10.0.${i >> 8}.${i & 255}:9`)), Buffer.from([0])]),
        ),
      ]),
    ],
  ] as const) {
    test(`native peers frame with ${what}: ERR_TOO_MANY_ENTRIES, nothing learnt`, TEST, async (t) => {
      const node = await secureNode(t);
      const { peer, id } = await joinNative(t, node);
      const knownBefore = node.getPeerInfo().known.length;
      const dropped = droppedWith(node, id);
      peer.socket.write(rawFrame(T_PEERS, body));
      const [error, gone] = await dropped;
      assert.equal(error.error.code, 'ERR_TOO_MANY_ENTRIES');
      assert.equal(gone.reason, 'protocol-error');
      assert.equal(node.getPeerInfo().known.length, knownBefore);
      await assertServesLegitimatePeer(t, node);
    });
  }
});

describe('handshake lines after the handshake', () => {
  test(
    'compat: a second hello, LISTEN, DUPLICATE and MAX_PEERS from a dialer are chat lines',
    TEST,
    async (t) => {
      const node = await compatNode(t);
      const own = await RawCompatListener.listen(t);
      const raw = await RawCompatPeer.join(t, node, 'raw', own.address);
      const otherId = randomBytes(16).toString('hex');
      const lines = [
        `${otherId}:mallory`,
        `${raw.id}:renamed`,
        'LISTEN:9.9.9.9:9999',
        `LISTEN:127.0.0.1:${node.port}`,
        'DUPLICATE',
        'MAX_PEERS',
      ];
      const chats: string[] = [];
      node.on('chat', (m) => {
        if (m.from.id === raw.id) chats.push(m.text);
      });
      const last = waitFor(node, 'chat', (m) => m.from.id === raw.id && m.text === 'last');
      // The LISTEN slot (the line right after the hello) is taken by the real LISTEN line.
      raw.send(`${lines.join('\n')}\nlast\n`);
      await last;
      assert.deepEqual(chats, [...lines, 'last']);
      const [peer, ...others] = node.getPeerInfo().peers;
      assert.deepEqual(others, []);
      assert.equal(peer?.id, raw.id);
      assert.equal(peer?.name, 'raw', 'a second hello does not rename the peer');
      assert.equal(peer?.address, own.address, 'a late LISTEN does not move the peer');
      assert.deepEqual(
        node.getPeerInfo().known.map((k) => k.address),
        [own.address],
      );
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'compat: a dialer without LISTEN whose later line is LISTEN: it is chat once another line came',
    TEST,
    async (t) => {
      const node = await compatNode(t);
      const raw = await RawCompatPeer.join(t, node, 'nolisten');
      const address = node.getPeerInfo().peers[0]?.address;
      const last = waitFor(node, 'chat', (m) => m.from.id === raw.id && m.text === 'LISTEN:9.9.9.9:9999');
      raw.send('first\nLISTEN:9.9.9.9:9999\n');
      await last;
      assert.equal(node.getPeerInfo().peers[0]?.address, address);
      await assertServesLegitimatePeer(t, node);
    },
  );

  test(
    'compat: a listener that sends DUPLICATE, MAX_PEERS and a hello after its hello sends chat',
    TEST,
    async (t) => {
      const node = await compatNode(t);
      const listener = await RawCompatListener.listen(t);
      const dialed = node.connectToPeer(listener.address);
      const raw = await listener.accept();
      assert.equal(await raw.readLine(), `${node.id}:${node.name}`);
      await raw.readLine(); // LISTEN
      const chats: string[] = [];
      node.on('chat', (m) => chats.push(m.text));
      const last = waitFor(node, 'chat', (m) => m.text === 'last');
      raw.send(`${listener.id}:fake\nDUPLICATE\nMAX_PEERS\n${listener.id}:again\nlast\n`);
      const ref = await dialed;
      assert.equal(ref.id, listener.id);
      await last;
      assert.deepEqual(chats, ['DUPLICATE', 'MAX_PEERS', `${listener.id}:again`, 'last']);
      assert.equal(node.getPeerInfo().peers.length, 1);
      await assertServesLegitimatePeer(t, node);
    },
  );

  for (const [what, frame] of [
    ['hello', () => helloFrame('0123456789abcdef0123456789abcdef')],
    ['auth', () => ({ type: 'auth', proof: randomBytes(32) }) as const],
  ] as const) {
    test(`native: ${what} after the handshake drops the peer with ERR_UNEXPECTED_FRAME`, TEST, async (t) => {
      const node = await secureNode(t);
      const { peer, id } = await joinNative(t, node);
      const dropped = droppedWith(node, id);
      peer.send(frame());
      const [error, gone] = await dropped;
      assert.equal(error.error.code, 'ERR_UNEXPECTED_FRAME');
      assert.equal(gone.reason, 'protocol-error');
      await peer.expectClose();
      await assertServesLegitimatePeer(t, node);
    });
  }

  test(
    'native: reject after the handshake, and a hello of its own ID again, drop the peer',
    TEST,
    async (t) => {
      const node = await secureNode(t);
      const first = await joinNative(t, node);
      const rejected = droppedWith(node, first.id);
      first.peer.socket.write(rawFrame(T_REJECT, Buffer.from([1])));
      assert.equal((await rejected)[0].error.code, 'ERR_UNEXPECTED_FRAME');
      const second = await joinNative(t, node);
      const rehello = droppedWith(node, second.id);
      second.peer.send(helloFrame(second.id, [], 'again'));
      assert.equal((await rehello)[0].error.code, 'ERR_UNEXPECTED_FRAME');
      assert.deepEqual(node.getPeerInfo().peers, []);
      await assertServesLegitimatePeer(t, node);
    },
  );
});
