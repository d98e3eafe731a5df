import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MeshwireError } from '../src/errors.js';
import {
  createIdentity,
  deriveNetworkKey,
  isPeerId,
  loadOrCreateIdentity,
  looksLikeTls,
  parseNetworkKey,
  peerIdFromPublicKey,
  readNetworkKeyFile,
  shortPeerId,
  TLS_HANDSHAKE_RECORD,
} from '../src/secure/index.js';
import { p256PrivateKey } from './helpers/keys.js';

const POSIX = process.platform !== 'win32';
const TIMEOUT = 10_000;

let dir: string;

before(
  async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshwire-secure-identity-'));
  },
  { timeout: TIMEOUT },
);

after(
  async () => {
    await fs.rm(dir, { recursive: true, force: true });
  },
  { timeout: TIMEOUT },
);

/** Asserts that `promise` rejects with a MeshwireError of the given code. */
async function rejectsWithCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof MeshwireError, `expected MeshwireError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    return true;
  });
}

describe('identity', () => {
  test('createIdentity gives a consistent in-memory identity', { timeout: TIMEOUT }, async () => {
    const identity = await createIdentity();
    assert.match(identity.id, /^[0-9a-f]{32}$/);
    assert.ok(isPeerId(identity.id));
    assert.equal(identity.id, peerIdFromPublicKey(identity.publicKeyRaw));
    assert.equal(identity.shortId, identity.id.slice(0, 8));
    assert.equal(shortPeerId(identity.id), identity.shortId);
    assert.equal(identity.publicKeyRaw.length, 32);
    assert.equal(identity.publicKey.asymmetricKeyType, 'ed25519');
    assert.equal(identity.privateKey.asymmetricKeyType, 'ed25519');
    assert.equal(identity.keyFile, undefined);
    assert.equal(createPrivateKey(identity.keyPem).asymmetricKeyType, 'ed25519');

    const other = await createIdentity();
    assert.notEqual(other.id, identity.id);
  });

  test(
    'the certificate is self-signed, carries the key and names the peer ID',
    { timeout: TIMEOUT },
    async () => {
      const identity = await createIdentity();
      const cert = new X509Certificate(identity.certPem);
      assert.equal(cert.subject, `CN=${identity.id}`);
      assert.equal(cert.issuer, `CN=${identity.id}`);
      assert.ok(cert.publicKey.equals(identity.publicKey));
      assert.ok(cert.verify(identity.publicKey));
      assert.ok(cert.checkPrivateKey(identity.privateKey));
      assert.equal(cert.ca, false);
      const now = Date.now();
      const from = Date.parse(cert.validFrom);
      const to = Date.parse(cert.validTo);
      // X.509 times have one-second resolution; allow for that and for test run time.
      assert.ok(from <= now - 59 * 60_000 && from >= now - 61 * 60_000, `validFrom ${cert.validFrom}`);
      assert.ok(to >= now + 9.9 * 365 * 86_400_000, `validTo ${cert.validTo}`);
      assert.notEqual(new X509Certificate((await createIdentity()).certPem).serialNumber, cert.serialNumber);
    },
  );

  test('peerIdFromPublicKey rejects keys that are not 32 bytes', () => {
    assert.throws(
      () => peerIdFromPublicKey(new Uint8Array(31)),
      (err: unknown) => err instanceof MeshwireError && err.code === 'ERR_INVALID_ARGUMENT',
    );
    // Known answer: SHA-256 of 32 zero bytes starts with 66687aadf862bd776c8fc18b8e9f8e20.
    assert.equal(peerIdFromPublicKey(new Uint8Array(32)), '66687aadf862bd776c8fc18b8e9f8e20');
  });

  test(
    'loadOrCreateIdentity creates a 0600 key file and reloads the same identity',
    { timeout: TIMEOUT },
    async () => {
      const keyFile = path.join(dir, 'nested', 'deeper', 'identity.pem');
      const created = await loadOrCreateIdentity(keyFile);
      assert.equal(created.keyFile, keyFile);
      assert.match(created.id, /^[0-9a-f]{32}$/);
      if (POSIX) {
        assert.equal((await fs.stat(keyFile)).mode & 0o777, 0o600);
        assert.equal((await fs.stat(path.dirname(keyFile))).mode & 0o077, 0);
      }
      const pem = await fs.readFile(keyFile, 'utf8');
      assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);

      const loaded = await loadOrCreateIdentity(keyFile);
      assert.equal(loaded.id, created.id);
      assert.ok(loaded.publicKeyRaw.equals(created.publicKeyRaw));
      assert.equal(await fs.readFile(keyFile, 'utf8'), pem, 'loading must not rewrite the file');
      // No temporary files are left next to the key.
      assert.deepEqual(await fs.readdir(path.dirname(keyFile)), ['identity.pem']);
    },
  );

  test('different key files give different identities', { timeout: TIMEOUT }, async () => {
    const a = await loadOrCreateIdentity(path.join(dir, 'a.pem'));
    const b = await loadOrCreateIdentity(path.join(dir, 'b.pem'));
    assert.notEqual(a.id, b.id);
  });

  test(
    'concurrent loadOrCreateIdentity of one new path agrees on one key',
    { timeout: TIMEOUT },
    async () => {
      const keyFile = path.join(dir, 'race', 'identity.pem');
      const results = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateIdentity(keyFile)));
      const onDisk = await loadOrCreateIdentity(keyFile);
      for (const r of results) assert.equal(r.id, onDisk.id);
      assert.deepEqual(await fs.readdir(path.dirname(keyFile)), ['identity.pem']);
    },
  );

  test('a key file readable by group or others is refused', { timeout: TIMEOUT, skip: !POSIX }, async () => {
    const keyFile = path.join(dir, 'open.pem');
    await loadOrCreateIdentity(keyFile);
    await fs.chmod(keyFile, 0o644);
    await rejectsWithCode(loadOrCreateIdentity(keyFile), 'ERR_KEY_FILE', /mode 0644.*chmod 600/);
    await fs.chmod(keyFile, 0o640);
    await rejectsWithCode(loadOrCreateIdentity(keyFile), 'ERR_KEY_FILE', /group or others/);
    await fs.chmod(keyFile, 0o400);
    await loadOrCreateIdentity(keyFile);
  });

  test('a key file with garbage is refused', { timeout: TIMEOUT }, async () => {
    const keyFile = path.join(dir, 'garbage.pem');
    await fs.writeFile(keyFile, 'this is not a key\n', { mode: 0o600 });
    await rejectsWithCode(loadOrCreateIdentity(keyFile), 'ERR_KEY_FILE', /PEM private key/);
    const empty = path.join(dir, 'empty.pem');
    await fs.writeFile(empty, '', { mode: 0o600 });
    await rejectsWithCode(loadOrCreateIdentity(empty), 'ERR_KEY_FILE');
    // The refused file is left alone rather than replaced by a new identity.
    assert.equal(await fs.readFile(keyFile, 'utf8'), 'this is not a key\n');
  });

  test('a key file with a non-Ed25519 key is refused', { timeout: TIMEOUT }, async () => {
    const keyFile = path.join(dir, 'p256.pem');
    const privateKey = p256PrivateKey();
    await fs.writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    await rejectsWithCode(loadOrCreateIdentity(keyFile), 'ERR_KEY_FILE', /ec key; meshwire needs Ed25519/);
  });

  test('a key path that is a directory is refused', { timeout: TIMEOUT }, async () => {
    const keyDir = path.join(dir, 'a-directory');
    await fs.mkdir(keyDir, { mode: 0o700 });
    await rejectsWithCode(loadOrCreateIdentity(keyDir), 'ERR_KEY_FILE', /not a regular file/);
  });
});

describe('network key', () => {
  test('derivation is deterministic, 32 bytes, and NFC-normalizes strings', () => {
    const k = deriveNetworkKey('correct horse battery staple');
    assert.equal(k.length, 32);
    assert.ok(k.equals(deriveNetworkKey('correct horse battery staple')));
    assert.ok(k.equals(deriveNetworkKey(Buffer.from('correct horse battery staple'))));
    assert.ok(!k.equals(deriveNetworkKey('correct horse battery stapler')));
    assert.ok(deriveNetworkKey('caf\u00e9').equals(deriveNetworkKey('cafe\u0301')));
    assert.ok(parseNetworkKey('  secret\n').equals(deriveNetworkKey('secret')));
    assert.throws(
      () => parseNetworkKey(' \n'),
      (err: unknown) => err instanceof MeshwireError,
    );
    assert.throws(
      () => deriveNetworkKey(''),
      (err: unknown) => err instanceof MeshwireError,
    );
  });

  test('readNetworkKeyFile trims, and refuses empty or exposed files', { timeout: TIMEOUT }, async () => {
    const file = path.join(dir, 'network.key');
    await fs.writeFile(file, 'secret\n', { mode: 0o600 });
    assert.ok((await readNetworkKeyFile(file)).equals(deriveNetworkKey('secret')));

    const empty = path.join(dir, 'empty.key');
    await fs.writeFile(empty, '  \n', { mode: 0o600 });
    await rejectsWithCode(readNetworkKeyFile(empty), 'ERR_KEY_FILE', /empty/);
    await rejectsWithCode(
      readNetworkKeyFile(path.join(dir, 'missing.key')),
      'ERR_KEY_FILE',
      /does not exist/,
    );
    if (POSIX) {
      await fs.chmod(file, 0o604);
      await rejectsWithCode(readNetworkKeyFile(file), 'ERR_KEY_FILE', /group or others/);
    }
  });
});

describe('detect', () => {
  test('looksLikeTls recognises a TLS handshake record', () => {
    assert.equal(TLS_HANDSHAKE_RECORD, 0x16);
    assert.equal(looksLikeTls(0x16), true);
    assert.equal(looksLikeTls('{'.charCodeAt(0)), false);
    assert.equal(looksLikeTls(0), false);
  });
});
