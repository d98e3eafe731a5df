/**
 * `--web` and `--metrics` (issue 15): the CLI starts the dashboard and the metrics listener on
 * 127.0.0.1, reports their URLs (a `dashboard` / `metrics` event under --json), refuses data
 * without the token, and serves Prometheus text whose counters move.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cli, FAST, tempDir } from './cli-harness.js';

describe('meshwire CLI: --web and --metrics', () => {
  it(
    'prints both URLs; the dashboard wants its token; /metrics counts the node',
    { timeout: 30_000 },
    async (t) => {
      const cwd = await tempDir((fn) => t.after(fn));
      const cli = new Cli([...FAST, '--name', 'webby', '--web', '0', '--metrics', '0', '0'], {
        cwd,
        cleanup: (fn) => t.after(fn),
        label: 'web',
      });
      const dashboard = (await cli.waitForType('dashboard')) as unknown as { url: string };
      const metrics = (await cli.waitForType('metrics')) as unknown as { url: string };
      const url = new URL(dashboard.url);
      assert.equal(url.hostname, '127.0.0.1');
      const token = new URLSearchParams(url.hash.slice(1)).get('token');
      assert.ok(token && token.length >= 32, 'a random token in the fragment');

      const state = new URL('/api/state', url.origin);
      assert.equal((await fetch(state)).status, 401, 'no token, no data');
      const page = await fetch(url.origin + '/');
      assert.equal(page.status, 200, 'the page itself loads without the token');

      const scrape = await fetch(metrics.url);
      assert.equal(scrape.status, 200);
      const text = await scrape.text();
      assert.match(text, /^# TYPE meshwire_peers gauge$/m);
      assert.match(text, /^# TYPE meshwire_handshake_duration_seconds histogram$/m);
      cli.send('/quit');
      assert.equal(await cli.exitCode(), 0);
    },
  );
});
