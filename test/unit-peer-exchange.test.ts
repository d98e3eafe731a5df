/**
 * PeerExchange on its own, with a fake host (the connected peers, a recorder of sent frames) and
 * a real Discovery behind a fake DiscoveryHost: the lists it builds and for whom, the announce of
 * a newcomer, REQUEST_PEERS handling, and PEERS lists turned into candidates charged to the
 * peer that sent them.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import type { PeersFrame, RequestPeersFrame } from '../src/codec/frame.js';
import { Discovery, PeerExchange, type Peer, type PeerExchangeHost } from '../src/internal.js';
import type { DebugMessage, WithoutTime } from '../src/messages.js';
import { FakeDiscoveryHost } from './helpers/fake-hosts.js';
import { fakePeer } from './helpers/fake-peer.js';

/** Records what peer exchange sends and reports. */
class FakeExchangeHost implements PeerExchangeHost {
  readonly connected: Peer[] = [];
  readonly sent: { to: string; frame: PeersFrame | RequestPeersFrame }[] = [];
  readonly reports: WithoutTime<DebugMessage>[] = [];
  constructor(readonly debug = false) {}

  peers(): Iterable<Peer> {
    return this.connected;
  }
  isConnected(address: string, id?: string): boolean {
    return this.connected.some((p) => p.address === address || (id !== undefined && p.id === id));
  }
  send(peer: Peer, frame: PeersFrame | RequestPeersFrame): void {
    this.sent.push({ to: peer.id, frame });
  }
  report(message: WithoutTime<DebugMessage>): void {
    this.reports.push(message);
  }

  sentTo(id: string): (PeersFrame | RequestPeersFrame)[] {
    return this.sent.filter((s) => s.to === id).map((s) => s.frame);
  }
}

function setup(
  t: TestContext,
  debug = false,
): { host: FakeExchangeHost; exchange: PeerExchange; discovery: Discovery; dhost: FakeDiscoveryHost } {
  const dhost = new FakeDiscoveryHost();
  const discovery = new Discovery(dhost, {
    maxKnownPeers: 100,
    autoConnectMax: 3,
    autoConnectJitterMs: 0,
    discoveryIntervalMs: 60_000,
  });
  dhost.discovery = discovery;
  t.after(() => discovery.stop());
  const host = new FakeExchangeHost(debug);
  return { host, exchange: new PeerExchange(host, discovery), discovery, dhost };
}

describe('PeerExchange: lists', () => {
  test('lists the connected peers but the recipient, with their IDs; nothing when empty', (t) => {
    const { host, exchange } = setup(t);
    const a = fakePeer({ id: 'a', address: 'a.test:1' });
    assert.equal(exchange.listFor(a), undefined);
    const b = fakePeer({ id: 'b', address: 'b.test:1' });
    const hidden = fakePeer({ id: 'h', address: 'h.test:1', advertised: false });
    const v6 = fakePeer({ id: 'v', address: '[::1]:9' });
    host.connected.push(a, b, hidden, v6);
    assert.deepEqual(exchange.listFor(a), { type: 'peers', peers: [{ address: 'b.test:1', id: 'b' }] });
    assert.deepEqual(
      exchange.listFor(undefined)?.peers.map((p) => p.id),
      ['a', 'b'],
    );
  });

  test('adds at most five known unconnected addresses, skipping failed, connected and the recipient’s own', (t) => {
    const { host, exchange, discovery } = setup(t);
    const to = fakePeer({ id: 'to', address: 'to.test:1' });
    const b = fakePeer({ id: 'b', address: 'b.test:1' });
    host.connected.push(to, b);
    discovery.addCandidate('to.test:1', { source: 'bootstrap' });
    discovery.addCandidate('b-old.test:1', { source: 'exchange', via: 'x', id: 'b' }); // b, known by another address
    discovery.addCandidate('failed.test:1', { source: 'bootstrap' });
    discovery.onDialFailed('failed.test:1', false);
    discovery.addCandidate('[::1]:7', { source: 'bootstrap' });
    for (let i = 0; i < 8; i++)
      discovery.addCandidate(`k${i}.test:1`, { source: 'bootstrap', ...(i === 0 ? { id: 'k0' } : {}) });
    const list = exchange.listFor(to)?.peers ?? [];
    assert.deepEqual(list, [
      { address: 'b.test:1', id: 'b' },
      { address: 'k0.test:1', id: 'k0' },
      { address: 'k1.test:1' },
      { address: 'k2.test:1' },
      { address: 'k3.test:1' },
      { address: 'k4.test:1' },
    ]);
  });

  test('share sends the list (and reports it in debug); request and requestAll send REQUEST_PEERS', (t) => {
    const { host, exchange } = setup(t, true);
    const a = fakePeer({ id: 'a' });
    const b = fakePeer({ id: 'b' });
    exchange.share(a);
    assert.deepEqual(host.sent, [], 'an empty list is not sent');
    host.connected.push(a, b);
    exchange.share(a);
    assert.deepEqual(host.sentTo('a'), [{ type: 'peers', peers: [{ address: b.address, id: 'b' }] }]);
    exchange.requestAll();
    assert.deepEqual(host.sentTo('b'), [{ type: 'request-peers' }]);
    assert.deepEqual(
      host.reports.map((r) => `${r.type}:${'direction' in r ? r.direction : ''}`),
      ['peer-response:sent', 'peer-request:sent', 'peer-request:sent'],
    );
  });

  test('a REQUEST_PEERS is answered unless the peer leaves our replies unread', (t) => {
    const { host, exchange } = setup(t);
    const a = fakePeer({ id: 'a' });
    host.connected.push(a, fakePeer({ id: 'b' }));
    exchange.onRequest(a, true);
    assert.deepEqual(host.sent, []);
    exchange.onRequest(a, false);
    assert.equal(host.sentTo('a').length, 1);
  });
});

