/**
 * Partitions heal (real sockets, secure mode, `overlay: true`): 12 nodes with `maxPeers: 3`
 * form one overlay; a firewall then splits them in two halves of 6 and every link between the
 * halves is closed. Each half keeps working alone, and once the split has lasted longer than the
 * size sketch's TTL the halves no longer look alike. When the firewall lets them through again,
 * the periodic re-join probe (an address from the passive view or the peer book that is not a
 * neighbour) finds the other half and the two merge: broadcasts reach all 12 again.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { P2PNode } from '../src/node.js';
import { waitUntil } from './helpers/nodes.js';
import { describeViews, overlayConnected, recordChats, startOverlayNet } from './helpers/overlay-net.js';
import { pollUntil } from './helpers/wait.js';

const COUNT = 12;

describe('a partition', { timeout: 150_000 }, () => {
  it('splits the overlay in two working halves, which merge again once the links are back', async (t) => {
    let split = false;
    const halfOf = new Map<string, number>();
    const nodes = await startOverlayNet(t, {
      count: COUNT,
      maxPeers: 3,
      seed: 11,
      // Faster than the defaults (shuffle 10 s, sketch TTL 120 s, re-join every 30 s), so the
      // test takes seconds, not minutes; the mechanism is the same.
      hook: () => ({ core: { shuffleIntervalMs: 500, sizeTtlMs: 5000, rejoinIntervalMs: 1000 } }),
      node: (i) => ({
        firewall: (peer) => !split || halfOf.get(peer.id) === (i < COUNT / 2 ? 0 : 1),
      }),
    });
    nodes.forEach((n, i) => halfOf.set(n.id, i < COUNT / 2 ? 0 : 1));
    const halves = [nodes.slice(0, COUNT / 2), nodes.slice(COUNT / 2)];
    const chats = recordChats(nodes);
    const broadcastTo = async (
      sender: P2PNode,
      to: P2PNode[],
      label: string,
      timeoutMs: number,
    ): Promise<number> => {
      const at = Date.now();
      await sender.broadcastMessage(label);
      const key = `${sender.id}|${label}`;
      await waitUntil(
        to,
        () => to.every((n) => n === sender || chats.get(n)!.includes(key)),
        `"${label}" everywhere`,
        timeoutMs,
        () => describeViews(nodes),
      );
      return Date.now() - at;
    };
    await pollUntil(
      () => nodes.every((n) => n.overlayStats()!.sizeEstimate === COUNT),
      'every node counts 12',
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        describe: () => nodes.map((n) => n.overlayStats()!.sizeEstimate).join(','),
      },
    );

    // Split: the firewall refuses the other half, and every link across is closed.
    split = true;
    for (const n of nodes) {
      for (const p of n.getPeerInfo().peers)
        if (halfOf.get(p.id) !== halfOf.get(n.id)) n.disconnectPeer(p.id);
    }
    const crossLinks = (): number =>
      nodes.reduce(
        (sum, n) => sum + n.getPeerInfo().peers.filter((p) => halfOf.get(p.id) !== halfOf.get(n.id)).length,
        0,
      );
    await pollUntil(
      () => crossLinks() === 0 && halves.every((h) => overlayConnected(h)),
      'two separate halves, each one overlay',
      {
        timeoutMs: 20_000,
        intervalMs: 50,
        describe: () => `${crossLinks()} cross links; ${describeViews(nodes)}`,
      },
    );
    for (const half of halves)
      await broadcastTo(half[0]!, half, `inside half ${halfOf.get(half[0]!.id)}`, 15_000);
    assert.ok(
      !halves[1]!.some((n) => chats.get(n)!.some((e) => e.endsWith('|inside half 0'))),
      'nothing crosses the split',
    );
    // Once the split outlasts the sketch TTL, each half counts only itself: the halves no longer
    // look alike, which is what makes a re-join probe merge them.
    await pollUntil(
      () => nodes.every((n) => n.overlayStats()!.sizeEstimate <= COUNT / 2 + 1),
      'each half counts itself',
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        describe: () => nodes.map((n) => n.overlayStats()!.sizeEstimate).join(','),
      },
    );
    // Learned candidates (peer book, peer exchange) survive the failed dials across the split.
    assert.ok(
      nodes.some((n) => n.overlayStats()!.learned.some((id) => halfOf.get(id) !== halfOf.get(n.id))),
      'the nodes keep learned candidates',
    );

    // Heal: the firewall lets everyone through again; nothing else is done.
    split = false;
    const healStart = Date.now();
    const detail = (): string =>
      nodes
        .map((n) => {
          const s = n.overlayStats()!;
          const across = (ids: string[]): number =>
            ids.filter((id) => halfOf.get(id) !== halfOf.get(n.id)).length;
          return `${n.name}: active ${s.active.length} (${across(s.active)} across) passive ${s.passive.length} (${across(s.passive)}) learned ${s.learned.length} (${across(s.learned)}) pending ${s.pending.length} size ${s.sizeEstimate}`;
        })
        .join('; ');
    await pollUntil(() => overlayConnected(nodes), 'one overlay again', {
      timeoutMs: 30_000,
      intervalMs: 50,
      describe: detail,
    });
    const healMs = Date.now() - healStart;
    const latencies: number[] = [];
    for (const sender of [nodes[0]!, nodes[COUNT - 1]!, nodes[3]!, nodes[8]!]) {
      latencies.push(await broadcastTo(sender, nodes, `after healing from ${sender.name}`, 15_000));
    }
    await pollUntil(
      () => nodes.every((n) => n.overlayStats()!.sizeEstimate === COUNT),
      'every node counts 12 again',
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        describe: () => nodes.map((n) => n.overlayStats()!.sizeEstimate).join(','),
      },
    );
    for (const n of nodes) {
      const log = chats.get(n)!;
      assert.equal(new Set(log).size, log.length, `${n.name}: no duplicate`);
      assert.ok(n.overlayStats()!.active.length <= 3);
    }
    t.diagnostic(
      `merged ${healMs} ms after the links came back; broadcasts then took ${latencies.join(', ')} ms`,
    );
  });
});
