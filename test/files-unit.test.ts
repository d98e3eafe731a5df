import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import {
  DEFAULT_CHUNK_SIZE,
  MAX_FILE_HEADER_BYTES,
  candidateName,
  encodeFileChunk,
  encodeFileChunkHeader,
  encodeFileEnd,
  encodeFileStart,
  encodeFileAck,
  encodeFileReject,
  isFileFrame,
  parseFileFrame,
  sanitizeFileName,
  uniqueFinalPath,
} from '../src/files/index.js';

const SHA = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'; // SHA-256 of ""
const TIMEOUT = { timeout: 10_000 };

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof MeshwireError, `expected MeshwireError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return true;
  });
}

describe('file frames', TIMEOUT, () => {
  it('encodes exactly the Go wire format', () => {
    assert.equal(encodeFileStart('a.txt', 5, SHA).toString('utf8'), `FILESTART:a.txt|5|${SHA}\n`);
    assert.equal(encodeFileEnd('a.txt', SHA).toString('utf8'), `FILEEND:a.txt|${SHA}\n`);
    assert.equal(encodeFileChunkHeader('a.txt').toString('utf8'), 'FILECHUNK:a.txt\n');
    const chunk = encodeFileChunk('a.txt', Uint8Array.of(0, 10, 255));
    assert.deepEqual([...chunk], [...bytes('FILECHUNK:a.txt\n'), 0, 10, 255]);
    assert.equal(DEFAULT_CHUNK_SIZE, 256 * 1024);
  });

  it('encodes unicode names as UTF-8', () => {
    const frame = encodeFileStart('résumé 📄.pdf', 0, SHA);
    assert.deepEqual(parseFileFrame(frame), {
      type: 'file-start',
      name: 'résumé 📄.pdf',
      size: 0,
      sha256: SHA,
    });
  });

  it('refuses to encode what the receiver would refuse', () => {
    assertCode(() => encodeFileStart('../x', 1, SHA), 'ERR_FILE_NAME');
    assertCode(() => encodeFileStart('a|b', 1, SHA), 'ERR_FILE_NAME');
    assertCode(() => encodeFileChunkHeader('a\nb'), 'ERR_FILE_NAME');
    assertCode(() => encodeFileStart('a', -1, SHA), 'ERR_INVALID_ARGUMENT');
    assertCode(() => encodeFileStart('a', 1.5, SHA), 'ERR_INVALID_ARGUMENT');
    assertCode(() => encodeFileStart('a', 2 ** 53, SHA), 'ERR_INVALID_ARGUMENT');
    assertCode(() => encodeFileStart('a', 1, SHA.toUpperCase()), 'ERR_INVALID_ARGUMENT');
    assertCode(() => encodeFileEnd('a', 'abc'), 'ERR_INVALID_ARGUMENT');
  });

  it('round-trips every frame type', () => {
    assert.deepEqual(parseFileFrame(encodeFileStart('archive.tar.gz', Number.MAX_SAFE_INTEGER, SHA)), {
      type: 'file-start',
      name: 'archive.tar.gz',
      size: Number.MAX_SAFE_INTEGER,
      sha256: SHA,
    });
    assert.deepEqual(parseFileFrame(encodeFileEnd('x', SHA)), { type: 'file-end', name: 'x', sha256: SHA });
    const chunk = parseFileFrame(encodeFileChunk('x', bytes('line1\nline2|FILEEND:\n')));
    assert.equal(chunk?.type, 'file-chunk');
    assert.equal(chunk.name, 'x');
    assert.equal(
      Buffer.from(chunk.type === 'file-chunk' ? chunk.data : []).toString(),
      'line1\nline2|FILEEND:\n',
    );
  });

  it('parses an empty chunk and a chunk body that is not UTF-8', () => {
    const empty = parseFileFrame(bytes('FILECHUNK:x\n'));
    assert.ok(empty?.type === 'file-chunk');
    assert.equal(empty.name, 'x');
    assert.equal(empty.data.length, 0);
    const binary = parseFileFrame(Buffer.concat([bytes('FILECHUNK:x\n'), Buffer.from([0xff, 0xfe, 0])]));
    assert.ok(binary?.type === 'file-chunk');
    assert.deepEqual([...binary.data], [0xff, 0xfe, 0]);
  });

  it('accepts FILESTART / FILEEND without the final newline, as the Go receiver does', () => {
    assert.deepEqual(parseFileFrame(bytes(`FILESTART:a|0|${SHA}`)), {
      type: 'file-start',
      name: 'a',
      size: 0,
      sha256: SHA,
    });
    assert.deepEqual(parseFileFrame(bytes(`FILEEND:a|${SHA}`)), { type: 'file-end', name: 'a', sha256: SHA });
  });

  it('splits FILESTART / FILEEND from the right so a name with | reaches name validation', () => {
    const start = parseFileFrame(bytes(`FILESTART:a|b|7|${SHA}\n`));
    assert.deepEqual(start, { type: 'file-start', name: 'a|b', size: 7, sha256: SHA });
    const end = parseFileFrame(bytes(`FILEEND:a|b|${SHA}\n`));
    assert.deepEqual(end, { type: 'file-end', name: 'a|b', sha256: SHA });
  });

  it('returns null for payloads of other protocols', () => {
    for (const s of [
      '',
      'hello',
      'FILE:a|1|x\nz',
      'filestart:a|0|' + SHA,
      'FILESTAR',
      ' FILESTART:a|0|' + SHA,
    ]) {
      assert.equal(parseFileFrame(bytes(s)), null, s);
      assert.equal(isFileFrame(bytes(s)), false, s);
    }
    assert.equal(isFileFrame(bytes('FILECHUNK:')), true);
  });

  it('rejects malformed frames with ERR_FILE_PROTOCOL', () => {
    const bad = [
      'FILESTART:',
      'FILESTART:\n',
      `FILESTART:a|${SHA}\n`, // missing size
      `FILESTART:|5|${SHA}\n`, // empty name
      `FILESTART:a||${SHA}\n`, // empty size
      `FILESTART:a|-1|${SHA}\n`,
      `FILESTART:a|+1|${SHA}\n`,
      `FILESTART:a|01|${SHA}\n`,
      `FILESTART:a|1.0|${SHA}\n`,
      `FILESTART:a|1e3|${SHA}\n`,
      `FILESTART:a| 1|${SHA}\n`,
      `FILESTART:a|9007199254740992|${SHA}\n`, // MAX_SAFE_INTEGER + 1
      `FILESTART:a|99999999999999999999|${SHA}\n`,
      `FILESTART:a|1|${SHA.toUpperCase()}\n`,
      `FILESTART:a|1|${SHA.slice(1)}\n`,
      `FILESTART:a|1|${SHA}0\n`,
      `FILESTART:a|1|${SHA}\r\n`,
      `FILESTART:a|1|${SHA}\nextra`,
      'FILECHUNK:x', // no header line
      'FILECHUNK:\ndata', // empty name
      'FILEEND:a',
      'FILEEND:a|',
      `FILEEND:|${SHA}`,
      `FILEEND:a|${SHA}\n\n`,
    ];
    for (const s of bad) assertCode(() => parseFileFrame(bytes(s)), 'ERR_FILE_PROTOCOL');
  });

  it('rejects headers that are not UTF-8', () => {
    const name = Buffer.from([0x61, 0xc3]); // truncated sequence
    const frames = [
      Buffer.concat([bytes('FILECHUNK:'), name, bytes('\nx')]),
      Buffer.concat([bytes('FILESTART:'), name, bytes(`|1|${SHA}\n`)]),
      Buffer.concat([bytes('FILEEND:'), name, bytes(`|${SHA}\n`)]),
    ];
    for (const f of frames) assertCode(() => parseFileFrame(f), 'ERR_FILE_PROTOCOL');
  });

  it('bounds the header line', () => {
    const longName = 'n'.repeat(MAX_FILE_HEADER_BYTES);
    assertCode(() => parseFileFrame(bytes(`FILECHUNK:${longName}\nbody`)), 'ERR_FILE_PROTOCOL');
    assertCode(() => parseFileFrame(bytes(`FILESTART:${longName}|1|${SHA}\n`)), 'ERR_FILE_PROTOCOL');
    assertCode(() => parseFileFrame(bytes(`FILEEND:${longName}|${SHA}`)), 'ERR_FILE_PROTOCOL');
    // A chunk whose body is big but header short is fine, and the body may hold newlines anywhere.
    const body = Buffer.alloc(MAX_FILE_HEADER_BYTES * 4, 0x0a);
    const parsed = parseFileFrame(Buffer.concat([bytes('FILECHUNK:x\n'), body]));
    assert.ok(parsed?.type === 'file-chunk');
    assert.equal(parsed.data.length, body.length);
    // Exactly at the limit still parses.
    const atLimit = 'FILECHUNK:' + 'n'.repeat(MAX_FILE_HEADER_BYTES - 'FILECHUNK:'.length);
    assert.equal(parseFileFrame(bytes(`${atLimit}\n`))?.type, 'file-chunk');
  });
});

describe('file reply frames (secure mode)', TIMEOUT, () => {
  it('encode the vectors of PROTOCOL.md and round-trip', () => {
    const reject = encodeFileReject('a.txt', 'ERR_TOO_MANY_PENDING');
    assert.equal(
      reject.toString('hex'),
      '46494c4552454a4543543a612e7478747c4552525f544f4f5f4d414e595f50454e44494e470a',
    );
    assert.deepEqual(parseFileFrame(reject), {
      type: 'file-reject',
      name: 'a.txt',
      reason: 'ERR_TOO_MANY_PENDING',
    });
    const ack = encodeFileAck('a.txt', SHA);
    assert.deepEqual(ack, bytes(`FILEACK:a.txt|${SHA}\n`));
    assert.deepEqual(parseFileFrame(ack), { type: 'file-ack', name: 'a.txt', sha256: SHA });
    assert.ok(isFileFrame(reject) && isFileFrame(ack));
  });

  it('refuse unknown reasons and malformed replies', () => {
    assertCode(() => parseFileFrame(bytes('FILEREJECT:a.txt|ERR_WHATEVER\n')), 'ERR_FILE_PROTOCOL');
    assertCode(() => parseFileFrame(bytes('FILEREJECT:a.txt\n')), 'ERR_FILE_PROTOCOL');
    assertCode(() => parseFileFrame(bytes('FILEACK:a.txt|xyz\n')), 'ERR_FILE_PROTOCOL');
    assertCode(() => parseFileFrame(bytes('FILEREJECT:|ERR_FILE_IO\n')), 'ERR_FILE_PROTOCOL');
    assertCode(() => encodeFileReject('a.txt', 'ERR_NOPE' as never), 'ERR_INVALID_ARGUMENT');
    assertCode(() => encodeFileReject('../a', 'ERR_FILE_IO'), 'ERR_FILE_NAME');
  });
});

describe('sanitizeFileName', TIMEOUT, () => {
  it('accepts ordinary names unchanged', () => {
    for (const name of [
      'a',
      'report.pdf',
      'archive.tar.gz',
      'my holiday photo.JPG',
      ' leading and trailing ',
      '.env',
      '...',
      '..a',
      'a..b',
      'résumé.pdf',
      '日本語のファイル.txt',
      '📄',
      'x'.repeat(255),
      'é'.repeat(127), // 254 bytes
      'notes:v2.txt',
    ]) {
      assert.equal(sanitizeFileName(name), name);
    }
  });

  it('refuses names that could leave the downloads directory or break the frames', () => {
    for (const name of [
      '',
      '.',
      '..',
      '../x',
      '../escape.txt',
      '/etc/passwd',
      'a/b',
      'a\\b',
      '..\\x',
      '\\\\server\\share',
      'C:x',
      'c:\\windows',
      'Z:',
      'a\0b',
      'a\nb',
      'a\rb',
      'tab\there',
      '\x1b[31mred',
      'del\x7f',
      'c1\u0085',
      'a|b',
      '|',
      'x'.repeat(256),
      'é'.repeat(128), // 256 bytes
      'lone\uD800surrogate',
    ]) {
      assertCode(() => sanitizeFileName(name), 'ERR_FILE_NAME');
    }
  });

  it('also refuses what Windows would not store as a plain file, on Windows', () => {
    const win = { platform: 'win32' as const };
    for (const name of [
      'CON',
      'con.txt',
      'NUL',
      'nul.tar.gz',
      'Com1.log',
      'LPT9',
      'aux ',
      'ab:c',
      'what?',
      'a*b',
      'x<y',
      'q"',
      'dot.',
      'space ',
    ]) {
      assertCode(() => sanitizeFileName(name, win), 'ERR_FILE_NAME');
      if (!/[. ]$/.test(name)) assert.equal(sanitizeFileName(name, { platform: 'linux' }), name);
    }
    for (const name of ['console.txt', 'nullable', 'com10', 'report.pdf', 'lpt', 'conf']) {
      assert.equal(sanitizeFileName(name, win), name);
    }
  });

  it('explains the refusal', () => {
    assert.throws(() => sanitizeFileName('../x'), /path separator/);
    assert.throws(() => sanitizeFileName('a|b'), /\|/);
  });
});

describe('uniqueFinalPath', TIMEOUT, () => {
  it('numbers candidates before the last extension', () => {
    assert.equal(candidateName('a.txt', 0), 'a.txt');
    assert.equal(candidateName('a.txt', 1), 'a-(1).txt');
    assert.equal(candidateName('archive.tar.gz', 2), 'archive.tar-(2).gz');
    assert.equal(candidateName('README', 3), 'README-(3)');
    assert.equal(candidateName('.env', 1), '.env-(1)');
  });

  it('picks name, name-(1).ext, name-(2).ext, skipping existing files and reservations', async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-files-unit-'));
    t.after(() => rm(dir, { recursive: true, force: true }));

    assert.equal(await uniqueFinalPath(dir, 'a.txt'), path.join(dir, 'a.txt'));
    await writeFile(path.join(dir, 'a.txt'), '');
    assert.equal(await uniqueFinalPath(dir, 'a.txt'), path.join(dir, 'a-(1).txt'));
    await writeFile(path.join(dir, 'a-(1).txt'), '');
    assert.equal(await uniqueFinalPath(dir, 'a.txt'), path.join(dir, 'a-(2).txt'));
    // Reserved by another in-flight transfer: skipped although not on disk.
    assert.equal(await uniqueFinalPath(dir, 'a.txt', new Set(['a-(2).txt'])), path.join(dir, 'a-(3).txt'));
    assert.equal(await uniqueFinalPath(dir, 'b.txt', new Set(['b.txt'])), path.join(dir, 'b-(1).txt'));
    // A dangling symlink occupies its name too.
    await symlink(path.join(dir, 'nowhere'), path.join(dir, 'c'));
    assert.equal(await uniqueFinalPath(dir, 'c'), path.join(dir, 'c-(1)'));
    // Relative directories are resolved.
    const rel = path.relative(process.cwd(), dir);
    assert.equal(await uniqueFinalPath(rel, 'z'), path.join(dir, 'z'));
  });

  it('refuses unsafe names', async () => {
    await assert.rejects(uniqueFinalPath(os.tmpdir(), '../x'), { code: 'ERR_FILE_NAME' });
  });
});