describe('PeerExchange: a newcomer', () => {
  test('a new peer is announced to the others, gets our list, and (if we dialled) a request', (t) => {
    const { host, exchange } = setup(t);
    const a = fakePeer({ id: 'a', address: 'a.test:1' });
    const b = fakePeer({ id: 'b', address: 'b.test:1' });
    const newcomer = fakePeer({ id: 'n', address: 'n.test:1', direction: 'outbound' });
    host.connected.push(a, b, newcomer);
    exchange.onConnected(newcomer, true);
    const announce = { type: 'peers', peers: [{ address: 'n.test:1', id: 'n' }] };
    assert.deepEqual(host.sentTo('a'), [announce]);
    assert.deepEqual(host.sentTo('b'), [announce]);
    assert.deepEqual(host.sentTo('n'), [
      {
        type: 'peers',
        peers: [
          { address: 'a.test:1', id: 'a' },
          { address: 'b.test:1', id: 'b' },
        ],
      },
      { type: 'request-peers' },
    ]);
  });

  test('an inbound peer whose address was known is neither announced nor asked', (t) => {
    const { host, exchange } = setup(t);
    const a = fakePeer({ id: 'a' });
    const inbound = fakePeer({ id: 'n', direction: 'inbound' });
    host.connected.push(a, inbound);
    exchange.onConnected(inbound, false);
    assert.deepEqual(host.sentTo('a'), []);
    assert.deepEqual(
      host.sentTo('n').map((f) => f.type),
      ['peers'],
    );
  });
});

describe('PeerExchange: received lists', () => {
  test('entries become candidates of source exchange, charged to the sender, reported once', (t) => {
    const { exchange, discovery, dhost } = setup(t);
    dhost.closed = true; // nothing is dialled here: only what enters the book is checked
    const from = fakePeer({ id: 'sender', address: 'sender.test:1' });
    exchange.onPeers(from, {
      type: 'peers',
      peers: [
        { address: 'x.test:1', id: 'zx' },
        { address: 'y.test:1' },
        { address: '[::1]:5' },
        { address: '' },
      ],
    });
    assert.equal(discovery.book.countFrom('sender'), 2);
    assert.deepEqual(
      [...discovery.book.values()].map((k) => [k.address, k.id, k.source, k.quotaKey, k.verified]),
      [
        ['x.test:1', 'zx', 'exchange', 'sender', false],
        ['y.test:1', undefined, 'exchange', 'sender', false],
      ],
    );
    assert.deepEqual(dhost.reports, [
      {
        type: 'peers-discovered',
        source: 'exchange',
        from: { id: 'sender', name: 'sender', address: 'sender.test:1' },
        newCount: 2,
        totalKnown: 2,
        addresses: ['x.test:1', 'y.test:1'],
      },
    ]);
  });

  test('a flood from one sender fills only its share of the book', (t) => {
    const { exchange, discovery, dhost } = setup(t);
    dhost.closed = true;
    const from = fakePeer({ id: 'flooder' });
    const peers = Array.from({ length: 500 }, (_, i) => ({ address: `f${i}.test:1` }));
    exchange.onPeers(from, { type: 'peers', peers });
    assert.equal(discovery.book.countFrom('flooder'), 25);
    assert.equal(discovery.book.size, 25);
  });
});
