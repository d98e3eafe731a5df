/**
 * SelfAddresses on its own: which addresses a node knows as its own (so discovery never dials
 * itself) and which one it advertises on a connection. Reads the interface list; sends nothing.
 */
import assert from 'node:assert/strict';
import os from 'node:os';
import { describe, test } from 'node:test';
import { formatAddress } from '../src/address.js';
import { PeerBook, SelfAddresses } from '../src/internal.js';
import { resolveOptions, type NodeOptions } from '../src/options.js';

function selfAddresses(options: NodeOptions): { self: SelfAddresses; book: PeerBook } {
  const book = new PeerBook(100);
  return { self: new SelfAddresses(resolveOptions(options), book), book };
}

describe('SelfAddresses', () => {
  test('a node bound to one host knows that host and localhost on its port, nothing else', () => {
    const { self } = selfAddresses({ host: '127.0.0.1' });
    self.rememberListening(8001);
    assert.equal(self.has('127.0.0.1:8001'), true);
    assert.equal(self.has('localhost:8001'), true);
    assert.equal(self.has('127.0.0.1:8002'), false);
    assert.equal(self.has('10.9.9.9:8001'), false);
  });

  test('a wildcard bind knows every interface address, and never the wildcard itself', () => {
    const { self } = selfAddresses({ host: '0.0.0.0' });
    self.rememberListening(8001);
    const interfaces = Object.values(os.networkInterfaces()).flatMap((list) => list ?? []);
    assert.ok(interfaces.length > 0);
    for (const info of interfaces)
      assert.equal(self.has(formatAddress(info.address, 8001)), true, info.address);
    assert.equal(self.has('0.0.0.0:8001'), false);
  });

  test('advertises the bound host, the advertiseHost, or (wildcard) the connection’s local host', () => {
    assert.equal(selfAddresses({ host: '127.0.0.1' }).self.advertisedFor('10.0.0.1', 8001), '127.0.0.1:8001');
    const advertised = selfAddresses({ host: '0.0.0.0', advertiseHost: 'node.example.org' });
    advertised.self.rememberListening(8001);
    assert.equal(advertised.self.has('node.example.org:8001'), true);
    assert.equal(advertised.self.advertisedFor('10.0.0.1', 8001), 'node.example.org:8001');

    const wildcard = selfAddresses({ host: '::' }).self;
    assert.equal(wildcard.advertisedFor('fe80::1', 8001), '[fe80::1]:8001');
    assert.equal(wildcard.has('[fe80::1]:8001'), true, 'an address advertised is remembered as ours');
  });

  test('an address the peer book learnt from a self-dial counts as ours', () => {
    const { self, book } = selfAddresses({ host: '127.0.0.1' });
    assert.equal(self.has('alias.test:8001'), false);
    book.markSelf('alias.test:8001');
    assert.equal(self.has('alias.test:8001'), true);
  });
});
