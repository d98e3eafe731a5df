/**
 * The whole node over an in-memory transport (issue 10): no socket anywhere, TLS 1.3, the
 * native and compat handshakes, peer exchange and heartbeat all run on pairs of in-memory
 * streams. It proves that nothing above `transport/` assumes TCP.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { P2PNode } from '../src/node.js';
import type { NodeOptions } from '../src/options.js';
import { MemoryNetwork } from '../src/transport/memory.js';
import { MODES, waitFor, waitForPeerCount } from './helpers/nodes.js';

for (const mode of MODES) {
  describe(`nodes on a MemoryNetwork (${mode})`, () => {
    test('three nodes mesh, chat, send bytes and leave, with no socket', { timeout: 15_000 }, async (t) => {
      const network = new MemoryNetwork();
      const options: NodeOptions = {
        mode,
        host: '127.0.0.1',
        transport: network.transport(),
        maintenanceIntervalMs: 100,
        autoConnectJitterMs: 10,
      };
      const nodes = ['a', 'b', 'c'].map((name) => new P2PNode({ ...options, name }));
      for (const node of nodes) t.after(() => node.close());
      for (const node of nodes) await node.start();
      const [a, b, c] = nodes as [P2PNode, P2PNode, P2PNode];
      await b.connectToPeer(`127.0.0.1:${a.port}`);
      await c.connectToPeer(`127.0.0.1:${a.port}`);
      // c learns of b through a's peer list and dials it: the mesh completes.
      await waitForPeerCount(nodes, 2);

      const chat = waitFor(c, 'chat', (m) => m.text === 'over memory');
      const report = await a.broadcastMessage('over memory');
      assert.equal(report.sent.length, 2);
      assert.equal((await chat).from.name, 'a');

      const bytes = waitFor(b, 'bytes', (m) => m.data.length === 100_000);
      await c.sendBytesToPeer(b.id, Buffer.alloc(100_000, 7));
      assert.equal((await bytes).data[99_999], 7);

      const gone = waitFor(a, 'peer-disconnected', (m) => m.peer.id === c.id);
      await c.close();
      assert.equal((await gone).peer.name, 'c');
    });

    test(
      'dialing a port nobody listens on fails with ERR_CONNECTION_REFUSED',
      { timeout: 5_000 },
      async (t) => {
        const network = new MemoryNetwork();
        const node = new P2PNode({ mode, host: '127.0.0.1', transport: network.transport() });
        t.after(() => node.close());
        await node.start();
        await assert.rejects(node.connectToPeer('127.0.0.1:1'), { code: 'ERR_CONNECTION_REFUSED' });
      },
    );
  });
}
