/**
 * The CLI's LAN and peer-book flags, parsed and turned into node options (pure, runs anywhere):
 * `--lan`, `--lan-interface`, `--peer-book`, `--no-peer-book`, and the library's option errors
 * in those flags' words.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseCli, type CliConfig } from '../src/cli/args.js';
import { cliOptionMessage, nodeOptions } from '../src/cli/node-config.js';

const CWD = '/srv/mesh';

function config(argv: string[]): CliConfig {
  const parsed = parseCli(argv, {}, CWD);
  assert.equal(parsed.kind, 'run', JSON.stringify(parsed));
  return (parsed as { kind: 'run'; config: CliConfig }).config;
}

function usageError(argv: string[]): string {
  const parsed = parseCli(argv, {}, CWD);
  assert.equal(parsed.kind, 'error', JSON.stringify(parsed));
  return (parsed as { kind: 'error'; message: string }).message;
}

describe('LAN flags', () => {
  it('--lan is off by default and turns LAN discovery on', () => {
    assert.equal(config(['8001']).lan, false);
    assert.equal(nodeOptions(config(['8001']), undefined).lan, undefined);
    assert.equal(config(['--lan', '8001']).lan, true);
    assert.equal(nodeOptions(config(['--lan', '8001']), undefined).lan, true);
  });

  it('--lan-interface is repeatable, needs --lan, and cannot be empty', () => {
    const c = config(['--lan', '--lan-interface', 'eth0', '--lan-interface', 'wlan0', '8001']);
    assert.deepEqual(c.lanInterfaces, ['eth0', 'wlan0']);
    assert.deepEqual(nodeOptions(c, undefined).lanInterfaces, ['eth0', 'wlan0']);
    assert.equal(usageError(['--lan-interface', 'eth0', '8001']), '--lan-interface needs --lan');
    assert.equal(usageError(['--lan', '--lan-interface', '', '8001']), '--lan-interface is empty');
  });

  it('the library names LAN options as flags in the CLI', () => {
    assert.equal(
      cliOptionMessage('invalid option lanInterfaces: "nope0" is not an interface with an IPv4 address'),
      'invalid --lan-interface: "nope0" is not an interface with an IPv4 address',
    );
    assert.equal(
      cliOptionMessage('invalid option peerBookFile: expected a file path'),
      'invalid --peer-book: expected a file path',
    );
  });
});

describe('peer book flags', () => {
  it('defaults to .meshwire/peers-<port>.json in the working directory, none with port 0', () => {
    const c = config(['8001']);
    assert.equal(c.peerBookFile, path.join(CWD, '.meshwire', 'peers-8001.json'));
    assert.equal(nodeOptions(c, undefined).peerBookFile, c.peerBookFile);
    assert.equal(config(['0']).peerBookFile, undefined);
    assert.equal('peerBookFile' in nodeOptions(config(['0']), undefined), false);
  });

  it('--peer-book resolves against the working directory; --no-peer-book turns it off', () => {
    assert.equal(config(['--peer-book', 'book.json', '8001']).peerBookFile, path.join(CWD, 'book.json'));
    assert.equal(config(['--peer-book', 'book.json', '0']).peerBookFile, path.join(CWD, 'book.json'));
    assert.equal(config(['--no-peer-book', '8001']).peerBookFile, undefined);
    assert.equal(
      usageError(['--peer-book', 'b.json', '--no-peer-book', '8001']),
      'give either --peer-book or --no-peer-book, not both',
    );
    assert.equal(usageError(['--peer-book', '', '8001']), '--peer-book is empty');
  });
});
