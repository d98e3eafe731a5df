/**
 * `--overlay` in the CLI (issue 13): twelve CLI nodes with `--max-peers 4`, each joining through
 * an earlier node, form one overlay; every chat reaches all eleven others exactly once, with its
 * original sender, and `/peers` shows the active and passive views.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

describe('meshwire CLI: --overlay', () => {
  it(
    '12 nodes with --max-peers 4: every chat reaches all, /peers shows the views',
    { timeout: 120_000 },
    async (t) => {
      const dir = await tempDir((fn) => t.after(fn));
      const nodes: Cli[] = [];
      const ports: number[] = [];
      let seed = 7;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      for (let i = 0; i < 12; i++) {
        const name = `n${i}`;
        const cwd = path.join(dir, name);
        await mkdir(cwd, { recursive: true });
        const args = [...FAST, '--overlay', '--max-peers', '4', '--name', name, '0'];
        if (i > 0) args.push(`127.0.0.1:${ports[random(i)]}`);
        const node = new Cli(args, { cwd, cleanup: (fn) => t.after(fn), label: name });
        ports.push(await node.port());
        if (i > 0) await node.waitForType('peer-connected');
        nodes.push(node);
      }
      for (const [s, sender] of [0, 5, 11].entries()) {
        const text = `overlay chat ${s}`;
        const marks = nodes.map((n) => n.mark());
        (nodes[sender] as Cli).send(text);
        await Promise.all(
          nodes.map((node, i) =>
            i === sender
              ? undefined
              : node.waitForType('chat', (e) => e.text === text, { since: marks[i], timeoutMs: 20_000 }),
          ),
        );
        for (const [i, node] of nodes.entries()) {
          if (i === sender) continue;
          const got = node.events.filter((e) => e.type === 'chat' && e.text === text);
          assert.equal(got.length, 1, `${node.label} got "${text}" once`);
          // The original sender, not the neighbour that relayed it.
          const start = (nodes[sender] as Cli).events.find((e) => e.type === 'system-start');
          assert.equal((got[0]?.from as { id?: string } | undefined)?.id, start?.id);
        }
      }
      for (const node of nodes) {
        const connected = node.events.filter((e) => e.type === 'peer-connected').length;
        assert.ok(connected >= 1, `${node.label} has a peer`);
      }
      const mark = (nodes[3] as Cli).mark();
      (nodes[3] as Cli).send('/peers');
      const peers = await (nodes[3] as Cli).waitForType('peers', () => true, { since: mark });
      const overlay = peers.overlay as {
        joined: boolean;
        active: string[];
        passive: string[];
        sizeEstimate: number;
      };
      assert.equal(overlay.joined, true);
      // The estimate counts the nodes whose ID hashes reached this one so far (shuffles every
      // 10 s spread the rest): at least its neighbours, never above 12 by more than ±25 %.
      assert.ok(
        overlay.sizeEstimate >= overlay.active.length + 1 && overlay.sizeEstimate <= 15,
        `size estimate ${overlay.sizeEstimate}`,
      );
      assert.ok(
        overlay.active.length >= 1 && overlay.active.length <= 4,
        `active view ${overlay.active.length}`,
      );
    },
  );
});
