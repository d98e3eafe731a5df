/**
 * The network-key exchange (CPace, CPACE-X25519-SHA512, PROTOCOL.md rules 4 and 25 to 27): the
 * draft's own test vectors and meshwire's (also in PROTOCOL.md), the per-source failure limit,
 * and, over real loopback sockets, what a rogue listener or a rogue dialer gets to see.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { DEFAULT_CODEC_LIMITS } from '../src/codec/codec.js';
import type { Frame } from '../src/codec/frame.js';
import { NativeEncoder } from '../src/codec/native.js';
import type { NodeOptions } from '../src/options.js';
import { AttemptLimiter, sourceKey } from '../src/secure/attempt-limiter.js';
import {
  calculateGenerator,
  decodeUCoordinate,
  generatorString,
  intermediateSessionKey,
  isCanonicalU,
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
import { loadCpace } from '../src/secure/cpace.js';

// The network-key exchange needs its curve library loaded (the node does this in start()).
await loadCpace();

const TIMEOUT = { timeout: 15_000 };
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Inputs and outputs of draft-irtf-cfrg-cpace, "Test vector for CPace using group X25519 and hash SHA-512". */
const DRAFT = {
  prs: Buffer.from('Password'),
  ci: hex('0b415f696e69746961746f720b425f726573706f6e646572'),
  sid: hex('7e4b4791d6a8ef019b936c79fb7f2c57'),
  generatorString: hex(`
    0843506163653235350850617373776f72646d000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000180b415f696e69746961746f
    720b425f726573706f6e646572107e4b4791d6a8ef019b936c79fb7f
    2c57`),
  hashedGeneratorString: hex('03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed1d3'),
  decodedU: hex('03998087bdb1a2617bbe25ef5a7c18cd4f84f902328701790958755ee4aed153'),
  g: 'd04bf6d41f6a289632a2e929fa29bebd51092512a7829fdde7d314b62f05a73f',
  ya: hex('21b4f4bd9e64ed355c3eb676a28ebedaf6d8f17bdc365995b319097153044080'),
  yb: hex('848b0779ff415f0af4ea14df9dd1d3c29ac41d836c7808896c4eba19c51ac40a'),
  Ya: '1d13c89278cdadd826f6d8d7f887701430f8380ddc17611cdd6dc989ce0c9f32',
  Yb: '248cccf6d5cdc3646f0ad593f9e6cef4e69d4945f8372e623512ecea32185623',
  K: '5b067effbdc0b2a0e1d907b21ebb25cfedb96a852179a847c37e43ee71322c6b',
  iskIr:
    '6e19b875f7a561d6b3ca3dbb9ef42ac55de3e717881018204b8922b4d5e53bb2' +
    'aa82c300bea7b65d2b671da71922ddf6472301b79bc270adfa8bf413285f2263',
};

/**
 * The draft's "Test vectors for G_X25519.scalar_mult_vfy: low order points": `q = scalar_mult_vfy(s, u)`
 * (all zeros: the neutral element, abort). u6, u8, u9, ua and ub set bit 255, which X25519 must
 * ignore; u0 to u5 and u7 must make an exchange abort.
 */
