/**
 * Unit tests of the CLI's pure parts: output formatting (units, sanitize, text-width,
 * event-text, colour, progress-bar, json-output), argument parsing
 * (args.ts) and command parsing / peer lookup (commands.ts).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { describe, it } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import type { MeshMessage, PeerRef } from '../src/messages.js';
import type { NetworkInfo } from '../src/node.js';
import { parseCli, parseSize, looksLikeAddress, type CliConfig } from '../src/cli/args.js';
import { complete, findPeer, parseCommand, splitArgs } from '../src/cli/commands.js';
import type { CliEvent } from '../src/cli/cli-events.js';
import { renderLine, shouldColor } from '../src/cli/colour.js';
import {
  describe as describeEvent,
  displayName,
  peersTable,
  shortId,
  type Detail,
  type Line,
} from '../src/cli/event-text.js';
import { toJsonLine } from '../src/cli/json-output.js';
import { ProgressThrottle, renderProgressBar } from '../src/cli/progress-bar.js';
import { sanitize } from '../src/cli/sanitize.js';
import { displayWidth, truncateToWidth } from '../src/cli/text-width.js';
import { formatBytes, formatDuration, formatElapsed, formatRate, formatTime } from '../src/cli/units.js';

const TIMEOUT = { timeout: 10_000 };
const T = new Date(2024, 0, 2, 15, 4, 35).getTime();
const BOB: PeerRef = { id: '30dc0aef9f0f554b88cb362281c5d456', name: 'bob', address: '192.168.1.100:8002' };
const CTX = { maxPeers: 10, now: T, cwd: '/home/alice/mesh' };

/** The single rendered line for an event, without colour. */
function text(event: CliEvent): string {
  const items = describeEvent(event, CTX);
  assert.equal(items.length, 1, `one line for ${event.type}`);
  return renderLine(items[0] as Line);
}

describe('format: basics', TIMEOUT, () => {
  it('formats local time as HH:MM:SS', () => {
    assert.equal(formatTime(T), '15:04:35');
    assert.equal(formatTime(new Date(2024, 0, 1, 3, 7, 9).getTime()), '03:07:09');
  });

  it('escapes control characters, ANSI sequences and bidi overrides from the network', () => {
    assert.equal(sanitize('plain text ✓'), 'plain text ✓');
    assert.equal(sanitize('a\u001b[2Jb'), 'a\\x1B[2Jb');
    assert.equal(sanitize('line1\nline2\r'), 'line1\\x0Aline2\\x0D');
    assert.equal(sanitize('x\u202Ey'), 'x\\u202Ey');
    assert.equal(sanitize('\u009b'), '\\x9B');
  });

  it('shortens IDs and names peers by name or short ID', () => {
    assert.equal(shortId('30dc0aef9f0f554b88cb362281c5d456'), '30dc0aef');
    assert.equal(shortId('peer-8001'), 'peer-8001');
    assert.equal(displayName(BOB), 'bob');
    assert.equal(displayName({ id: BOB.id, name: BOB.id }), '30dc0aef');
    assert.equal(displayName({ id: BOB.id, name: 'evil\u001b[0m' }), 'evil\\x1B[0m');
  });

  it('formats sizes, rates and durations', () => {
    assert.equal(formatBytes(0), '0 bytes');
    assert.equal(formatBytes(1), '1 byte');
    assert.equal(formatBytes(342), '342 bytes');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 * 1024), '3.0 MiB');
    assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
    assert.equal(formatRate(0), '-- B/s');
    assert.equal(formatRate(512), '512 B/s');
    assert.equal(formatRate(3.4 * 1024 * 1024), '3.4 MiB/s');
    assert.equal(formatDuration(0), '0:00');
    assert.equal(formatDuration(7_000), '0:07');
    assert.equal(formatDuration(723_000), '12:03');
    assert.equal(formatDuration(3_723_000), '1:02:03');
    assert.equal(formatDuration(Infinity), '--:--');
    assert.equal(formatElapsed(12.4), '12 ms');
    assert.equal(formatElapsed(3400), '3.4 s');
  });

  it('measures and truncates by terminal columns', () => {
    assert.equal(displayWidth('abc'), 3);
    assert.equal(displayWidth('日本'), 4);
    assert.equal(displayWidth('\u001b[31mred\u001b[0m'), 3);
    assert.equal(truncateToWidth('hello world', 6), 'hello…');
    assert.equal(truncateToWidth('日本語テキスト', 6), '日本…');
    assert.equal(truncateToWidth('short', 10), 'short');
  });

  it('colours on a colour TTY; NO_COLOR turns it off, FORCE_COLOR decides first', () => {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    assert.equal(shouldColor(tty, {}), true);
    assert.equal(shouldColor(pipe, {}), false);
    assert.equal(shouldColor({}, {}), false);
    assert.equal(shouldColor(tty, { NO_COLOR: '1' }), false);
    assert.equal(shouldColor(tty, { NO_COLOR: '' }), true);
    assert.equal(shouldColor(tty, { TERM: 'dumb' }), false);
    assert.equal(shouldColor(tty, { NODE_DISABLE_COLORS: '1' }), false);
    // The terminal's own answer (tty.WriteStream#hasColors) is used when there is one.
    assert.equal(shouldColor({ isTTY: true, hasColors: () => false }, {}), false);
    assert.equal(shouldColor({ isTTY: true, hasColors: () => true }, {}), true);
    // FORCE_COLOR: on even into a pipe and over NO_COLOR; 0 / false: never.
    assert.equal(shouldColor(pipe, { FORCE_COLOR: '1' }), true);
    assert.equal(shouldColor(pipe, { FORCE_COLOR: '' }), true);
    assert.equal(shouldColor(tty, { FORCE_COLOR: '1', NO_COLOR: '1' }), true);
    assert.equal(shouldColor(tty, { FORCE_COLOR: '0' }), false);
    assert.equal(shouldColor(tty, { FORCE_COLOR: 'false' }), false);
  });
});

