/**
 * The piece protocol's pure parts: the BEP 52 Merkle tree (checked against a naive
 * implementation written from the BEP's text), signed offers, and the frame codec.
 */
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  BLOCK_SIZE,
  PieceHasher,
  createOffer,
  parseOffer,
  parsePieceFrame,
  pieceRoot,
  rootFromLayer,
  signerFromPrivateKey,
} from '../src/files/index.js';
import { peerIdFromPublicKey } from '../src/secure/identity.js';
import {
  encodeGetLayer,
  encodeLayer,
  encodeNope,
  encodeOfferFrame,
  encodePiece,
  encodeRequest,
  encodeWant,
  NopeReason,
} from '../src/files/pieces/wire.js';
import { ed25519Pair } from './helpers/keys.js';

const sha = (...parts: Uint8Array[]): Buffer => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

/** BEP 52 from its text: leaves = SHA-256 of 16 KiB blocks, zero leaves up to a power of two. */
function naiveRoot(data: Uint8Array): Buffer {
  if (data.length === 0) return Buffer.alloc(32);
  let level: Buffer[] = [];
  for (let off = 0; off < data.length; off += BLOCK_SIZE)
    level.push(sha(data.subarray(off, off + BLOCK_SIZE)));
  let width = 1;
  while (width < level.length) width *= 2;
  while (level.length < width) level.push(Buffer.alloc(32));
  while (level.length > 1) {
    const next: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(sha(level[i]!, level[i + 1]!));
    level = next;
  }
  return level[0]!;
}

function hashAll(data: Uint8Array, pieceLength: number, readSize: number) {
  const hasher = new PieceHasher(data.length, pieceLength);
  for (let off = 0; off < data.length; off += readSize) hasher.update(data.subarray(off, off + readSize));
  return hasher.digest();
}

describe('Merkle tree (BEP 52)', () => {
  it('matches a naive full-tree root for sizes around block and piece boundaries', () => {
    const piece = 64 * 1024;
    for (const size of [
      0,
      1,
      BLOCK_SIZE - 1,
      BLOCK_SIZE,
      BLOCK_SIZE + 1,
      piece,
      piece + 1,
      3 * piece,
      5 * piece + 7,
      17 * piece,
    ]) {
      const data = randomBytes(size);
      for (const readSize of [1000, 20000, 65536, 1 << 20]) {
        const { root, layer } = hashAll(data, piece, readSize);
        assert.deepEqual(root, naiveRoot(data), `size ${size}, reads of ${readSize}`);
        assert.equal(layer.length, Math.ceil(size / piece));
        assert.deepEqual(rootFromLayer(layer, size, piece), root);
      }
    }
  });

  it('each piece hash is the subtree root of that piece alone', () => {
    const piece = 64 * 1024;
    const data = randomBytes(3 * piece + 5000);
    const { layer } = hashAll(data, piece, 4096);
    for (let i = 0; i < layer.length; i++) {
      assert.deepEqual(pieceRoot(data.subarray(i * piece, (i + 1) * piece), piece / BLOCK_SIZE), layer[i]);
    }
    // A one-piece file: the piece hash is the root, over a tree as wide as its blocks need.
    const small = randomBytes(3 * BLOCK_SIZE);
    assert.deepEqual(hashAll(small, piece, 999).layer[0], naiveRoot(small));
  });

  it('test vector: one block of zeros, and two blocks of zeros', () => {
    const zeros = Buffer.alloc(BLOCK_SIZE);
    const leaf = sha(zeros);
    assert.equal(hashAll(zeros, BLOCK_SIZE, BLOCK_SIZE).root.toString('hex'), leaf.toString('hex'));
    assert.equal(
      hashAll(Buffer.alloc(2 * BLOCK_SIZE), BLOCK_SIZE, BLOCK_SIZE).root.toString('hex'),
      sha(leaf, leaf).toString('hex'),
    );
    assert.equal(leaf.toString('hex'), '4fe7b59af6de3b665b67788cc2f99892ab827efae3a467342b3bb4e3bc8e5bfe');
  });
});

