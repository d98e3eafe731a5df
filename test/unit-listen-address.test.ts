/**
 * reachableListenAddress on its own: which address another node is told to dial, from what a
 * peer states (its hello or LISTEN line) and where its connection came from.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { reachableListenAddress } from '../src/internal.js';

describe('reachableListenAddress', () => {
  const cases: [listen: string, remote: string, expected: string, why: string][] = [
    ['localhost:8001', '10.0.0.5:51000', '10.0.0.5:8001', 'the original’s localhost, from a real interface'],
    ['127.0.0.1:8001', '10.0.0.5:51000', '10.0.0.5:8001', 'a loopback IP, from a real interface'],
    ['0.0.0.0:8001', '10.0.0.5:51000', '10.0.0.5:8001', 'an IPv4 wildcard'],
    ['[::]:8001', '[fe80::1]:51000', '[fe80::1]:8001', 'an IPv6 wildcard, IPv6 peer'],
    ['[::1]:8001', '10.0.0.5:51000', '10.0.0.5:8001', 'IPv6 loopback, IPv4 peer'],
    ['127.0.0.1:8001', '127.0.0.1:51000', '127.0.0.1:8001', 'both on loopback: kept'],
    ['localhost:8001', 'localhost:51000', 'localhost:8001', 'remote named localhost: kept'],
    ['127.0.0.2:8001', '[::1]:51000', '127.0.0.2:8001', 'remote on IPv6 loopback: kept'],
    [
      '192.168.1.9:8001',
      '10.0.0.5:51000',
      '192.168.1.9:8001',
      'a real address is kept (a hint, not a binding)',
    ],
    ['peer.example.org:8001', '10.0.0.5:51000', 'peer.example.org:8001', 'a host name is kept'],
    ['nonsense', '10.0.0.5:51000', '10.0.0.5:51000', 'no port: the socket address stands in'],
    ['host:0', '10.0.0.5:51000', '10.0.0.5:51000', 'port 0'],
    ['a:b:c', '10.0.0.5:51000', '10.0.0.5:51000', 'too many colons'],
    ['', '10.0.0.5:51000', '10.0.0.5:51000', 'empty'],
    ['bad host!:80', '10.0.0.5:51000', '10.0.0.5:51000', 'not a host name'],
    ['localhost:8001', 'garbage', 'localhost:8001', 'an unparsable remote changes nothing'],
  ];
  for (const [listen, remote, expected, why] of cases) {
    test(`${JSON.stringify(listen)} from ${remote} -> ${expected} (${why})`, () => {
      assert.equal(reachableListenAddress(listen, remote), expected);
    });
  }
});
