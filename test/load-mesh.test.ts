/**
 * Load: 20 nodes in a full mesh (one process, real loopback sockets), each broadcasting 500 chat
 * messages and 50 BYTES messages of 8 KiB, all at once. Every node must receive exactly the
 * expected messages from every other node: none lost, none duplicated, in order per sender.
 *
 * Each sender numbers its messages 0..549 in one sequence across both kinds (every 11th is a
 * BYTES message), so order is checked across chat and BYTES too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { P2PNode } from '../src/node.js';
import { MODES, addressOf, startNode, waitForPeerCount, waitUntil } from './helpers/nodes.js';

const NODES = 20;
const CHATS = 500;
const BYTES = 50;
const TOTAL = CHATS + BYTES;
const BYTES_SIZE = 8 * 1024;

/** Message `seq` of a sender: BYTES for every 11th, chat otherwise. */
const isBytes = (seq: number): boolean => seq % 11 === 10;

function bytesPayload(sender: number, seq: number): Buffer {
  const buf = Buffer.alloc(BYTES_SIZE, seq & 0xff);
  buf.writeUInt32BE(sender, 0);
  buf.writeUInt32BE(seq, 4);
  return buf;
}

describe('load: 20-node full mesh, everyone broadcasting', () => {
  for (const mode of MODES) {
    test(
      `${mode}: 500 chats + 50 x 8 KiB each, all delivered once and in order`,
      { timeout: 60_000 },
      async (t) => {
        const started = performance.now();
        const nodes: P2PNode[] = [];
        for (let i = 0; i < NODES; i++) {
          nodes.push(
            await startNode(t, {
              mode,
              name: `n${i}`,
              maxPeers: NODES + 5,
              autoConnectMax: NODES,
              // Pings are cheap, but 20 x 19 of them every 100 ms are not needed here.
              maintenanceIntervalMs: 1_000,
              peerTimeoutMs: 30_000,
              ...(i > 0 ? { bootstrap: addressOf(nodes[0] as P2PNode) } : {}),
            }),
          );
        }
        await waitForPeerCount(nodes, NODES - 1, 20_000);
        const meshed = performance.now();

        const index = new Map(nodes.map((n, i) => [n.id, i]));
        // received[r][s]: the sequence numbers node r got from node s, in arrival order.
        const received = nodes.map(() => nodes.map(() => [] as number[]));
        const problems: string[] = [];
        let delivered = 0;
        nodes.forEach((node, r) => {
          node.on('chat', (m) => {
            const s = index.get(m.from.id);
            const match = /^(\d+):(\d+)$/.exec(m.text);
            if (s === undefined || !match || Number(match[1]) !== s) {
              problems.push(`n${r}: unexpected chat ${JSON.stringify(m.text)} from ${m.from.name}`);
              return;
            }
            received[r]![s]!.push(Number(match[2]));
            delivered++;
          });
          node.on('bytes', (m) => {
            const s = index.get(m.from.id);
            const data = Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
            const seq = data.readUInt32BE(4);
            if (s === undefined || data.length !== BYTES_SIZE || data.readUInt32BE(0) !== s) {
              problems.push(`n${r}: unexpected BYTES from ${m.from.name}`);
              return;
            }
            if (!data.subarray(8).every((b) => b === (seq & 0xff)))
              problems.push(`n${r}: corrupt BYTES ${s}:${seq}`);
            received[r]![s]!.push(seq);
            delivered++;
          });
        });

        const expected = NODES * (NODES - 1) * TOTAL;
        const done = waitUntil(
          nodes,
          () => delivered >= expected,
          `${expected} messages were delivered`,
          40_000,
          () => `${delivered} delivered`,
        );
        const failed: string[] = [];
        await Promise.all(
          nodes.map(async (node, s) => {
            for (let seq = 0; seq < TOTAL; seq++) {
              const report = isBytes(seq)
                ? await node.broadcastBytes(bytesPayload(s, seq))
                : await node.broadcastMessage(`${s}:${seq}`);
              if (report.sent.length !== NODES - 1 || report.failed.length > 0)
                failed.push(`n${s} #${seq}: sent to ${report.sent.length}, failed ${report.failed.length}`);
            }
          }),
        );
        const sent = performance.now();
        await done;
        const finished = performance.now();

        assert.deepEqual(failed, [], 'every broadcast reached every peer');
        assert.deepEqual(problems, []);
        const inOrder = Array.from({ length: TOTAL }, (_, i) => i);
        for (let r = 0; r < NODES; r++) {
          for (let s = 0; s < NODES; s++) {
            if (r === s) assert.equal(received[r]![s]!.length, 0, 'nobody hears itself');
            else
              assert.deepEqual(received[r]![s], inOrder, `n${r} got everything from n${s}, once, in order`);
          }
        }
        assert.equal(delivered, expected, 'no extra deliveries');
        // Still one full mesh: nobody was dropped under load.
        for (const node of nodes) assert.equal(node.getPeerInfo().peers.length, NODES - 1);
        const seconds = (finished - meshed) / 1000;
        t.diagnostic(
          `${mode}: mesh in ${((meshed - started) / 1000).toFixed(1)} s; ${expected} deliveries (${((NODES * (NODES - 1) * BYTES * BYTES_SIZE) / 2 ** 20).toFixed(0)} MiB of BYTES) in ${seconds.toFixed(1)} s (${Math.round(expected / seconds)} msg/s; sends done after ${((sent - meshed) / 1000).toFixed(1)} s)`,
        );
      },
    );
  }
});