describe('format: event lines', TIMEOUT, () => {
  it('words node messages like the original', () => {
    assert.equal(
      text({
        type: 'system-start',
        time: T,
        id: 'a'.repeat(32),
        name: 'alice',
        host: '0.0.0.0',
        port: 8001,
        mode: 'secure',
      }),
      '[15:04:35] [SYSTEM] Node alice listening on port 8001 (secure mode, ID aaaaaaaa)',
    );
    assert.equal(
      text({ type: 'peer-connected', time: T, peer: BOB, direction: 'inbound', peerCount: 1, maxPeers: 10 }),
      '[15:04:35] [NETWORK] Peer bob connected from 192.168.1.100:8002 (1/10 peers)',
    );
    assert.equal(
      text({
        type: 'peer-connected',
        time: T,
        peer: { ...BOB, name: 'charlie', address: 'localhost:8003' },
        direction: 'outbound',
        peerCount: 2,
        maxPeers: 10,
      }),
      '[15:04:35] [NETWORK] Connected to peer charlie at localhost:8003 (2/10 peers)',
    );
    assert.equal(
      text({
        type: 'peers-discovered',
        time: T,
        source: 'exchange',
        from: BOB,
        newCount: 3,
        totalKnown: 5,
        addresses: [],
      }),
      '[15:04:35] [DISCOVERY] Found 3 peers via bob (total known: 5)',
    );
    assert.equal(
      text({ type: 'chat', time: T, from: BOB, text: 'network status looks good' }),
      '[15:04:35] <bob 30dc0aef> network status looks good',
    );
    assert.equal(
      text({ type: 'maintenance-cleanup', time: T, peer: { ...BOB, name: 'dave' }, reason: 'timeout' }),
      '[15:04:35] [MAINTENANCE] Removed stale peer dave (timeout)',
    );
    assert.equal(
      text({ type: 'ping', time: T, peer: BOB, direction: 'sent' }),
      '[15:04:35] [DEBUG] Sent PING to bob',
    );
    assert.equal(
      text({ type: 'pong', time: T, peer: BOB, direction: 'received', rttMs: 3 }),
      '[15:04:35] [DEBUG] Received PONG from bob (rtt 3 ms)',
    );
    assert.equal(
      text({ type: 'peer-request', time: T, peer: BOB, direction: 'sent' }),
      '[15:04:35] [DEBUG] Sent REQUEST_PEERS to bob',
    );
    assert.equal(
      text({
        type: 'peer-response',
        time: T,
        peer: BOB,
        direction: 'received',
        addresses: ['localhost:8004', 'localhost:8005'],
      }),
      '[15:04:35] [DEBUG] Received PEERS: localhost:8004,localhost:8005 from bob',
    );
    assert.equal(
      text({ type: 'peer-disconnected', time: T, peer: BOB, reason: 'goodbye', peerCount: 0 }),
      '[15:04:35] [NETWORK] Peer bob disconnected: left the network (0/10 peers)',
    );
  });

  it('reports errors with their code, bootstrap results and connection failures', () => {
    const error = new MeshwireError(
      'ERR_CHAT_NOT_ENCODABLE',
      'chat text "PING" cannot be sent in compat mode',
    );
    assert.equal(
      text({ type: 'error', time: T, error, peer: BOB }),
      '[15:04:35] [ERROR] bob: chat text "PING" cannot be sent in compat mode (ERR_CHAT_NOT_ENCODABLE)',
    );
    assert.equal(
      text({ type: 'bootstrap-success', time: T, address: 'localhost:8001', peer: BOB, attempts: 2 }),
      '[15:04:35] [BOOTSTRAP] Joined the network through bob at localhost:8001 (attempt 2)',
    );
    const cause = new MeshwireError('ERR_CONNECT_TIMEOUT', 'no connection within 10 ms');
    assert.equal(
      text({
        type: 'bootstrap-failed',
        time: T,
        address: 'localhost:8001',
        attempts: 6,
        error: new MeshwireError('ERR_BOOTSTRAP_FAILED', 'bootstrap failed: ...', { cause }),
      }),
      '[15:04:35] [BOOTSTRAP] Could not reach localhost:8001 after 6 attempts: no connection within 10 ms (ERR_CONNECT_TIMEOUT)',
    );
    assert.equal(
      text({
        type: 'connection-failed',
        time: T,
        address: '10.0.0.1:8001',
        error: new MeshwireError('ERR_UNAUTHORIZED', '10.0.0.1:8001: the peer refused us as unauthorized'),
      }),
      '[15:04:35] [NETWORK] Could not connect to 10.0.0.1:8001: the peer refused us as unauthorized (ERR_UNAUTHORIZED)',
    );
    assert.equal(
      text({ type: 'connection-failed', time: T, address: 'x:1', error: cause }),
      '[15:04:35] [NETWORK] Could not connect to x:1: no connection within 10 ms (ERR_CONNECT_TIMEOUT)',
    );
  });

  it('hides file frames inside BYTES and shows other payloads by size', () => {
    const isFileFrame = (d: Uint8Array): boolean => Buffer.from(d).toString().startsWith('FILE');
    const ctx = { ...CTX, isFileFrame };
    const frame: MeshMessage = { type: 'bytes', time: T, from: BOB, data: Buffer.from('FILECHUNK:x\n') };
    assert.deepEqual(describeEvent(frame, ctx), []);
    const other: MeshMessage = { type: 'bytes', time: T, from: BOB, data: new Uint8Array(20) };
    assert.equal(renderLine(describeEvent(other, ctx)[0] as Line), '[15:04:35] [BYTES] from bob (20 bytes)');
  });

  it('words file events, with paths relative to the working directory', () => {
    assert.equal(
      text({ type: 'file-start', time: T, from: BOB, name: 'document.pdf', size: 1024 }),
      '[15:04:35] [FILE] bob is sending document.pdf (1.0 KiB)',
    );
    assert.equal(
      text({
        type: 'file-complete',
        time: T,
        from: BOB,
        name: 'document.pdf',
        size: 342,
        sha256: 'ab',
        path: path.join(CTX.cwd, 'downloads', 'document.pdf'),
      }),
      '[15:04:35] [FILE] bob sent file: document.pdf (342 bytes) -> downloads/document.pdf',
    );
    assert.equal(
      text({
        type: 'file-progress',
        time: T,
        from: BOB,
        name: 'a.bin',
        bytesReceived: 512,
        size: 1024,
        rate: 0,
      }),
      '[15:04:35] [FILE] a.bin from bob: 50.0% (512/1024 bytes, -- B/s, ETA --:--)',
    );
    assert.equal(
      text({
        type: 'file-error',
        time: T,
        from: BOB,
        name: '../escape.txt',
        error: new MeshwireError(
          'ERR_FILE_NAME',
          'refused file name "../escape.txt": contains a path separator',
        ),
      }),
      '[15:04:35] [FILE] Refused "../escape.txt" from bob: refused file name "../escape.txt": contains a path separator (ERR_FILE_NAME)',
    );
    assert.equal(
      text({
        type: 'file-error',
        time: T,
        from: BOB,
        name: 'big.bin',
        error: new MeshwireError('ERR_CONNECTION_CLOSED', 'big.bin: sender disconnected after 2 of 4 bytes'),
      }),
      '[15:04:35] [FILE] Failed to receive "big.bin" from bob: sender disconnected after 2 of 4 bytes (ERR_CONNECTION_CLOSED)',
    );
    assert.equal(
      text({
        type: 'send-error',
        time: T,
        id: 1,
        name: 'a.bin',
        error: { code: 'ERR_ABORTED', message: 'aborted' },
      }),
      '[15:04:35] [FILE] Sending a.bin aborted',
    );
    assert.equal(
      text({
        type: 'send-error',
        time: T,
        id: 1,
        name: 'a.bin',
        error: { code: 'ERR_FILE_IO', message: 'a.bin changed' },
      }),
      '[15:04:35] [ERROR] Sending a.bin failed: a.bin changed (ERR_FILE_IO)',
    );
    assert.equal(
      text({ type: 'send-start', time: T, id: 1, name: 'test.txt', size: 342, to: [BOB] }),
      '[15:04:35] [SYSTEM] Starting file transfer: test.txt (342 bytes) to bob',
    );
    const lines = describeEvent(
      {
        type: 'send-complete',
        time: T,
        id: 1,
        name: 'test.txt',
        size: 342,
        sha256: '0123456789abcdef0123',
        sent: [BOB],
        failed: [
          { peer: { ...BOB, name: 'carol' }, error: { code: 'ERR_CONNECTION_CLOSED', message: 'gone' } },
        ],
        elapsedMs: 40,
      },
      CTX,
    ).map((l) => renderLine(l));
    assert.deepEqual(lines, [
      '[15:04:35] [FILE] Sent test.txt (342 bytes) to bob in 40 ms, sha256 0123456789abcdef…',
      '[15:04:35] [ERROR] Sending test.txt to carol failed: gone (ERR_CONNECTION_CLOSED)',
    ]);
  });

  it('echoes own chat under the own name, and colours when asked', () => {
    const [echo] = describeEvent(
      { type: 'chat-sent', time: T, name: 'alice', id: 'a'.repeat(32), text: 'hi', sent: 2, failed: 0 },
      CTX,
    );
    assert.equal(renderLine(echo as Line), '[15:04:35] <alice aaaaaaaa> hi');
    const coloured = renderLine(echo as Line, true);
    assert.ok(coloured.includes('\u001b['));
    assert.equal(stripVTControlCharacters(coloured), '[15:04:35] <alice aaaaaaaa> hi');
  });

  it('renders /peers as a summary and aligned rows', () => {
    const info: NetworkInfo = {
      id: 'a'.repeat(32),
      name: 'alice',
      port: 8001,
      mode: 'secure',
      maxPeers: 10,
      peers: [
        {
          ...BOB,
          direction: 'inbound',
          connectedAt: T - 60_000,
          lastSeen: T - 4_000,
          rttMs: 2,
          bytesIn: 0,
          bytesOut: 0,
        },
        {
          id: 'c'.repeat(32),
          name: 'charlie',
          address: '127.0.0.1:8003',
          direction: 'outbound',
          connectedAt: T,
          lastSeen: T,
          bytesIn: 0,
          bytesOut: 0,
        },
      ],
      known: [
        {
          address: '192.168.1.100:8002',
          id: BOB.id,
          firstSeen: T,
          connected: true,
          verified: true,
          source: 'dial',
        },
        { address: '127.0.0.1:8009', firstSeen: T, connected: false, verified: false, source: BOB.id },
      ],
    };
    const out = peersTable(info, T).map((l: Line | Detail) => renderLine(l));
    assert.deepEqual(out, [
      '[15:04:35] [PEERS] alice (aaaaaaaa, secure, port 8001): 2/10 peers connected',
      '    bob      30dc0aef  192.168.1.100:8002  in   seen 4s ago    rtt 2 ms',
      '    charlie  cccccccc  127.0.0.1:8003      out  seen just now  rtt -',
      '[15:04:35] [PEERS] Known peers: 2',
      '    192.168.1.100:8002  30dc0aef  connected: yes',
      '    127.0.0.1:8009      -         connected: no',
    ]);
  });
});

