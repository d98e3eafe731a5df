/**
 * PeerBook on its own: the per-source quota, which entry makes room when the book is full
 * (failed first, then the biggest source's oldest claim, never a proven address), the binding
 * rules of recordDial and recordClaim, the backoff, and the bounded set of self addresses.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PeerBook } from '../src/internal.js';

const NOW = 1_000_000;

/** `count` addresses of one made-up host. */
function addresses(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}.test:${1000 + i}`);
}

function fill(book: PeerBook, quotaKey: string, list: string[], now = NOW): number {
  let added = 0;
  for (const address of list) if (book.add(address, now, 'exchange', quotaKey)) added++;
  return added;
}

describe('PeerBook: quotas', () => {
  test('one source’s claims fill at most a quarter of the book; others still get in', () => {
    const book = new PeerBook(100);
    assert.equal(fill(book, 'p1', addresses('p1', 40)), 25);
    assert.equal(book.countFrom('p1'), 25);
    assert.equal(fill(book, 'p2', addresses('p2', 10)), 10);
    assert.equal(book.size, 35);
  });

  test('a small book still takes a real list (16 per source, never above capacity)', () => {
    assert.equal(fill(new PeerBook(40), 'p', addresses('p', 30)), 16);
    assert.equal(fill(new PeerBook(8), 'p', addresses('p', 30)), 8);
  });

  test('an address already known is not new, and its first claimed ID is kept as a hint', () => {
    const book = new PeerBook(100);
    assert.equal(book.add('h:1', NOW, 'exchange', 'p1'), true);
    assert.equal(book.add('h:1', NOW, 'exchange', 'p2', 'id-1'), false);
    assert.deepEqual(
      { ...book.get('h:1') },
      {
        address: 'h:1',
        id: 'id-1',
        verified: false,
        source: 'exchange',
        quotaKey: 'p1',
        firstSeen: NOW,
        failures: 0,
        nextAttemptAt: 0,
      },
    );
    book.add('h:1', NOW, 'exchange', 'p3', 'id-2');
    assert.equal(book.get('h:1')?.id, 'id-1', 'a later claim does not overwrite the hint');
    assert.equal(book.countFrom('p2'), 0, 'a repeat is not charged');
  });
});

describe('PeerBook: eviction when full', () => {
  test('the unproven entry that failed most goes first, then the biggest source’s oldest claim', () => {
    const book = new PeerBook(40); // quota 16
    const p1 = addresses('p1', 16);
    const p2 = addresses('p2', 12);
    const p3 = addresses('p3', 12);
    fill(book, 'p1', p1);
    fill(book, 'p2', p2);
    fill(book, 'p3', p3);
    assert.equal(book.size, 40);
    book.recordFailure(p3[5] as string, NOW, 1000);
    book.recordFailure(p2[3] as string, NOW, 1000);
    book.recordFailure(p2[3] as string, NOW, 1000);

    assert.equal(book.add('new:1', NOW, 'exchange', 'p4'), true);
    assert.equal(book.get(p2[3] as string), undefined, 'the entry with two failures went first');
    assert.equal(book.add('new:2', NOW, 'exchange', 'p4'), true);
    assert.equal(book.get(p3[5] as string), undefined, 'then the one with one failure');
    assert.equal(book.add('new:3', NOW, 'exchange', 'p4'), true);
    assert.equal(book.get(p1[0] as string), undefined, 'then the oldest claim of the biggest source');
    assert.ok(book.get(p1[1] as string));
    assert.equal(book.size, 40);
    assert.deepEqual(
      ['p1', 'p2', 'p3', 'p4'].map((k) => book.countFrom(k)),
      [15, 11, 11, 3],
    );
  });

  test('a source never evicts its own claims to make room for more of them', () => {
    const book = new PeerBook(16); // quota 16: one source can fill it
    fill(book, 'p1', addresses('p1', 16));
    assert.equal(book.add('more:1', NOW, 'exchange', 'p1'), false);
    assert.equal(book.add('other:1', NOW, 'exchange', 'p2'), true, 'another source makes room');
    assert.equal(book.countFrom('p1'), 15);
  });

  test('proven addresses are never evicted: a book full of them refuses claims and new dials', () => {
    const book = new PeerBook(16);
    for (const [i, address] of addresses('v', 16).entries()) book.recordDial(address, `id-${i}`, NOW);
    assert.equal(book.size, 16);
    assert.equal(book.add('claim:1', NOW, 'exchange', 'p1'), false);
    book.recordDial('dialled:1', 'id-new', NOW);
    assert.equal(book.get('dialled:1'), undefined);
    assert.ok([...book.values()].every((k) => k.verified));
  });

  test('a dial of a new address makes room by evicting a claim, and is charged to nobody', () => {
    const book = new PeerBook(16);
    fill(book, 'p1', addresses('p1', 16));
    book.recordDial('dialled:1', 'id-1', NOW);
    const entry = book.get('dialled:1');
    assert.equal(entry?.verified, true);
    assert.equal(entry?.source, 'dial');
    assert.equal(book.size, 16);
    assert.equal(book.countFrom('p1'), 15);
    assert.equal(book.countFrom('dial'), 0);
  });
});

describe('PeerBook: binding an address to an ID', () => {
  test('recordDial binds the proven ID over a claimed one and frees the claim’s quota', () => {
    const book = new PeerBook(100);
    book.add('h:1', NOW, 'exchange', 'p1', 'claimed');
    assert.equal(book.countFrom('p1'), 1);
    book.recordDial('h:1', 'proven', NOW + 5);
    const entry = book.get('h:1');
    assert.equal(entry?.id, 'proven');
    assert.equal(entry?.verified, true);
    assert.equal(book.countFrom('p1'), 0);
  });

  test('recordDial clears the backoff of the address', () => {
    const book = new PeerBook(100);
    book.add('h:1', NOW, 'exchange', 'p1');
    book.recordFailure('h:1', NOW, 1000);
    book.recordDial('h:1', 'id', NOW);
    assert.equal(book.get('h:1')?.failures, 0);
    assert.equal(book.get('h:1')?.nextAttemptAt, 0);
  });

  test('other spellings of a verified peer are forgotten and not added again', () => {
    const book = new PeerBook(100);
    book.add('localhost:9', NOW, 'exchange', 'p1', 'x');
    book.recordDial('127.0.0.1:9', 'x', NOW);
    assert.equal(book.get('localhost:9'), undefined);
    assert.equal(book.countFrom('p1'), 0);
    assert.equal(book.add('[::ffff:127.0.0.1]:9', NOW, 'exchange', 'p2', 'x'), false);
    assert.equal(book.add('elsewhere:9', NOW, 'exchange', 'p2', 'y'), true, 'other IDs still get in');
  });

  test('recordClaim binds nothing: a proven binding survives a claim by another ID', () => {
    const book = new PeerBook(100);
    book.recordDial('h:1', 'real', NOW);
    book.recordClaim('h:1', 'impostor', NOW, 'impostor');
    assert.equal(book.get('h:1')?.id, 'real');
    assert.equal(book.get('h:1')?.verified, true);
    assert.equal(book.countFrom('impostor'), 0);
  });

  test('recordClaim adds an unknown address as an unproven hint and clears backoff', () => {
    const book = new PeerBook(100);
    book.recordClaim('h:2', 'peer', NOW, 'peer');
    assert.equal(book.get('h:2')?.verified, false);
    assert.equal(book.get('h:2')?.id, 'peer');
    assert.equal(book.countFrom('peer'), 1);
    book.recordFailure('h:2', NOW, 1000);
    book.recordClaim('h:2', 'peer', NOW, 'peer');
    assert.equal(book.get('h:2')?.failures, 0);
    assert.equal(book.get('h:2')?.nextAttemptAt, 0);
  });
});

describe('PeerBook: backoff and self addresses', () => {
  test('failures push the next attempt out exponentially, capped at five minutes', () => {
    const book = new PeerBook(100);
    book.add('h:1', NOW, 'exchange', 'p');
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      book.recordFailure('h:1', NOW, 1000);
      delays.push((book.get('h:1')?.nextAttemptAt ?? 0) - NOW);
    }
    assert.deepEqual(delays.slice(0, 5), [1000, 2000, 4000, 8000, 16000]);
    assert.equal(delays.at(-1), 300_000);
    book.recordFailure('unknown:1', NOW, 1000); // ignored, no throw
    assert.equal(book.get('unknown:1'), undefined);
  });

  test('a self address is forgotten, never added or dialled into the book again', () => {
    const book = new PeerBook(100);
    book.add('me:1', NOW, 'exchange', 'p');
    book.markSelf('me:1');
    assert.equal(book.get('me:1'), undefined);
    assert.equal(book.countFrom('p'), 0);
    assert.equal(book.isSelf('me:1'), true);
    assert.equal(book.add('me:1', NOW, 'exchange', 'p'), false);
    book.recordDial('me:1', 'someone', NOW);
    assert.equal(book.get('me:1'), undefined);
  });

  test('self addresses are bounded: past 256 the oldest is forgotten', () => {
    const book = new PeerBook(100);
    const list = addresses('self', 300);
    for (const address of list) book.markSelf(address);
    assert.equal(book.isSelf(list[0] as string), false);
    assert.equal(book.isSelf(list[43] as string), false);
    assert.equal(book.isSelf(list[44] as string), true);
    assert.equal(book.isSelf(list[299] as string), true);
    // Marking again refreshes: an address in use is not the one forgotten next.
    book.markSelf(list[44] as string);
    book.markSelf('one-more:1');
    assert.equal(book.isSelf(list[44] as string), true);
    assert.equal(book.isSelf(list[45] as string), false);
  });
});
