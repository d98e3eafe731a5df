/**
 * The network-key exchange (CPace over ristretto255, PROTOCOL.md rules 4 and 25 to 27): the
 * draft's own test vectors and meshwire's (also in PROTOCOL.md), the per-source failure limit,
 * and, over real loopback sockets, what a rogue listener or a rogue dialer gets to see.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { DEFAULT_CODEC_LIMITS } from '../src/codec/codec.js';
import type { Frame } from '../src/codec/frame.js';
import { NativeEncoder } from '../src/codec/native.js';
import type { NodeOptions } from '../src/options.js';
import { AttemptLimiter, sourceKey } from '../src/secure/attempt-limiter.js';
import {
  calculateGenerator,
  generatorString,
  intermediateSessionKey,
  leb128,
  lvCat,
  scalarFromBytes,
  scalarMult,
  scalarMultVfy,
} from '../src/secure/cpace.js';
import {
  channelIdentifier,
  createIdentity,
  deriveNetworkKey,
  MESHWIRE_ALPN,
  NetworkKeyExchange,
  networkKeySession,
  tlsClientOptions,
  type Identity,
} from '../src/secure/index.js';
import { addressOf, record, rejectsWith, startNode, waitFor, ofType } from './helpers/nodes.js';
import {
  describeFrames,
  helloFrame,
  rawClientExchange,
  rawNativeServer,
  RawNativePeer,
  withTimeout,
} from './support-secure/raw-native.js';

const TIMEOUT = { timeout: 15_000 };
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Inputs and outputs of draft-irtf-cfrg-cpace, "Test vector for CPace using group ristretto255 and hash SHA-512". */
const DRAFT = {
  prs: Buffer.from('Password'),
  ci: hex('0b415f696e69746961746f720b425f726573706f6e646572'),
  sid: hex('7e4b4791d6a8ef019b936c79fb7f2c57'),
  generatorString: hex(`
    11435061636552697374726574746f3235350850617373776f726464
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000180b415f696e69746961746f
    720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
    2c57`),
  g: '222b6b195fe84b1652badb6f6a3ae3d24341e7306967f0b8115b40d5698c7e56',
  ya: hex('da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08'),
  yb: hex('d2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d'),
  Ya: 'd6bac480f2c386c394efc7c47adb9925dcd2630b64f240c50f8d0eec482b9157',
  Yb: '3ea7e0b19560d7c0b0f5734f63b955286dfa8232b5ebe63324e2d9e7433f7258',
  K: '80b69a8a76457ab6a4d7f887a4bf6b55a2f80ac19c333f917a05fc9887c8b40f',
  iskIr:
    'b69effbf61b51d56401c0f65601abe428de8206feaaf0e32198896dcae7b35cd' +
    '2b38950a39dfd5d4a79164614c2984f7daa460b588c1e80c3fa2068af7900447',
};

/** meshwire's vectors (PROTOCOL.md "Network-key exchange vectors"): the draft's scalars, our binding. */
const MESHWIRE = {
  passphrase: 'correct horse battery staple',
  key: '3f4030dbab8fbcc2f395580f5d3b4653a64891e9ea94445249b7ea96360e695c',
  sid: Buffer.from(Array.from({ length: 32 }, (_, i) => i)),
  dialerId: '00112233445566778899aabbccddeeff',
  listenerId: 'ffeeddccbbaa99887766554433221100',
  ci:
    '166d657368776972652f32206e6574776f726b206b6579' +
    '203030313132323333343435353636373738383939616162626363646465656666' +
    '206666656564646363626261613939383837373636353534343333323231313030',
  g: '368d0d0a74bb605dc30e59fe25a729b9a30f964cb4e9732db3f68693147f5d1c',
  Ya: '6012baa061e6996ed5f4a7719423edcb80a4ca06f719ea8bacad5a4133c9fc16',
  Yb: 'e2d067b33b920abfd6262468a5fbb02de125ade4c76652b3a015cbd7b1a6dc5a',
  isk:
    'cbd73cf0ca55dcfe0d083a99d1d9877ddc5b6b1e0aeb69c993a90dda95df0c1b' +
    'ba06666571c2b800d65631408998fb4dc82d19cad8a08b60816c82ce48f328c7',
  Ta:
    '47762c265fb5c4bca85204d050af6b58d2bc273fcee28aa1406e3bd0580165e1' +
    '541952f9fe2f7e2f083e51fa64d9bb6c379ef265b279fc5c5e41c9a973ed007f',
  Tb:
    '0437b252e37f2077fafc9f2d7fc428d9886d8df74bebe563fc8501ef419a3384' +
    '62d86c54df6150e3f2d1e23593f06dcb1d99d2d4672ae6c56e581cb8fa81693a',
  pakeFrameA: '000000210b6012baa061e6996ed5f4a7719423edcb80a4ca06f719ea8bacad5a4133c9fc16',
  authFrameB:
    '0000004209400437b252e37f2077fafc9f2d7fc428d9886d8df74bebe563fc8501ef419a3384' +
    '62d86c54df6150e3f2d1e23593f06dcb1d99d2d4672ae6c56e581cb8fa81693a',
};