describe('format: JSON and progress', TIMEOUT, () => {
  it('prints one JSON object per event, binary data as its length, errors as code and message', () => {
    const bytes = JSON.parse(toJsonLine({ type: 'bytes', time: T, from: BOB, data: new Uint8Array(300) }));
    assert.deepEqual(bytes, { type: 'bytes', time: new Date(T).toISOString(), from: BOB, dataLength: 300 });
    const error = JSON.parse(
      toJsonLine({
        type: 'connection-failed',
        time: T,
        address: 'x:1',
        error: new MeshwireError('ERR_MAX_PEERS', 'full'),
      }),
    );
    assert.deepEqual(error.error, { code: 'ERR_MAX_PEERS', message: 'full' });
    const progress = JSON.parse(
      toJsonLine({
        type: 'send-progress',
        time: T,
        id: 1,
        name: 'a',
        bytesSent: 0,
        totalBytes: 9,
        rate: 0,
        etaMs: Infinity,
      }),
    );
    assert.equal(progress.etaMs, null);
    assert.ok(!toJsonLine({ type: 'chat', time: T, from: BOB, text: 'a\nb' }).includes('\n'));
  });

  it('throttles progress to one report per interval per transfer, always passing the final one', () => {
    const throttle = new ProgressThrottle(500);
    assert.equal(throttle.shouldReport('a', 0, false), true);
    assert.equal(throttle.shouldReport('a', 200, false), false);
    assert.equal(throttle.shouldReport('b', 200, false), true);
    assert.equal(throttle.shouldReport('a', 499, false), false);
    assert.equal(throttle.shouldReport('a', 500, false), true);
    assert.equal(throttle.shouldReport('a', 600, true), true);
  });

  it('draws a progress bar that fits the terminal width', () => {
    const state = {
      direction: 'recv' as const,
      name: 'report.pdf',
      peer: 'bob',
      done: 1024 * 1024,
      total: 4 * 1024 * 1024,
      rate: 1024 * 1024,
    };
    const wide = renderProgressBar(state, 120);
    assert.match(
      wide,
      /^↓ report\.pdf ← bob {2}\[█+░+\] {2} 25\.0% {2}1\.0 MiB\/4\.0 MiB {2}1\.0 MiB\/s {2}ETA 0:03$/,
    );
    for (const width of [20, 40, 60, 79, 200]) {
      assert.ok(displayWidth(renderProgressBar(state, width)) <= width, `fits ${width}`);
    }
    const long = renderProgressBar(
      { ...state, direction: 'send', name: 'x'.repeat(200), peer: 'all (2)' },
      80,
    );
    assert.ok(displayWidth(long) <= 80);
    assert.match(long, /^↑ x+…/);
  });
});

