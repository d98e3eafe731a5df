/**
 * The CLI's error table as pure functions: one-line usage errors with "did you mean", --name
 * and address problems in the user's terms, dial errors with CLI advice (mode mismatch, a
 * shared key file), numbered bootstrap attempts, chat lines that cannot pass for status lines,
 * and terminal width for emoji.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCli, addressProblem, nameProblem } from '../src/cli/args.js';
import { cliOptionMessage } from '../src/cli/node-config.js';
import { BootstrapWatch, isPermanent } from '../src/cli/bootstrap-watch.js';
import type { CliEvent } from '../src/cli/cli-events.js';
import { renderLine } from '../src/cli/colour.js';
import { dialErrorText } from '../src/cli/error-text.js';
import { chatLabel, describe as describeEvent, type Line } from '../src/cli/event-text.js';
import { cursorRow, displayWidth, rowsFor, truncateToWidth } from '../src/cli/text-width.js';
import { suggestFlag, usageError, USAGE } from '../src/cli/usage.js';
import { MeshwireError } from '../src/errors.js';

const T = new Date(2024, 0, 2, 15, 4, 35).getTime();
const CTX = { maxPeers: 10, now: T, mode: 'secure' as const, port: 8002, keyFile: '/srv/node.key' };

function text(event: CliEvent, ctx: Parameters<typeof describeEvent>[1] = CTX): string {
  const items = describeEvent(event, ctx);
  assert.equal(items.length, 1);
  return renderLine(items[0] as Line);
}

function usage(argv: string[], env: Record<string, string> = {}): string {
  const parsed = parseCli(argv, env, '/tmp');
  assert.equal(parsed.kind, 'error', `expected an error for ${argv.join(' ')}`);
  return (parsed as { message: string }).message;
}

describe('usage errors', () => {
  it('are one line plus where to find help, never the whole usage', () => {
    const out = usageError('missing <port>');
    assert.equal(out, "meshwire: missing <port>\nTry 'meshwire --help' for more information.\n");
    assert.ok(!out.includes('Options:'));
  });

  it('suggest the flag that was meant', () => {
    assert.equal(usage(['--nmae', 'x', '1']), 'unknown option --nmae; did you mean --name?');
    assert.equal(usage(['--max-peer', '3', '1']), 'unknown option --max-peer; did you mean --max-peers?');
    assert.equal(
      usage(['--netwrok-key-file', 'f', '1']),
      'unknown option --netwrok-key-file; did you mean --network-key-file?',
    );
    assert.equal(usage(['--jsn', '1']), 'unknown option --jsn; did you mean --json?');
    assert.equal(usage(['--zzzzzz', '1']), 'unknown option --zzzzzz');
    assert.equal(suggestFlag('-name', ['name', 'debug']), '--name');
    assert.equal(suggestFlag('--x', ['name']), undefined);
  });

  it('name --name and out-of-range ports in the user terms', () => {
    assert.equal(usage(['--name', 'a:b', '1']), "invalid --name \"a:b\": names cannot contain ':' or '|'");
    assert.equal(usage(['--name', '', '1']), 'invalid --name: it is empty');
    assert.match(usage(['--name', 'x'.repeat(65), '1']), /^invalid --name: longer than 64 bytes/);
    assert.equal(nameProblem('alice'), undefined);
    assert.equal(
      usage(['1', '127.0.0.1:99999']),
      'bootstrap address: port out of range (1-65535) in "127.0.0.1:99999"',
    );
    assert.equal(addressProblem('127.0.0.1:99999'), 'port out of range (1-65535) in "127.0.0.1:99999"');
    assert.equal(addressProblem('127.0.0.1:0'), 'port out of range (1-65535) in "127.0.0.1:0"');
    assert.equal(addressProblem('nohost'), 'not a host:port address: "nohost"');
    assert.equal(addressProblem('[::1]:8001'), undefined);
    // The library's own wording, if it catches something first, is translated too.
    assert.equal(
      cliOptionMessage('invalid option name: must not contain'),
      'invalid --name: must not contain',
    );
    assert.equal(cliOptionMessage('invalid option maxPeers: x'), 'invalid --max-peers: x');
    assert.equal(cliOptionMessage('invalid option fooBar: x'), 'invalid option fooBar: x');
  });

  it('keygen needs --network; --network-key on the command line warns; --no-input parses', () => {
    assert.deepEqual(parseCli(['keygen', '--network']), { kind: 'keygen' });
    assert.match(usage(['keygen']), /keygen needs --network/);
    assert.match(usage(['keygen', '--bogus']), /^keygen: Unknown option '--bogus'/);
    const withKey = parseCli(['--network-key', 'secret', '1'], {}, '/tmp');
    assert.equal(withKey.kind, 'run');
    if (withKey.kind === 'run') {
      assert.equal(withKey.config.warnings.length, 1);
      assert.match(
        withKey.config.warnings[0] as string,
        /visible to other users.*MESHWIRE_NETWORK_KEY.*--network-key-file/,
      );
    }
    const fromEnv = parseCli(['1'], { MESHWIRE_NETWORK_KEY: 'secret' }, '/tmp');
    assert.deepEqual(fromEnv.kind === 'run' && fromEnv.config.warnings, []);
    const headless = parseCli(['--no-input', '1'], {}, '/tmp');
    assert.equal(headless.kind === 'run' && headless.config.noInput, true);
    assert.match(USAGE, /--no-input/);
    assert.match(USAGE, /keygen --network/);
  });
});

describe('dial errors and bootstrap attempts', () => {
  const mismatchFromSecure = new MeshwireError(
    'ERR_TLS',
    '127.0.0.1:8001: connection closed during the TLS handshake: it is probably a node in compat mode, and this one is in secure mode (both sides must use the same mode)',
  );

  it('a mode mismatch is worded with --compat, for either side', () => {
    assert.equal(
      dialErrorText(mismatchFromSecure, CTX, '127.0.0.1:8001'),
      'it is a compat-mode (plaintext) node and this one is in secure mode; add --compat to join it (ERR_TLS)',
    );
    assert.equal(
      dialErrorText({ code: 'ERR_MODE_MISMATCH', message: 'x' }, { ...CTX, mode: 'compat' }, 'h:1'),
      'it is a secure-mode node and this one runs with --compat; remove --compat to join it (ERR_MODE_MISMATCH)',
    );
    assert.ok(isPermanent(mismatchFromSecure));
  });

  it('a node with our own identity elsewhere is "the same key file", our own port is "this node itself"', () => {
    const self = new MeshwireError('ERR_SELF_CONNECTION', '127.0.0.1:8001 is this node itself');
    assert.equal(
      dialErrorText(self, CTX, '127.0.0.1:8001'),
      "that node has this node's identity: both use the same key file (/srv/node.key); give each node its own --key-file (ERR_SELF_CONNECTION)",
    );
    assert.equal(
      dialErrorText(self, CTX, '127.0.0.1:8002'),
      'that is this node itself (ERR_SELF_CONNECTION)',
    );
  });

  it('numbers attempts, says when the next comes, and stops at once on what cannot heal', () => {
    const watch = new BootstrapWatch('127.0.0.1:8001', [1000, 2000, 4000, 8000, 16000]);
    const refused = new MeshwireError('ERR_CONNECTION_REFUSED', 'connect ECONNREFUSED 127.0.0.1:8001');
    assert.equal(
      text(watch.failed(refused, T)),
      '[15:04:35] [BOOTSTRAP] Attempt 1/6 to reach 127.0.0.1:8001 failed: connect ECONNREFUSED 127.0.0.1:8001 (ERR_CONNECTION_REFUSED); retrying in 1 s',
    );
    assert.match(text(watch.failed(refused, T)), /Attempt 2\/6 .*retrying in 2 s$/);
    assert.equal(watch.signal.aborted, false);
    const notFound = new MeshwireError(
      'ERR_HOST_NOT_FOUND',
      'host "nosuch.invalid" not found (DNS has no address for it)',
    );
    assert.match(
      text(watch.failed(notFound, T)),
      /Attempt 3\/6 .*ERR_HOST_NOT_FOUND\); not retrying \(this will not heal by itself\)$/,
    );
    assert.equal(watch.signal.aborted, true);
    assert.equal(watch.gaveUpWith, notFound);
    // A bootstrap-failed summary shows the real reason, not the abort.
    const summary = text({
      type: 'bootstrap-failed',
      time: T,
      address: '127.0.0.1:8001',
      attempts: 3,
      error: new MeshwireError('ERR_BOOTSTRAP_FAILED', 'aborted', { cause: notFound }),
    });
    assert.match(summary, /after 3 attempts: host "nosuch\.invalid" not found .*\(ERR_HOST_NOT_FOUND\)$/);
    // The last attempt on the schedule neither retries nor claims it gave up early.
    const last = new BootstrapWatch('h:1', []);
    assert.equal(
      text(last.failed(refused, T)),
      '[15:04:35] [BOOTSTRAP] Attempt 1/1 to reach h:1 failed: connect ECONNREFUSED 127.0.0.1:8001 (ERR_CONNECTION_REFUSED)',
    );
  });
});

describe('chat lines cannot pass for status lines', () => {
  it('chat is <name shortid>, status is [CATEGORY]; names cannot fake either', () => {
    const id = '30dc0aef9f0f554b88cb362281c5d456';
    for (const name of ['FILE', 'SYSTEM', 'ERROR', 'NETWORK']) {
      const line = text({
        type: 'chat',
        time: T,
        from: { id, name, address: 'h:1' },
        text: 'sent file: x.txt',
      });
      assert.equal(line, `[15:04:35] <${name} 30dc0aef> sent file: x.txt`);
      assert.ok(!line.includes(`[${name}]`));
    }
    // A name that tries to close the label early and start another is escaped.
    assert.equal(chatLabel({ id, name: 'bob 1234abcd> hi <eve' }), 'bob 1234abcd\\x3E hi \\x3Ceve 30dc0aef');
    assert.equal(chatLabel({ id, name: id }), '30dc0aef');
  });
});

describe('terminal width', () => {
  it('counts emoji (also outside the old table), ZWJ sequences, CJK and combining marks', () => {
    assert.equal(displayWidth('🚀'), 2); // U+1F680, which the old hand-written table counted as 1
    assert.equal(displayWidth('🚀'.repeat(100)), 200);
    assert.equal(displayWidth('👨‍👩‍👧'), 2);
    assert.equal(displayWidth('❤️'), 2);
    assert.equal(displayWidth('e\u0301'), 1);
    assert.equal(displayWidth('日本'), 4);
    assert.equal(displayWidth('\u001b[1mbold\u001b[22m'), 4);
    assert.equal(truncateToWidth('🚀🚀🚀', 4), '🚀…');
    assert.equal(truncateToWidth('👨‍👩‍👧👨‍👩‍👧', 3), '👨‍👩‍👧…');
  });

  it('rows and cursor row of input longer than the screen', () => {
    assert.equal(rowsFor('> ' + '🚀'.repeat(100), 80), 3); // 202 columns on 80: three rows, no stray one
    assert.equal(rowsFor('abc', 80), 1);
    assert.equal(rowsFor('', 80), 1);
    assert.equal(rowsFor('a'.repeat(79) + '🚀', 80), 2); // a wide character does not split at the edge
    assert.equal(cursorRow('> hi', 80), 0);
    assert.equal(cursorRow('a'.repeat(80), 80), 1); // exactly full: the cursor is on the next row
    assert.equal(cursorRow('> ' + '🚀'.repeat(100), 80), 2);
  });
});