const LOW_ORDER = {
  s: hex('af46e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449aff'),
  cases: [
    ['u0', '0000000000000000000000000000000000000000000000000000000000000000', '00'],
    ['u1', '0100000000000000000000000000000000000000000000000000000000000000', '00'],
    ['u2', 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', '00'],
    ['u3', 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', '00'],
    ['u4', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', '00'],
    ['u5', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', '00'],
    [
      'u6',
      'daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      'd8e2c776bbacd510d09fd9278b7edcd25fc5ae9adfba3b6e040e8d3b71b21806',
    ],
    ['u7', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', '00'],
    [
      'u8',
      'dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      'c85c655ebe8be44ba9c0ffde69f2fe10194458d137f09bbff725ce58803cdb38',
    ],
    [
      'u9',
      'd9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      'db64dafa9b8fdd136914e61461935fe92aa372cb056314e1231bc4ec12417456',
    ],
    [
      'ua',
      'cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880',
      'e062dcd5376d58297be2618c7498f55baa07d7e03184e8aada20bca28888bf7a',
    ],
    [
      'ub',
      '4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7',
      '993c6ad11c4c29da9a56f7691fd0ff8d732e49de6250b6c2e80003ff4629a175',
    ],
  ] as const,
  mustAbort: ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u7'],
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
  g: '118d0283c9d291591db85183d9c2a9c5d42dd0d3a07025e6314ac14c6f70b92a',
  Ya: 'c1a770fb78fec7856c994b2e314cb84574760af1ecdb6a0980144f3459ae1139',
  Yb: '95a1ab320b423a087bb10782f3fe986d6fc94c917eaaf3cf4df3926ffb2f7014',
  K: '4bb75589c70690aa0a7a5304014c54a8474b3225ac46ee1f015c52ba749c9322',
  isk:
    '6b1cd2588e2a5d27985b683473d0a60fcbb3ffb022a30a06a5b08848bd4a181a' +
    'c86e9dc66d513b21f868c15754417e5180a0d35bfe1edba641bbc1ffa3182810',
  Ta:
    '47bb3f17f4bd20eba642f81ae3be0350ee348565657d4316d29295256d20b2c8' +
    'e688bc9d7b9c1eb2ee7bd2c47c6cbe22a168732e87b7e341b117b17d2e15c5ae',
  Tb:
    '9f6c5889d57fd2f0877941d531a8b80d6a831ee53fe0051677fb11061b5d03ea' +
    'fde2a909ea8871ef48a92931780bb698f4eb6a833563977456e9913e66293cda',
  pakeFrameA: '000000210bc1a770fb78fec7856c994b2e314cb84574760af1ecdb6a0980144f3459ae1139',
  authFrameB:
    '0000004209409f6c5889d57fd2f0877941d531a8b80d6a831ee53fe0051677fb11061b5d03ea' +
    'fde2a909ea8871ef48a92931780bb698f4eb6a833563977456e9913e66293cda',
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

  test("the draft's X25519 vectors: generator, shares, K and ISK", () => {
    assert.deepEqual(generatorString(DRAFT.prs, DRAFT.ci, DRAFT.sid), DRAFT.generatorString);
    const hashed = createHash('sha512').update(DRAFT.generatorString).digest().subarray(0, 32);
    assert.deepEqual(hashed, DRAFT.hashedGeneratorString);
    assert.equal(decodeUCoordinate(hashed), decodeUCoordinate(DRAFT.decodedU));
    const g = calculateGenerator(DRAFT.prs, DRAFT.ci, DRAFT.sid);
    assert.equal(g.toString('hex'), DRAFT.g);
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

  test("scalar_mult_vfy gives the draft's results for low-order and non-canonical points", () => {
    const s = scalarFromBytes(LOW_ORDER.s);
    for (const [name, u, q] of LOW_ORDER.cases) {
      const result = scalarMultVfy(s, hex(u));
      if (q === '00') assert.equal(result, undefined, `${name} gives the neutral element`);
      else assert.equal(result?.toString('hex'), q, name);
    }
    assert.equal(scalarMultVfy(s, hex(DRAFT.Ya).subarray(1)), undefined, '31 bytes');
    assert.equal(scalarMultVfy(s, Buffer.concat([hex(DRAFT.Ya), Buffer.alloc(1)])), undefined, '33 bytes');
  });

  test('an exchange refuses every low-order and non-canonical share, and our own share', () => {
    const session = { sid: DRAFT.sid, ci: DRAFT.ci };
    const fresh = (): NetworkKeyExchange => new NetworkKeyExchange(DRAFT.prs, 'server', session);
    for (const [name, u] of LOW_ORDER.cases) {
      assert.equal(fresh().receive(hex(u)), false, name);
    }
    for (const name of LOW_ORDER.mustAbort) assert.ok(LOW_ORDER.cases.some(([n]) => n === name));
    const a = new NetworkKeyExchange(DRAFT.prs, 'client', session);
    // The honest share with bit 255 set: X25519 reads it as the same point (the draft's function
    // accepts it), but only the canonical encoding is a valid share (PROTOCOL.md rule 4).
    const flipped = Buffer.from(a.share);
    flipped[31] = (flipped[31] as number) | 0x80;
    assert.ok(!isCanonicalU(flipped) && isCanonicalU(a.share));
    const y = scalarFromBytes(DRAFT.yb);
    assert.deepEqual(scalarMultVfy(y, flipped), scalarMultVfy(y, a.share));
    assert.equal(fresh().receive(flipped), false, 'bit 255 set');
    // p + 2: the encoding of the u-coordinate 2, at or above the modulus.
    assert.equal(
      isCanonicalU(hex('efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')),
      false,
    );
    assert.equal(isCanonicalU(hex('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f')), true);
    assert.equal(a.receive(a.share), false, 'our own share reflected');
    const b = fresh();
    assert.ok(a.receive(b.share) && b.receive(a.share), 'and an honest exchange still works');
    assert.ok(b.verify(a.tag) && a.verify(b.tag));
  });

  test("meshwire's exchange vectors (PROTOCOL.md): key, CI, generator, shares, K, ISK, tags, frames", () => {
    const key = deriveNetworkKey(MESHWIRE.passphrase);
    assert.equal(key.toString('hex'), MESHWIRE.key);
    const ci = channelIdentifier(MESHWIRE.dialerId, MESHWIRE.listenerId);
    assert.equal(ci.toString('hex'), MESHWIRE.ci);
    assert.equal(calculateGenerator(key, ci, MESHWIRE.sid).toString('hex'), MESHWIRE.g);
    const session = { sid: MESHWIRE.sid, ci };
    const a = new NetworkKeyExchange(key, 'client', session, DRAFT.ya);
    const b = new NetworkKeyExchange(key, 'server', session, DRAFT.yb);
    assert.equal(a.share.toString('hex'), MESHWIRE.Ya);
    assert.equal(b.share.toString('hex'), MESHWIRE.Yb);
    assert.equal(scalarMultVfy(scalarFromBytes(DRAFT.ya), b.share)?.toString('hex'), MESHWIRE.K);
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
      MESHWIRE.K,
      MESHWIRE.isk,
      MESHWIRE.Ta,
      MESHWIRE.Tb,
    ]) {
      assert.ok(text.includes(`\`${value}\``), `PROTOCOL.md lacks ${value}`);
    }
    assert.ok(
      text.includes(`\`${DRAFT.ya.toString('hex')}\``) && text.includes(`\`${DRAFT.yb.toString('hex')}\``),
    );
    assert.match(text, /CPACE-X25519-SHA512/);
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
    ['the neutral element as share', (peer) => peer.send({ type: 'pake', share: new Uint8Array(32) })],
    // Random bytes are almost always a valid u-coordinate on the curve or its twist, so a random
    // share would be accepted and the dialer would wait for a tag. These are refused for sure:
    ['a point of order 8 as share', (peer) => peer.send({ type: 'pake', share: hex(LOW_ORDER.cases[3][1]) })],
    [
      'random bytes with bit 255 set (non-canonical) as share',
      (peer) => {
        const share = randomBytes(32);
        share[31] = (share[31] as number) | 0x80;
        peer.send({ type: 'pake', share });
      },
    ],
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
  test(
    'low-order and non-canonical shares are refused over the wire, and each counts as a failure',
    TIMEOUT,
    async (t) => {
      const listener = await startNode(t, { networkKey: 'the real key', networkKeyMaxFailures: 3 });
      const identity = await createIdentity();
      // u1 (order 4), u3 (order 8), u5 (2^255 - 19, a non-canonical zero): one connection each.
      for (const name of ['u1', 'u3', 'u5']) {
        const u = LOW_ORDER.cases.find(([n]) => n === name)?.[1] as string;
        const refused = waitFor(listener, 'error', (m) => /invalid network-key share/.test(m.error.message));
        const peer = await RawNativePeer.dial(t, listener.port, identity, 3_000, '127.0.0.3');
        peer.send({ type: 'pake', share: hex(u) });
        await peer.expectClose();
        assert.deepEqual(
          peer.frames,
          [{ type: 'reject', reason: 'unauthorized' }],
          `${name}: ${describeFrames(peer.frames)}`,
        );
        assert.equal((await refused).error.code, 'ERR_UNAUTHORIZED');
      }
      // Three failures: the source's budget is spent, even a valid share is now refused unseen.
      const peer = await RawNativePeer.dial(t, listener.port, identity, 3_000, '127.0.0.3');
      peer.send({
        type: 'pake',
        share: new NetworkKeyExchange(
          deriveNetworkKey('the real key'),
          'client',
          networkKeySession(peer.socket, identity.id, listener.id),
        ).share,
      });
      await peer.expectClose();
      assert.deepEqual(
        peer.frames,
        [{ type: 'reject', reason: 'rate-limited' }],
        describeFrames(peer.frames),
      );
    },
  );

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