describe('args', TIMEOUT, () => {
  const cwd = '/work/dir';
  const run = (argv: string[], env: Record<string, string> = {}): CliConfig => {
    const parsed = parseCli(argv, env, cwd);
    assert.equal(parsed.kind, 'run', JSON.stringify(parsed));
    return (parsed as { config: CliConfig }).config;
  };
  const error = (argv: string[], env: Record<string, string> = {}): string => {
    const parsed = parseCli(argv, env, cwd);
    assert.equal(parsed.kind, 'error', `${JSON.stringify(argv)} should be refused`);
    return (parsed as { message: string }).message;
  };

  it('parses the original flags, port and bootstrap address', () => {
    const config = run(['--name', 'bob', '--debug', '8002', 'localhost:8001']);
    assert.equal(config.port, 8002);
    assert.equal(config.bootstrap, 'localhost:8001');
    assert.equal(config.name, 'bob');
    assert.equal(config.debug, true);
    assert.equal(config.compat, false);
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.downloads, path.resolve(cwd, 'downloads'));
  });

  it('keeps one identity per port in .meshwire/, ephemeral for port 0 and none in compat', () => {
    assert.equal(run(['8001']).keyFile, path.resolve(cwd, '.meshwire/node-8001.key'));
    assert.equal(run(['0']).keyFile, undefined);
    assert.equal(run(['--key-file', 'me.key', '0']).keyFile, path.resolve(cwd, 'me.key'));
    assert.equal(run(['--compat', '8001']).keyFile, undefined);
  });

  it('takes the network key from the flag, the file flag or the environment', () => {
    assert.equal(run(['--network-key', ' s3cret ', '1']).networkKey, 's3cret');
    assert.equal(run(['1'], { MESHWIRE_NETWORK_KEY: 'env-key' }).networkKey, 'env-key');
    assert.equal(run(['--network-key', 'flag', '1'], { MESHWIRE_NETWORK_KEY: 'env' }).networkKey, 'flag');
    const fromFile = run(['--network-key-file', 'k.txt', '1'], { MESHWIRE_NETWORK_KEY: 'env' });
    assert.equal(fromFile.networkKey, undefined);
    assert.equal(fromFile.networkKeyFile, path.resolve(cwd, 'k.txt'));
    assert.equal(run(['1'], { MESHWIRE_NETWORK_KEY: '' }).networkKey, undefined);
  });

  it('parses the advanced options', () => {
    const config = run([
      '--json',
      '--max-peers',
      '20',
      '--host',
      '127.0.0.1',
      '--rate-limit',
      '512K',
      '--max-file-size',
      '1G',
      '--maintenance-interval',
      '200',
      '--bootstrap-retry',
      '10, 20,40',
      '--downloads',
      '/tmp/dl',
      '0',
    ]);
    assert.equal(config.json, true);
    assert.equal(config.maxPeers, 20);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.rateLimit, 512 * 1024);
    assert.equal(config.maxFileSize, 1024 ** 3);
    assert.equal(config.maintenanceIntervalMs, 200);
    assert.deepEqual(config.bootstrapRetryMs, [10, 20, 40]);
    assert.equal(config.downloads, '/tmp/dl');
  });

  it('answers --help and --version before anything else', () => {
    assert.equal(parseCli(['--help']).kind, 'help');
    assert.equal(parseCli(['-h', '--bogus']).kind, 'error');
    assert.equal(parseCli(['8001', '-v']).kind, 'version');
  });

  it('refuses bad arguments with a message', () => {
    assert.match(error([]), /missing <port>/);
    assert.match(error(['--bogus', '1']), /^unknown option --bogus$/);
    assert.match(error(['abc']), /<port> must be a whole number/);
    assert.match(error(['-1']), /^unknown option -1$/);
    assert.match(error(['65536']), /<port> must be from 0 to 65535/);
    assert.match(error(['1', 'nohost']), /host:port/);
    assert.match(error(['1', 'a:1', 'b:2']), /too many arguments/);
    assert.match(error(['--max-peers', '0', '1']), /--max-peers must be from 1/);
    assert.match(error(['--name']), /argument missing/);
    assert.match(error(['--compat', '--network-key', 'k', '1']), /--compat has no authentication/);
    assert.match(error(['--compat', '1'], { MESHWIRE_NETWORK_KEY: 'k' }), /unset MESHWIRE_NETWORK_KEY/);
    assert.match(error(['--compat', '--key-file', 'k', '1']), /--key-file/);
    assert.match(error(['--network-key', 'a', '--network-key-file', 'b', '1']), /either/);
    assert.match(error(['--network-key', '  ', '1']), /empty/);
    assert.match(error(['--rate-limit', 'fast', '1']), /--rate-limit must be a size/);
    assert.match(error(['--maintenance-interval', '5', '1']), /from 10/);
    assert.match(error(['--bootstrap-retry', '1,x', '1']), /--bootstrap-retry/);
    assert.match(error(['--debug=yes', '1']), /does not take an argument/);
  });

  it('parses sizes and addresses', () => {
    assert.equal(parseSize('65536', 'x'), 65536);
    assert.equal(parseSize('2M', 'x'), 2 * 1024 * 1024);
    assert.equal(parseSize('1.5k', 'x'), 1536);
    assert.equal(parseSize('4GiB', 'x'), 4 * 1024 ** 3);
    assert.ok(looksLikeAddress('localhost:8001'));
    assert.ok(looksLikeAddress('192.168.1.100:8004'));
    assert.ok(looksLikeAddress('[::1]:8001'));
    assert.ok(!looksLikeAddress('localhost'));
    assert.ok(!looksLikeAddress('localhost:0'));
    assert.ok(!looksLikeAddress('localhost:99999'));
    assert.ok(!looksLikeAddress('::1:8001'));
  });
});

