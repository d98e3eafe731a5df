/**
 * Fresh keys without `generateKeyPair(Sync)` (src/secure/new-keys.ts): they are real, distinct
 * keys, and nothing in the tree goes back to the call that can deadlock Node 20.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, diffieHellman, randomBytes, sign, verify } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { peerIdFromPublicKey, rawEd25519PublicKey } from '../src/secure/identity.js';
import {
  newEd25519PrivateKey,
  newX25519PrivateKey,
  x25519PrivateKeyFromSeed,
} from '../src/secure/new-keys.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('new keys', () => {
  it('an Ed25519 key signs, its public key verifies, and each key is different', () => {
    const a = newEd25519PrivateKey();
    const b = newEd25519PrivateKey();
    assert.equal(a.asymmetricKeyType, 'ed25519');
    assert.equal(a.type, 'private');
    const message = Buffer.from('meshwire');
    const signature = sign(null, message, a);
    assert.equal(verify(null, message, createPublicKey(a), signature), true);
    assert.equal(verify(null, message, createPublicKey(b), signature), false);
    assert.notEqual(
      peerIdFromPublicKey(rawEd25519PublicKey(createPublicKey(a))),
      peerIdFromPublicKey(rawEd25519PublicKey(createPublicKey(b))),
    );
  });

  it('two X25519 keys agree on one shared secret, and differ from a third', () => {
    const a = newX25519PrivateKey();
    const b = newX25519PrivateKey();
    const c = newX25519PrivateKey();
    assert.equal(a.asymmetricKeyType, 'x25519');
    const ab = diffieHellman({ privateKey: a, publicKey: createPublicKey(b) });
    const ba = diffieHellman({ privateKey: b, publicKey: createPublicKey(a) });
    assert.equal(ab.length, 32);
    assert.deepEqual(ab, ba);
    assert.notDeepEqual(ab, diffieHellman({ privateKey: a, publicKey: createPublicKey(c) }));
  });

  it('an X25519 key from a seed is the key PKCS#8 gives for that seed (the JWK import ignores its placeholder x)', () => {
    const prefix = Buffer.from('302e020100300506032b656e04220420', 'hex'); // RFC 8410
    const peer = createPublicKey(newX25519PrivateKey());
    for (let i = 0; i < 20; i++) {
      const seed = randomBytes(32);
      const fast = x25519PrivateKeyFromSeed(seed);
      const reference = createPrivateKey({
        key: Buffer.concat([prefix, seed]),
        format: 'der',
        type: 'pkcs8',
      });
      assert.equal(fast.asymmetricKeyType, 'x25519');
      assert.equal(fast.type, 'private');
      assert.deepEqual(fast.export({ format: 'jwk' }), reference.export({ format: 'jwk' }), 'same d and x');
      assert.deepEqual(
        diffieHellman({ privateKey: fast, publicKey: peer }),
        diffieHellman({ privateKey: reference, publicKey: peer }),
      );
    }
    assert.throws(() => x25519PrivateKeyFromSeed(new Uint8Array(31)), RangeError);
  });

  it('5,000 keys made and exported (JWK, PEM) back to back finish: no deadlock', () => {
    // generateKeyPairSync in this loop hung about one run in three at 20,000 keys (new-keys.ts);
    // a child process, so a hang is a failed assertion here and not a stuck test file.
    const code = [
      "import { createPublicKey } from 'node:crypto';",
      `import { newEd25519PrivateKey } from ${JSON.stringify(path.join(root, 'src/secure/new-keys.ts'))};`,
      'for (let i = 0; i < 5000; i++) {',
      '  const key = newEd25519PrivateKey();',
      "  createPublicKey(key).export({ format: 'jwk' });",
      "  key.export({ type: 'pkcs8', format: 'pem' });",
      '}',
      "console.log('done');",
    ].join('\n');
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(run.signal, null, `the loop did not finish in 60 s (deadlocked?): ${run.stderr}`);
    assert.equal(run.stdout.trim(), 'done', run.stderr);
  });

  it('no source, test, bench or script calls generateKeyPair or generateKeyPairSync', () => {
    const call = /\bgenerateKeyPair(?:Sync)?\s*\(\s*['"`]/;
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        if (statSync(file).isDirectory()) walk(file);
        else if (/\.(?:ts|mts|mjs|js)$/.test(name) && call.test(readFileSync(file, 'utf8'))) {
          offenders.push(path.relative(root, file));
        }
      }
    };
    for (const dir of ['src', 'test', 'bench', 'scripts']) walk(path.join(root, dir));
    assert.deepEqual(
      offenders,
      [],
      'use newEd25519PrivateKey / newX25519PrivateKey (src/secure/new-keys.ts)',
    );
  });
});