describe('CPace test vectors', () => {
  test('LEB128 lengths and lv_cat as the draft specifies', () => {
    assert.equal(leb128(0).toString('hex'), '00');
    assert.equal(leb128(127).toString('hex'), '7f');
    assert.equal(leb128(128).toString('hex'), '8001');
    assert.equal(leb128(300).toString('hex'), 'ac02');
    assert.equal(
      lvCat(Buffer.from('1234'), Buffer.from('5'), Buffer.alloc(0), Buffer.from('678')).toString('hex'),
      '043132333401350003363738',
    );
  });

  test("the draft's ristretto255 vectors: generator, shares, K and ISK", () => {
    assert.deepEqual(generatorString(DRAFT.prs, DRAFT.ci, DRAFT.sid), DRAFT.generatorString);
    const g = calculateGenerator(DRAFT.prs, DRAFT.ci, DRAFT.sid);
    assert.equal(Buffer.from(g.toBytes()).toString('hex'), DRAFT.g);
    const ya = scalarFromBytes(DRAFT.ya);
    const yb = scalarFromBytes(DRAFT.yb);
    const Ya = scalarMult(ya, g);
    const Yb = scalarMult(yb, g);
    assert.equal(Ya.toString('hex'), DRAFT.Ya);
    assert.equal(Yb.toString('hex'), DRAFT.Yb);
    assert.equal(scalarMultVfy(ya, Yb)?.toString('hex'), DRAFT.K);
    assert.equal(scalarMultVfy(yb, Ya)?.toString('hex'), DRAFT.K);
    const isk = intermediateSessionKey(
      DRAFT.sid,
      hex(DRAFT.K),
      Ya,
      Buffer.from('ADa'),
      Yb,
      Buffer.from('ADb'),
    );
    assert.equal(isk.toString('hex'), DRAFT.iskIr);
  });

  test("scalar_mult_vfy refuses the draft's invalid points and the neutral element", () => {
    const s = scalarFromBytes(hex('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05'));
    const valid = hex('2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c');
    assert.equal(
      scalarMultVfy(s, valid)?.toString('hex'),
      '7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e',
    );
    assert.equal(
      scalarMultVfy(s, hex('2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c')),
      undefined,
    );
    assert.equal(scalarMultVfy(s, Buffer.alloc(32)), undefined);
    assert.equal(scalarMultVfy(s, valid.subarray(1)), undefined);
  });

  test("meshwire's exchange vectors (PROTOCOL.md): key, CI, shares, ISK, tags and frames", () => {
    const key = deriveNetworkKey(MESHWIRE.passphrase);
    assert.equal(key.toString('hex'), MESHWIRE.key);
    const ci = channelIdentifier(MESHWIRE.dialerId, MESHWIRE.listenerId);
    assert.equal(ci.toString('hex'), MESHWIRE.ci);
    assert.equal(
      Buffer.from(calculateGenerator(key, ci, MESHWIRE.sid).toBytes()).toString('hex'),
      MESHWIRE.g,
    );
    const session = { sid: MESHWIRE.sid, ci };
    const a = new NetworkKeyExchange(key, 'client', session, scalarFromBytes(DRAFT.ya));
    const b = new NetworkKeyExchange(key, 'server', session, scalarFromBytes(DRAFT.yb));
    assert.equal(a.share.toString('hex'), MESHWIRE.Ya);
    assert.equal(b.share.toString('hex'), MESHWIRE.Yb);
    assert.ok(a.receive(b.share) && b.receive(a.share));
    assert.equal(a.isk.toString('hex'), MESHWIRE.isk);
    assert.equal(b.isk.toString('hex'), MESHWIRE.isk);
    assert.equal(a.tag.toString('hex'), MESHWIRE.Ta);
    assert.equal(b.tag.toString('hex'), MESHWIRE.Tb);
    assert.ok(b.verify(hex(MESHWIRE.Ta)) && a.verify(hex(MESHWIRE.Tb)));
    const encoder = new NativeEncoder(DEFAULT_CODEC_LIMITS);
    const wire = (frame: Frame): string => Buffer.concat(encoder.encode(frame)).toString('hex');
    assert.equal(wire({ type: 'pake', share: a.share }), MESHWIRE.pakeFrameA);
    assert.equal(wire({ type: 'auth', proof: b.tag }), MESHWIRE.authFrameB);
  });

  test('PROTOCOL.md states the same vectors', async () => {
    const text = await readFile(new URL('../PROTOCOL.md', import.meta.url), 'utf8');
    for (const value of [
      MESHWIRE.key,
      MESHWIRE.ci,
      MESHWIRE.g,
      MESHWIRE.Ya,
      MESHWIRE.Yb,
      MESHWIRE.isk,
      MESHWIRE.Ta,
      MESHWIRE.Tb,
    ]) {
      assert.ok(text.includes(`\`${value}\``), `PROTOCOL.md lacks ${value}`);
    }
    assert.ok(
      text.includes(`\`${DRAFT.ya.toString('hex')}\``) && text.includes(`\`${DRAFT.yb.toString('hex')}\``),
    );
  });
});