describe('commands', TIMEOUT, () => {
  it('parses commands, chat and the // escape', () => {
    assert.deepEqual(parseCommand(''), { kind: 'empty' });
    assert.deepEqual(parseCommand('   '), { kind: 'empty' });
    assert.deepEqual(parseCommand('hello world'), { kind: 'chat', text: 'hello world' });
    assert.deepEqual(parseCommand('//not a command'), { kind: 'chat', text: '/not a command' });
    assert.deepEqual(parseCommand('/peers'), { kind: 'peers' });
    assert.deepEqual(parseCommand('/PEERS  '), { kind: 'peers' });
    assert.deepEqual(parseCommand('/discover'), { kind: 'discover' });
    assert.deepEqual(parseCommand('/quit'), { kind: 'quit' });
    assert.deepEqual(parseCommand('/help'), { kind: 'help' });
    assert.deepEqual(parseCommand('/connect localhost:8003'), { kind: 'connect', address: 'localhost:8003' });
    assert.deepEqual(parseCommand('/send test.txt'), { kind: 'send', file: 'test.txt' });
    assert.deepEqual(parseCommand('/send "my file.txt" bob'), {
      kind: 'send',
      file: 'my file.txt',
      peer: 'bob',
    });
    assert.equal(parseCommand('/send').kind, 'error');
    assert.equal(parseCommand('/send a b c').kind, 'error');
    assert.equal(parseCommand('/connect').kind, 'error');
    assert.equal(parseCommand('/peers now').kind, 'error');
    assert.equal(parseCommand('/send "open').kind, 'error');
    assert.deepEqual(parseCommand('/x'), {
      kind: 'error',
      message: 'Unknown command /x (type /help for the list)',
    });
  });

  it('splits arguments with quotes and escapes', () => {
    assert.deepEqual(splitArgs('a  b'), ['a', 'b']);
    assert.deepEqual(splitArgs(`"a b" 'c d' e\\ f`), ['a b', 'c d', 'e f']);
    assert.deepEqual(splitArgs('""'), ['']);
    assert.deepEqual(splitArgs('"a\\"b"'), ['a"b']);
    assert.equal(splitArgs('"open'), undefined);
  });

  it('finds a peer by name, full ID or unique ID prefix', () => {
    const peers: PeerRef[] = [
      { id: 'ab12cd34ef56ab12cd34ef56ab12cd34', name: 'bob', address: 'h:1' },
      { id: 'ab99cd34ef56ab12cd34ef56ab12cd34', name: 'carol', address: 'h:2' },
      { id: 'ff00cd34ef56ab12cd34ef56ab12cd34', name: 'carol', address: 'h:3' },
    ];
    assert.equal((findPeer(peers, 'bob') as { peer: PeerRef }).peer.address, 'h:1');
    assert.equal((findPeer(peers, 'ab99') as { peer: PeerRef }).peer.address, 'h:2');
    assert.equal((findPeer(peers, 'FF00') as { peer: PeerRef }).peer.address, 'h:3');
    assert.equal((findPeer(peers, peers[1]?.id as string) as { peer: PeerRef }).peer.address, 'h:2');
    assert.match(
      (findPeer(peers, 'ab') as { error: string }).error,
      /ambiguous: bob \(ab12cd34\), carol \(ab99cd34\)/,
    );
    assert.match((findPeer(peers, 'carol') as { error: string }).error, /ambiguous/);
    assert.match((findPeer(peers, 'dave') as { error: string }).error, /No connected peer named "dave"/);
  });

  it('completes command names and peer names for /send', () => {
    assert.deepEqual(complete('/pe', []), [['/peers '], '/pe']);
    assert.deepEqual(complete('/sh', []), [['/share '], '/sh']);
    assert.deepEqual(complete('/', []), [
      ['/peers', '/connect', '/discover', '/send', '/share', '/get', '/files', '/quit', '/help'],
      '/',
    ]);
    assert.deepEqual(complete('/send a.txt b', ['bob', 'carol', 'bert']), [['bert', 'bob'], 'b']);
    assert.deepEqual(complete('/send "a b.txt" ', ['bob']), [['bob'], '']);
    assert.deepEqual(complete('hello', ['bob']), [[], 'hello']);
  });
});
