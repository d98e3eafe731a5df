/**
 * The dashboard shows FileShare (pieces) downloads in real Chromium: a file a peer offers,
 * pulled from a rate-limited source, appears as running with its source, rate and progress,
 * then done, and downloads byte-identical from the page.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { startDashboard } from '../src/web/index.js';
import { connect, MiB, nextShareEvent, randomFile, sha, sharePeer, tempDir } from './helpers/pieces.js';
import { builtAssets, noBrowserReason, openBrowser, screenshot } from './support-web/browser.js';

const skip = noBrowserReason();

describe('dashboard: FileShare downloads in Chromium', { skip, timeout: 90_000 }, () => {
  it('shows a pieces download with source, rate and progress, then serves it', async (t) => {
    const root = await tempDir(t);
    const hub = await sharePeer(t, root, 'hub');
    // 1 MiB/s: the 3 MiB download stays running long enough to be seen moving.
    const src = await sharePeer(t, root, 'src', { uploadBytesPerSecondPerPeer: MiB });
    await connect(src.node, hub.node);
    const dash = await startDashboard(hub.node, {
      assetsDir: await builtAssets(),
      share: hub.share,
      flushIntervalMs: 50,
    });
    t.after(() => dash.close());
    const { page, errors } = await openBrowser(t);
    await page.goto(dash.url);
    await page.locator('#peers tbody tr').first().waitFor({ timeout: 5_000 });

    const { file, data } = await randomFile(root, 'pulled.bin', 3 * MiB);
    const started = nextShareEvent(hub.share, 'download-start');
    await src.share.sendFile(file, { to: hub.node.id });
    await started;
    const running = page.locator('#transfers li[data-direction="in"][data-state="running"]');
    await running.waitFor({ timeout: 10_000 });
    // The row names the source and the protocol, and shows a rate once pieces arrive.
    await page
      .locator('#transfers li[data-state="running"] .name', { hasText: /src · pieces · [\d.]+ [KMG]?i?B\/s/ })
      .waitFor({ timeout: 10_000 });
    const pct = Number((await running.locator('.state').textContent())?.replace('%', ''));
    assert.ok(pct >= 0 && pct < 100, `running at ${pct}%`);
    await screenshot(page, 'dashboard-pieces-running');

    const done = page.locator('#transfers li[data-direction="in"][data-state="done"]');
    await done.waitFor({ timeout: 20_000 });
    assert.equal(await done.locator('.state').textContent(), '100%');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      done.locator('button.download').click(),
    ]);
    assert.equal(download.suggestedFilename(), 'pulled.bin');
    assert.equal(sha(await readFile(await download.path())), sha(data));
    assert.deepEqual(errors, []);
  });
});
