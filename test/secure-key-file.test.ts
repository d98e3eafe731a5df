/**
 * Secret files: a key file owned by another user is refused (as root, with chown), passphrase
 * files are read through the same checks, and generated network keys are 256 random bits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readSecretFile, readSecretText } from '../src/secure/key-file.js';
import { loadOrCreateIdentity } from '../src/secure/identity.js';
import { generateNetworkKey, GENERATED_NETWORK_KEY_BITS } from '../src/secure/network-key-gen.js';
import { generateNetworkKey as exported } from '../src/index.js';
import { rejectsWith } from './helpers/nodes.js';

const TIMEOUT = { timeout: 10_000 };
const POSIX = process.platform !== 'win32';
const ROOT = process.getuid?.() === 0;
/** An unprivileged uid that is not ours (nobody). */
const OTHER_UID = 65534;

let dir: string;
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'meshwire-key-file-'));
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('secret files', () => {
  test(
    'a key file owned by another user is refused, even when running as root',
    { ...TIMEOUT, skip: !POSIX || !ROOT ? 'needs root on POSIX (chown to another uid)' : false },
    async () => {
      const file = path.join(dir, 'theirs.key');
      await loadOrCreateIdentity(file); // a valid key, mode 0600
      assert.ok(await readSecretFile(file, 'key file'), 'readable while it is ours');
      await fs.chown(file, OTHER_UID, OTHER_UID);
      const err = await rejectsWith(readSecretFile(file, 'key file'), 'ERR_KEY_FILE');
      assert.match(err.message, /owned by another user \(uid 65534/);
      assert.match(err.message, /chown 0 /);
      await rejectsWith(loadOrCreateIdentity(file), 'ERR_KEY_FILE');
      // Network key files get the same rule.
      const keyFile = path.join(dir, 'theirs.netkey');
      await fs.writeFile(keyFile, 'secret\n', { mode: 0o600 });
      await fs.chown(keyFile, OTHER_UID, OTHER_UID);
      await rejectsWith(readSecretText(keyFile, 'network key file'), 'ERR_KEY_FILE');
    },
  );

  test('readSecretText trims, and refuses missing, empty and group-readable files', TIMEOUT, async () => {
    const file = path.join(dir, 'net.key');
    await fs.writeFile(file, '  correct horse \n', { mode: 0o600 });
    assert.equal(await readSecretText(file, 'network key file'), 'correct horse');
    await rejectsWith(readSecretText(path.join(dir, 'missing'), 'network key file'), 'ERR_KEY_FILE');
    const empty = path.join(dir, 'empty.key');
    await fs.writeFile(empty, '\n\n', { mode: 0o600 });
    const err = await rejectsWith(readSecretText(empty, 'network key file'), 'ERR_KEY_FILE');
    assert.match(err.message, /is empty/);
    if (POSIX) {
      const open = path.join(dir, 'open.key');
      await fs.writeFile(open, 'x', { mode: 0o640 });
      await fs.chmod(open, 0o640);
      const loose = await rejectsWith(readSecretText(open, 'network key file'), 'ERR_KEY_FILE');
      assert.match(loose.message, /chmod 600/);
    }
  });

  test('generateNetworkKey: 256 random bits as base64url, exported from the package', () => {
    const keys = new Set(Array.from({ length: 100 }, () => generateNetworkKey()));
    assert.equal(keys.size, 100);
    for (const key of keys) {
      assert.match(key, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(Buffer.from(key, 'base64url').length * 8, GENERATED_NETWORK_KEY_BITS);
    }
    assert.equal(exported, generateNetworkKey);
  });
});
