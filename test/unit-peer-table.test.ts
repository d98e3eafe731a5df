/**
 * PeerTable on its own: admission (self, maxPeers, duplicates), the simultaneous-dial tie-break
 * seen from both ends of a link, and the address index discovery relies on.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PeerTable, type Admission, type Peer } from '../src/internal.js';
import { fakePeer } from './helpers/fake-peer.js';

function accepted(admission: Admission): boolean {
  return admission.accept;
}

function refusal(admission: Admission): string {
  assert.equal(admission.accept, false, 'expected a refusal');
  return admission.accept ? '' : admission.reason;
}

describe('PeerTable: admission', () => {
  test('admits peers up to maxPeers, then refuses with max-peers; a removal frees the slot', () => {
    const table = new PeerTable('self', 2);
    const [a, b, c] = ['a', 'b', 'c'].map((id) => fakePeer({ id })) as [Peer, Peer, Peer];
    assert.ok(accepted(table.admit(a)));
    assert.equal(table.isFull(), false);
    assert.ok(accepted(table.admit(b)));
    assert.equal(table.isFull(), true);
    assert.equal(refusal(table.admit(c)), 'max-peers');
    assert.equal(table.size, 2);
    assert.equal(table.get('c'), undefined);

    assert.equal(table.remove(a), true);
    assert.ok(accepted(table.admit(c)));
    assert.deepEqual([...table.values()].map((p) => p.id).sort(), ['b', 'c']);
  });

  test('refuses its own ID as self, even when there is room', () => {
    const table = new PeerTable('self', 10);
    const admission = table.admit(fakePeer({ id: 'self' }));
    assert.equal(refusal(admission), 'self');
    assert.equal(table.size, 0);
  });

  test('a second connection of one ID in the same direction is a duplicate; the first stays', () => {
    const table = new PeerTable('m', 10);
    const first = fakePeer({ id: 'a', direction: 'inbound' });
    const second = fakePeer({ id: 'a', direction: 'inbound' });
    assert.ok(accepted(table.admit(first)));
    assert.equal(refusal(table.admit(second)), 'duplicate');
    assert.equal(table.get('a'), first);
  });

  test('removing a peer that is no longer the registered one for its ID changes nothing', () => {
    const table = new PeerTable('m', 10);
    const old = fakePeer({ id: 'a', direction: 'outbound' });
    const winner = fakePeer({ id: 'a', direction: 'inbound' });
    table.admit(old);
    const admission = table.admit(winner);
    assert.deepEqual(admission, { accept: true, replaced: old });
    // The replaced connection closes later; its close must not unregister the winner.
    assert.equal(table.remove(old), false);
    assert.equal(table.get('a'), winner);
    assert.equal(table.size, 1);
  });

  test('a tie-break replacement is admitted even when the table is full', () => {
    const table = new PeerTable('m', 1);
    const old = fakePeer({ id: 'a', direction: 'outbound' });
    assert.ok(accepted(table.admit(old)));
    assert.equal(table.isFull(), true);
    assert.deepEqual(table.admit(fakePeer({ id: 'a', direction: 'inbound' })), {
      accept: true,
      replaced: old,
    });
    assert.equal(table.size, 1);
  });
});

describe('PeerTable: simultaneous dials (the lower ID’s dial wins)', () => {
  // From this node ('m'): a remote with a lower ID ('a') wins with the connection it dialled
  // (inbound here); a remote with a higher ID ('z') loses to ours (outbound here).
  const cases = [
    { remote: 'a', existing: 'outbound', candidate: 'inbound', replaces: true },
    { remote: 'a', existing: 'inbound', candidate: 'outbound', replaces: false },
    { remote: 'z', existing: 'inbound', candidate: 'outbound', replaces: true },
    { remote: 'z', existing: 'outbound', candidate: 'inbound', replaces: false },
  ] as const;
  for (const { remote, existing, candidate, replaces } of cases) {
    test(`remote ${remote}: ${existing} registered, ${candidate} arrives -> ${replaces ? 'replaced' : 'duplicate'}`, () => {
      const table = new PeerTable('m', 10);
      const first = fakePeer({ id: remote, direction: existing });
      const second = fakePeer({ id: remote, direction: candidate });
      assert.ok(accepted(table.admit(first)));
      const admission = table.admit(second);
      if (replaces) {
        assert.deepEqual(admission, { accept: true, replaced: first });
        assert.equal(table.get(remote), second);
      } else {
        assert.equal(refusal(admission), 'duplicate');
        assert.equal(table.get(remote), first);
      }
    });
  }

  test('both ends keep the same connection, whichever handshake each finishes first', () => {
    // Two connections between 'a' and 'b': c1 dialled by a, c2 dialled by b. Each end sees both,
    // in either order; both must keep c1 (dialled by the lower ID).
    for (const aOrder of [0, 1]) {
      for (const bOrder of [0, 1]) {
        const atA = new PeerTable('a', 10);
        const atB = new PeerTable('b', 10);
        const aSide = [
          Object.assign(fakePeer({ id: 'b', direction: 'outbound' }), { tag: 'c1' }),
          Object.assign(fakePeer({ id: 'b', direction: 'inbound' }), { tag: 'c2' }),
        ];
        const bSide = [
          Object.assign(fakePeer({ id: 'a', direction: 'inbound' }), { tag: 'c1' }),
          Object.assign(fakePeer({ id: 'a', direction: 'outbound' }), { tag: 'c2' }),
        ];
        if (aOrder) aSide.reverse();
        if (bOrder) bSide.reverse();
        for (const p of aSide) atA.admit(p);
        for (const p of bSide) atB.admit(p);
        const keptAtA = atA.get('b') as Peer & { tag: string };
        const keptAtB = atB.get('a') as Peer & { tag: string };
        assert.equal(keptAtA.tag, 'c1', `a kept ${keptAtA.tag} (orders ${aOrder}/${bOrder})`);
        assert.equal(keptAtB.tag, 'c1', `b kept ${keptAtB.tag} (orders ${aOrder}/${bOrder})`);
      }
    }
  });
});

describe('PeerTable: address index', () => {
  test('tracks the addresses of registered peers through admit, setAddress and remove', () => {
    const table = new PeerTable('m', 10);
    const a = fakePeer({ id: 'a', address: '10.0.0.1:1' });
    assert.equal(table.hasAddress('10.0.0.1:1'), false);
    table.admit(a);
    assert.equal(table.hasAddress('10.0.0.1:1'), true);

    // A compat peer's LISTEN line arrives after admission: the index follows the new address.
    table.setAddress(a, '10.0.0.1:8001');
    assert.equal(a.address, '10.0.0.1:8001');
    assert.equal(table.hasAddress('10.0.0.1:1'), false);
    assert.equal(table.hasAddress('10.0.0.1:8001'), true);

    table.remove(a);
    assert.equal(table.hasAddress('10.0.0.1:8001'), false);
  });

  test('counts two peers known by one address: the address stays until both are gone', () => {
    const table = new PeerTable('m', 10);
    const a = fakePeer({ id: 'a', address: 'host:1' });
    const b = fakePeer({ id: 'b', address: 'host:1' });
    table.admit(a);
    table.admit(b);
    table.remove(a);
    assert.equal(table.hasAddress('host:1'), true);
    table.remove(b);
    assert.equal(table.hasAddress('host:1'), false);
  });

  test('a replacement re-indexes: the old connection’s address goes, the winner’s comes', () => {
    const table = new PeerTable('m', 10);
    const old = fakePeer({ id: 'a', direction: 'outbound', address: 'old:1' });
    const winner = fakePeer({ id: 'a', direction: 'inbound', address: 'new:1' });
    table.admit(old);
    table.admit(winner);
    assert.equal(table.hasAddress('old:1'), false);
    assert.equal(table.hasAddress('new:1'), true);
    table.remove(old);
    assert.equal(table.hasAddress('new:1'), true, 'removing the loser leaves the winner indexed');
  });

  test('setAddress on a peer that is not registered changes the peer only', () => {
    const table = new PeerTable('m', 10);
    const stray = fakePeer({ id: 'a', address: 'x:1' });
    table.setAddress(stray, 'y:1');
    assert.equal(stray.address, 'y:1');
    assert.equal(table.hasAddress('y:1'), false);
    assert.equal(table.hasAddress('x:1'), false);
  });

  test('refused candidates leave the index alone', () => {
    const table = new PeerTable('m', 1);
    table.admit(fakePeer({ id: 'a', address: 'a:1' }));
    table.admit(fakePeer({ id: 'b', address: 'b:1' }));
    table.admit(fakePeer({ id: 'm', address: 'm:1' }));
    assert.equal(table.hasAddress('b:1'), false);
    assert.equal(table.hasAddress('m:1'), false);
  });
});
