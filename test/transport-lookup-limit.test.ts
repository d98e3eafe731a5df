/**
 * The lookup limiter that keeps slow host-name lookups from taking libuv's whole thread pool
 * (issue 9, lesser findings). Driven with a lookup function the test controls, so that "slow"
 * needs no resolver and no traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type dns from 'node:dns';
import net from 'node:net';
import { limitLookups, limitedLookup, MAX_CONCURRENT_LOOKUPS } from '../src/transport/lookup-limit.js';

type Callback = (err: NodeJS.ErrnoException | null, address: string, family?: number) => void;

test('at most the limit of lookups run at once; the rest wait; aborted ones never run', () => {
  const pending: Callback[] = [];
  const started: string[] = [];
  const limited = limitLookups((host: string, _o: dns.LookupOptions, cb: Callback) => {
    started.push(host);
    pending.push(cb);
  }, 2);
  const results: string[] = [];
  const aborted = new AbortController();
  const call = (host: string, signal?: AbortSignal): void =>
    (limited(signal) as unknown as (h: string, o: dns.LookupOptions, cb: Callback) => void)(
      host,
      {},
      (_e, a) => results.push(`${host}=${a}`),
    );
  call('a');
  call('b');
  call('c', aborted.signal);
  call('d');
  assert.deepEqual(started, ['a', 'b'], 'two hanging lookups hold their slots; the others wait');
  aborted.abort();
  (pending.shift() as Callback)(null, '10.0.0.1', 4);
  assert.deepEqual(started, ['a', 'b', 'd'], 'the aborted one is skipped');
  (pending.shift() as Callback)(null, '10.0.0.2', 4);
  (pending.shift() as Callback)(null, '10.0.0.4', 4);
  assert.deepEqual(results, ['a=10.0.0.1', 'b=10.0.0.2', 'd=10.0.0.4']);
});

test('dials by name go through the limited lookup (localhost on loopback)', async (t) => {
  assert.equal(MAX_CONCURRENT_LOOKUPS, 2);
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as net.AddressInfo).port;
  const socket = net.connect({ host: 'localhost', port, family: 4, lookup: limitedLookup() });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.destroy();
});