describe('failed-attempt limiter', () => {
  test('a source gets maxFailures quick failures, then one per windowMs / maxFailures', () => {
    let now = 1_000_000;
    const limiter = new AttemptLimiter({ maxFailures: 3, windowMs: 30_000, maxSources: 10 }, () => now);
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.retryAfterMs('10.0.0.1'), 0, `attempt ${i + 1} allowed`);
      limiter.fail('10.0.0.1');
    }
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 10_000);
    assert.equal(limiter.retryAfterMs('10.0.0.2'), 0, 'other sources are not affected');
    now += 9_999;
    assert.ok(limiter.retryAfterMs('10.0.0.1') > 0);
    now += 1;
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 0);
    limiter.fail('10.0.0.1');
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 10_000, 'one more failure, one more wait');
    // A burst of failures (parallel attempts all ending badly) lengthens the wait in proportion.
    for (let i = 0; i < 6; i++) limiter.fail('10.0.0.1');
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 70_000);
    now += 120_000;
    assert.equal(limiter.retryAfterMs('10.0.0.1'), 0);
    assert.equal(limiter.size, 0, 'a drained source is forgotten');
  });

  test('the map is bounded; the least recently failed source is forgotten first', () => {
    const limiter = new AttemptLimiter({ maxFailures: 1, windowMs: 60_000, maxSources: 3 }, () => 0);
    for (const host of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) limiter.fail(host);
    limiter.fail('10.0.0.1');
    limiter.fail('10.0.0.4');
    assert.equal(limiter.size, 3);
    assert.equal(limiter.retryAfterMs('10.0.0.2'), 0, 'the oldest was evicted');
    for (const host of ['10.0.0.1', '10.0.0.3', '10.0.0.4']) assert.ok(limiter.retryAfterMs(host) > 0, host);
  });

  test('IPv6 sources count per /64; IPv4-mapped addresses as IPv4', () => {
    assert.equal(sourceKey('2001:db8:1:2:aaaa::1'), sourceKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    assert.notEqual(sourceKey('2001:db8:1:2::1'), sourceKey('2001:db8:1:3::1'));
    assert.equal(sourceKey('[2001:0db8:0001:0002::1]'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
    assert.equal(sourceKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(sourceKey('10.1.2.3'), '10.1.2.3');
  });
});

describe('a rogue listener learns nothing', () => {
  /** Rogue TLS listener recording every plaintext byte each dialer sends. */
  async function rogue(
    t: Parameters<typeof startNode>[0],
    identity: Identity,
    answer: (peer: RawNativePeer) => void = () => undefined,
  ): Promise<{ address: string; first: Promise<RawNativePeer> }> {
    let resolve: (peer: RawNativePeer) => void = () => undefined;
    const first = new Promise<RawNativePeer>((r) => (resolve = r));
    // Resolved at accept, before TLS: a dialer that refuses the certificate may close before the
    // rogue's side of the handshake completes, and then the rogue must have received nothing.
    const server = await rawNativeServer(t, identity, answer, resolve);
    return { address: server.address, first: withTimeout(first, 5_000, 'the dialer to connect') };
  }

  const refusals: [
    string,
    (rogueId: string) => NodeOptions,
    (rogueId: string) => string | undefined,
    string,
  ][] = [
    [
      'an allow-list without it',
      () => ({ allowList: ['0123456789abcdef0123456789abcdef'] }),
      () => undefined,
      'ERR_UNAUTHORIZED',
    ],
    ['a firewall that refuses it', () => ({ firewall: () => false }), () => undefined, 'ERR_UNAUTHORIZED'],
    [
      'an async firewall that refuses it',
      () => ({ firewall: async () => false }),
      () => undefined,
      'ERR_UNAUTHORIZED',
    ],
    ['another expectedId', () => ({}), () => '0123456789abcdef0123456789abcdef', 'ERR_PEER_ID_MISMATCH'],
  ];
  for (const [what, options, expectedId, code] of refusals) {
    for (const keyed of [false, true]) {
      test(
        `${what}${keyed ? ' (network key)' : ''}: zero application bytes after TLS`,
        TIMEOUT,
        async (t) => {
          const identity = await createIdentity();
          const fake = await rogue(t, identity);
          const dialer = await startNode(t, {
            name: 'secret-name',
            ...options(identity.id),
            ...(keyed ? { networkKey: 'the real key' } : {}),
          });
          const id = expectedId(identity.id);
          await rejectsWith(dialer.connectToPeer(fake.address, id ? { expectedId: id } : {}), code);
          const peer = await fake.first;
          await peer.expectClose();
          assert.equal(peer.received.length, 0, `received ${describeFrames(peer.frames)}`);
          assert.equal(dialer.getPeerInfo().peers.length, 0);
        },
      );
    }
  }

  const answers: [string, (peer: RawNativePeer, id: string) => void, string?][] = [
    ['32 random bytes as share', (peer) => peer.send({ type: 'pake', share: randomBytes(32) })],
    ['the neutral element as share', (peer) => peer.send({ type: 'pake', share: new Uint8Array(32) })],
    [
      'a valid share and a random tag',
      (peer, id) => {
        const x = new NetworkKeyExchange(
          deriveNetworkKey('guess'),
          'server',
          networkKeySession(peer.socket, 'd', id),
        );
        peer.send({ type: 'pake', share: x.share }, { type: 'auth', proof: randomBytes(64) });
      },
    ],
    [
      'an honest exchange with a guessed key',
      (peer, id) => {
        void peer.nextFrame().then((share) => {
          if (share.type !== 'pake') return;
          const x = new NetworkKeyExchange(
            deriveNetworkKey('guess'),
            'server',
            networkKeySession(peer.socket, 'd', id),
          );
          x.receive(share.share);
          peer.send({ type: 'pake', share: x.share }, { type: 'auth', proof: x.tag });
        });
      },
    ],
    ['a hello instead of a share', (peer, id) => peer.send(helloFrame(id)), 'ERR_UNEXPECTED_FRAME'],
  ];
  for (const [what, answer, code = 'ERR_UNAUTHORIZED'] of answers) {
    test(
      `keyed dialer, rogue answers ${what}: the rogue gets the share and nothing else`,
      TIMEOUT,
      async (t) => {
        const identity = await createIdentity();
        const fake = await rogue(t, identity, (peer) => answer(peer, identity.id));
        const dialer = await startNode(t, { name: 'secret-name', networkKey: 'the real key' });
        await rejectsWith(dialer.connectToPeer(fake.address), code);
        const peer = await fake.first;
        await peer.expectClose();
        assert.deepEqual(
          peer.frames.map((f) => f.type),
          ['pake'],
          describeFrames(peer.frames),
        );
        // One frame of 4 + 1 + 32 bytes, and not a byte more (no tag, no hello, no goodbye).
        assert.equal(peer.received.length, 37);
        assert.ok(!peer.received.includes(Buffer.from('secret-name')));
      },
    );
  }
});

describe('a rogue dialer is rate limited', () => {
  test('repeated failures from one address hit the limit; other addresses are served', TIMEOUT, async (t) => {
    const listener = await startNode(t, {
      networkKey: 'the real key',
      networkKeyMaxFailures: 2,
      networkKeyFailureWindowMs: 60_000,
    });
    const onListener = record(listener);
    const wrong = deriveNetworkKey('a guess');
    const identity = await createIdentity();
    // 1: a full wrong guess, tag and all.
    const one = await RawNativePeer.dial(t, listener.port, identity, 3_000, '127.0.0.2');
    const { exchange } = await rawClientExchange(one, wrong, identity.id, listener.id);
    one.send({ type: 'auth', proof: exchange.tag }, helloFrame(identity.id));
    await one.expectClose();
    assert.deepEqual(
      one.frames.map((f) => (f.type === 'reject' ? f.reason : f.type)),
      ['pake', 'auth', 'unauthorized'],
    );

    // 2: an offline-style guess: read the listener's tag and hang up without answering. Counted too.
    const two = await RawNativePeer.dial(t, listener.port, identity, 3_000, '127.0.0.2');
    const failed = waitFor(listener, 'error', (m) =>
      /closed the connection instead of confirming/.test(m.error.message),
    );
    await rawClientExchange(two, wrong, identity.id, listener.id);
    two.socket.end();
    await failed;

    // 3: refused before any work, with a reason the dialer can show.
    const refusedReport = waitFor(listener, 'error', (m) => m.error.code === 'ERR_RATE_LIMITED');
    const three = await RawNativePeer.dial(t, listener.port, identity, 3_000, '127.0.0.2');
    three.send({
      type: 'pake',
      share: new NetworkKeyExchange(
        wrong,
        'client',
        networkKeySession(three.socket, identity.id, listener.id),
      ).share,
    });
    await three.expectClose();
    assert.deepEqual(
      three.frames,
      [{ type: 'reject', reason: 'rate-limited' }],
      describeFrames(three.frames),
    );
    assert.match(
      (await refusedReport).error.message,
      /too many failed network-key attempts from 127\.0\.0\.2/,
    );

    // Another address (127.0.0.1) is still served: an honest keyed node connects and chats.
    const honest = await startNode(t, { networkKey: 'the real key' });
    const chat = waitFor(listener, 'chat');
    const ref = await honest.connectToPeer(addressOf(listener));
    assert.equal(ref.id, listener.id);
    await honest.broadcastMessage('still serving');
    assert.equal((await chat).text, 'still serving');
    assert.deepEqual(
      ofType(onListener, 'peer-connected').map((m) => m.peer.id),
      [honest.id],
    );
  });

  test(
    'a node with the wrong key gets ERR_UNAUTHORIZED, then ERR_RATE_LIMITED with a clear message',
    TIMEOUT,
    async (t) => {
      const listener = await startNode(t, { networkKey: 'alpha', networkKeyMaxFailures: 2 });
      const dialer = await startNode(t, { networkKey: 'beta' });
      for (let i = 0; i < 2; i++) {
        const reported = waitFor(listener, 'error');
        await rejectsWith(dialer.connectToPeer(addressOf(listener)), 'ERR_UNAUTHORIZED');
        assert.equal((await reported).error.code, 'ERR_UNAUTHORIZED');
      }
      const err = await rejectsWith(dialer.connectToPeer(addressOf(listener)), 'ERR_RATE_LIMITED');
      assert.match(err.message, /too many failed attempts; try again later/);
    },
  );
});

describe('configuration mismatches are explained', () => {
  test('keyless dialer, keyed listener: both ERR_UNAUTHORIZED, the listener says why', TIMEOUT, async (t) => {
    const listener = await startNode(t, { networkKey: 'alpha' });
    const dialer = await startNode(t);
    const reported = waitFor(listener, 'error');
    const err = await rejectsWith(dialer.connectToPeer(addressOf(listener)), 'ERR_UNAUTHORIZED');
    assert.match(err.message, /network key that differs or is missing/);
    assert.match((await reported).error.message, /did not prove the network key/);
  });

  test('keyed dialer, keyless listener: both ERR_UNAUTHORIZED, the listener says why', TIMEOUT, async (t) => {
    const listener = await startNode(t);
    const dialer = await startNode(t, { networkKey: 'alpha' });
    const reported = waitFor(listener, 'error');
    await rejectsWith(dialer.connectToPeer(addressOf(listener)), 'ERR_UNAUTHORIZED');
    assert.match((await reported).error.message, /uses a network key, but this node has none/);
  });

  test('different keys: the dialer says the listener did not prove the key', TIMEOUT, async (t) => {
    const listener = await startNode(t, { networkKey: 'alpha' });
    const dialer = await startNode(t, { networkKey: 'beta' });
    const reported = waitFor(listener, 'error');
    const err = await rejectsWith(dialer.connectToPeer(addressOf(listener)), 'ERR_UNAUTHORIZED');
    assert.match(err.message, /did not prove the network key/);
    assert.match((await reported).error.message, /instead of confirming the network key/);
  });

  test(
    `a peer of the previous protocol revision fails at TLS with a clear ERR_TLS (ALPN ${MESHWIRE_ALPN})`,
    TIMEOUT,
    async (t) => {
      const node = await startNode(t);
      const reported = waitFor(node, 'error');
      const identity = await createIdentity();
      const socket = tls.connect({
        ...tlsClientOptions(identity),
        ALPNProtocols: ['meshwire/1'],
        host: '127.0.0.1',
        port: node.port,
      });
      t.after(() => socket.destroy());
      socket.on('error', () => undefined);
      const { error } = await withTimeout(reported, 5_000, 'the node to report the old client');
      assert.equal(error.code, 'ERR_TLS');
      assert.match(error.message, /another revision of the meshwire protocol/);
    },
  );
});
