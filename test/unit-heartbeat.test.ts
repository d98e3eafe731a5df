/**
 * Heartbeat on its own, with a fake HeartbeatHost and explicit times: pings with and without a
 * nonce, RTT from the matching pong, no pong for a peer that leaves our data unread, and the
 * maintenance tick that drops silent peers and pings the others.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PingFrame, PongFrame } from '../src/codec/frame.js';
import type { MeshwireError } from '../src/errors.js';
import {
  Heartbeat,
  type HeartbeatHost,
  type HeartbeatMessage,
  type HeartbeatOptions,
  type Peer,
} from '../src/internal.js';
import { fakePeer } from './helpers/fake-peer.js';

class FakeHost implements HeartbeatHost {
  readonly sent: { to: string; frame: PingFrame | PongFrame }[] = [];
  readonly dropped: { id: string; error: MeshwireError }[] = [];
  readonly reports: HeartbeatMessage[] = [];
  send(peer: Peer, frame: PingFrame | PongFrame): void {
    this.sent.push({ to: peer.id, frame });
  }
  dropSilent(peer: Peer, error: MeshwireError): void {
    this.dropped.push({ id: peer.id, error });
  }
  report(message: HeartbeatMessage): void {
    this.reports.push(message);
  }
}

const OPTIONS: HeartbeatOptions = { peerTimeoutMs: 1000, withNonce: true, backedUpBytes: 1024, debug: false };

function setup(options: Partial<HeartbeatOptions> = {}): { host: FakeHost; heartbeat: Heartbeat } {
  const host = new FakeHost();
  return { host, heartbeat: new Heartbeat(host, { ...OPTIONS, ...options }) };
}

describe('Heartbeat: ping and pong', () => {
  test('native pings carry a fresh nonce; the matching pong gives the RTT', () => {
    const { host, heartbeat } = setup();
    const peer = fakePeer({ id: 'a' });
    heartbeat.ping(peer, 10_000);
    heartbeat.ping(peer, 10_000);
    const [first, second] = host.sent.map((s) => s.frame) as [PingFrame, PingFrame];
    assert.equal(first.type, 'ping');
    assert.notEqual(first.nonce, second.nonce, 'each ping has its own nonce');

    heartbeat.onPong(peer, { type: 'pong', nonce: first.nonce }, 10_050);
    assert.equal(peer.rttMs, undefined, 'a pong for an older ping is not this RTT');
    heartbeat.onPong(peer, { type: 'pong', nonce: second.nonce }, 10_042);
    assert.equal(peer.rttMs, 42);
    heartbeat.onPong(peer, { type: 'pong', nonce: second.nonce }, 10_500);
    assert.equal(peer.rttMs, 42, 'a repeated pong does not count twice');
  });

  test('compat pings carry no nonce, and any pong answers the ping in flight', () => {
    const { host, heartbeat } = setup({ withNonce: false });
    const peer = fakePeer({ id: 'a' });
    heartbeat.ping(peer, 500);
    assert.deepEqual(host.sent, [{ to: 'a', frame: { type: 'ping', nonce: 0n } }]);
    heartbeat.onPong(peer, { type: 'pong', nonce: 0n }, 530);
    assert.equal(peer.rttMs, 30);
  });

  test('a ping is answered with its nonce, unless the peer leaves more than backedUpBytes unread', () => {
    const { host, heartbeat } = setup({ backedUpBytes: 1024 });
    const reading = fakePeer({ id: 'reading', queuedBytes: 1024 });
    const backedUp = fakePeer({ id: 'stuck', queuedBytes: 1025 });
    heartbeat.onPing(reading, { type: 'ping', nonce: 7n });
    heartbeat.onPing(backedUp, { type: 'ping', nonce: 8n });
    assert.deepEqual(host.sent, [{ to: 'reading', frame: { type: 'pong', nonce: 7n } }]);
  });

  test('debug reports every ping sent and received and every pong with its RTT', () => {
    const { host, heartbeat } = setup({ debug: true, withNonce: false });
    const peer = fakePeer({ id: 'a' });
    heartbeat.ping(peer, 0);
    heartbeat.onPing(peer, { type: 'ping', nonce: 0n });
    heartbeat.onPong(peer, { type: 'pong', nonce: 0n }, 5);
    const ref = { id: 'a', name: 'a', address: peer.address };
    assert.deepEqual(host.reports, [
      { type: 'ping', peer: ref, direction: 'sent' },
      { type: 'ping', peer: ref, direction: 'received' },
      { type: 'pong', peer: ref, direction: 'received', rttMs: 5 },
    ]);
    assert.deepEqual(setup().host.reports, [], 'nothing without debug');
  });
});

describe('Heartbeat: the maintenance tick', () => {
  test('drops peers silent for longer than peerTimeoutMs and pings the others', () => {
    const { host, heartbeat } = setup({ peerTimeoutMs: 1000 });
    const silent = fakePeer({ id: 'silent', lastSeen: 0 });
    const edge = fakePeer({ id: 'edge', lastSeen: 1000 });
    const alive = fakePeer({ id: 'alive', lastSeen: 0 });
    heartbeat.heard(alive, 1900);
    heartbeat.tick([silent, edge, alive], 2000);
    assert.deepEqual(
      host.dropped.map((d) => [d.id, d.error.code]),
      [['silent', 'ERR_PEER_TIMEOUT']],
    );
    assert.match(host.dropped[0]?.error.message ?? '', /2000 ms/);
    assert.deepEqual(host.reports, [
      {
        type: 'maintenance-cleanup',
        peer: { id: 'silent', name: 'silent', address: silent.address },
        reason: 'timeout',
      },
    ]);
    assert.deepEqual(
      host.sent.map((s) => s.to),
      ['edge', 'alive'],
    );
  });

  test('a drop during the tick does not disturb the iteration over the live set', () => {
    const peers = new Set([fakePeer({ id: 'a', lastSeen: 0 }), fakePeer({ id: 'b', lastSeen: 0 })]);
    const host = new FakeHost();
    // The node removes a dropped peer from its table at once, while tick iterates it.
    host.dropSilent = (peer, error) => {
      peers.delete(peer);
      host.dropped.push({ id: peer.id, error });
    };
    new Heartbeat(host, OPTIONS).tick(peers, 5000);
    assert.deepEqual(
      host.dropped.map((d) => d.id),
      ['a', 'b'],
    );
  });
});