describe('PROTOCOL.md vectors', () => {
  const OFFER_HEX =
    '012cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824000000000000000512000968656c6c6f2e74787400000000000000008a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c58ca2c709bec2a439700960dd7297b937627593b0ca68be9564827feee245d866548df15f4e60594afb7cf8d8338c74f480eec7388ce934a0e3f0f3d2ab8830c';

  it('roots of "hello" and of three zero blocks in 16 KiB pieces', () => {
    assert.equal(
      hashAll(Buffer.from('hello'), 256 * 1024, 5).root.toString('hex'),
      '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    );
    assert.equal(
      hashAll(Buffer.alloc(3 * BLOCK_SIZE), BLOCK_SIZE, BLOCK_SIZE).root.toString('hex'),
      '1cb5a249f6e721060aae623d21d3eca23056bda8c19e4e89f9a086151553713d',
    );
  });

  it('the offer of hello.txt signed with the key whose seed is 32 bytes of 0x01', async () => {
    const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.alloc(32, 1)]);
    const key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const offer = await createOffer(signerFromPrivateKey(key), {
      root: Buffer.from('2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824', 'hex'),
      size: 5,
      pieceLength: 256 * 1024,
      name: 'hello.txt',
      createdAt: 0,
    });
    assert.equal(offer.body.toString('hex'), OFFER_HEX);
    assert.equal(parseOffer(Buffer.from(OFFER_HEX, 'hex')).offeredBy, '34750f98bd59fcfc946da45aaabe933b');
  });
});

describe('signed offers', () => {
  const { privateKey } = ed25519Pair();
  const signer = signerFromPrivateKey(privateKey);
  const fields = { root: randomBytes(32), size: 123456, pieceLength: 256 * 1024, name: 'réport.pdf' };

  it('round-trips and names the signer by its peer ID', async () => {
    const offer = await createOffer(signer, fields);
    const parsed = parseOffer(offer.body);
    assert.equal(parsed.name, 'réport.pdf');
    assert.equal(parsed.size, 123456);
    assert.equal(parsed.pieceLength, 256 * 1024);
    assert.deepEqual(parsed.root, fields.root);
    assert.equal(parsed.offeredBy, peerIdFromPublicKey(signer.publicKey));
  });

  it('refuses any changed byte, a bad name and a bad piece length', async () => {
    const offer = await createOffer(signer, fields);
    for (let i = 0; i < offer.body.length; i += 7) {
      const bad = Buffer.from(offer.body);
      bad[i]! ^= 1;
      assert.throws(
        () => parseOffer(bad),
        (err: { code?: string }) => /ERR_FILE_(PROTOCOL|NAME)/.test(err.code ?? ''),
      );
    }
    assert.throws(() => parseOffer(offer.body.subarray(0, 50)), { code: 'ERR_FILE_PROTOCOL' });
    await assert.rejects(createOffer(signer, { ...fields, name: '../x' }), { code: 'ERR_FILE_NAME' });
    await assert.rejects(createOffer(signer, { ...fields, pieceLength: 3000 }), {
      code: 'ERR_INVALID_ARGUMENT',
    });
  });
});

describe('piece frames', () => {
  const root = Buffer.alloc(32, 0xab);
  it('round-trip', () => {
    assert.deepEqual(parsePieceFrame(encodeWant(root)), { type: 'want', root });
    assert.deepEqual(parsePieceFrame(encodeGetLayer(root)), { type: 'get-layer', root });
    assert.deepEqual(parsePieceFrame(encodeRequest(root, 7)), { type: 'request', root, index: 7 });
    const piece = parsePieceFrame(encodePiece(root, 3, Buffer.from('abc')));
    assert.equal(piece?.type, 'piece');
    assert.deepEqual(piece?.type === 'piece' && Buffer.from(piece.data), Buffer.from('abc'));
    assert.deepEqual(parsePieceFrame(encodeNope(root, 0xffffffff, NopeReason.refused)), {
      type: 'nope',
      root,
      index: 0xffffffff,
      reason: NopeReason.refused,
    });
    const layer = parsePieceFrame(encodeLayer(root, [Buffer.alloc(32, 1), Buffer.alloc(32, 2)]));
    assert.equal(layer?.type === 'layer' && layer.layer.length, 64);
    assert.equal(parsePieceFrame(encodeOfferFrame(Buffer.from('x'), true))?.type, 'have');
    assert.equal(parsePieceFrame(Buffer.from('hello')), null);
  });

  it('vector: request for piece 1 of root ab..ab', () => {
    assert.equal(encodeRequest(root, 1).toString('hex'), '4d57463105' + 'ab'.repeat(32) + '00000001');
  });

  it('refuses malformed frames with ERR_FILE_PROTOCOL', () => {
    for (const bad of [
      Buffer.from('MWF1'),
      Buffer.concat([Buffer.from('MWF1'), Buffer.from([0x05]), root]),
      Buffer.concat([Buffer.from('MWF1'), Buffer.from([0x04]), root, Buffer.alloc(31)]),
      Buffer.concat([Buffer.from('MWF1'), Buffer.from([0x07]), root, Buffer.alloc(4), Buffer.from([9])]),
      Buffer.concat([Buffer.from('MWF1'), Buffer.from([0x99]), root]),
      Buffer.concat([Buffer.from('MWF1'), Buffer.from([0x02]), root, Buffer.alloc(1)]),
    ]) {
      assert.throws(() => parsePieceFrame(bad), { code: 'ERR_FILE_PROTOCOL' }, bad.toString('hex'));
    }
  });
});

describe('piece length and default window', () => {
  it('256 KiB pieces below 64 MiB, 512 KiB from there, doubled past 65,536 pieces', async () => {
    const { choosePieceLength } = await import('../src/files/index.js');
    const MiB = 1024 * 1024;
    assert.equal(choosePieceLength(0), 256 * 1024);
    assert.equal(choosePieceLength(64 * MiB - 1), 256 * 1024);
    assert.equal(choosePieceLength(64 * MiB), 512 * 1024);
    assert.equal(choosePieceLength(1024 * MiB), 512 * 1024);
    assert.equal(choosePieceLength(32 * 1024 * MiB), 512 * 1024);
    assert.equal(choosePieceLength(32 * 1024 * MiB + 1), 1024 * 1024);
  });

  it('the default window keeps 4 MiB in flight per source, at least 4 pieces', async () => {
    const { defaultWindow, resolveShareOptions } = await import('../src/files/pieces/share-options.js');
    assert.equal(defaultWindow(256 * 1024), 16);
    assert.equal(defaultWindow(512 * 1024), 8);
    assert.equal(defaultWindow(8 * 1024 * 1024), 4);
    assert.equal(resolveShareOptions({}).window, undefined);
    assert.equal(resolveShareOptions({ window: 3 }).window, 3);
    assert.throws(() => resolveShareOptions({ window: 0 }), /window/);
  });
});

describe('hashFile and the piece length', () => {
  it('large pieces only where they fit a message; an offer piece length is honoured', async (t) => {
    const { choosePieceLength } = await import('../src/files/index.js');
    const { hashFile } = await import('../src/files/pieces/source.js');
    const { writeFile, mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    assert.equal(choosePieceLength(64 * 1024 * 1024, 300 * 1024), 256 * 1024);
    assert.equal(choosePieceLength(64 * 1024 * 1024, 512 * 1024), 512 * 1024);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-hashfile-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'f.bin');
    await writeFile(file, randomBytes(5 * 16 * 1024 + 100));
    const small = await hashFile(file, { pieceLength: 16 * 1024 });
    const twice = await hashFile(file, { pieceLength: 32 * 1024 });
    assert.equal(small.pieceLength, 16 * 1024);
    assert.equal(small.layer.length, 6);
    assert.equal(twice.layer.length, 3);
    // BEP 52: the root does not depend on the piece length.
    assert.deepEqual(small.root, twice.root);
  });
});
