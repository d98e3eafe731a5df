/**
 * The dashboard's actions in real Chromium: chat to and from a real CLI node, a file picked on
 * the page reaching two peers intact (SHA-256) with progress shown, a received file downloading
 * byte-identical, and /metrics parsing as Prometheus text with counters that move.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { FileReceiver } from '../src/files/receiver.js';
import { sendFile } from '../src/files/send-file.js';
import { startDashboard } from '../src/web/index.js';
import { Cli, FAST, sha256File, tempDir } from './cli-harness.js';
import { addressOf, startNode, waitFor } from './helpers/nodes.js';
import { builtAssets, noBrowserReason, openBrowser, screenshot } from './support-web/browser.js';
import { parsePrometheus, sample } from './support-web/prometheus.js';

const skip = noBrowserReason();

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('dashboard actions in Chromium', { skip, timeout: 90_000 }, () => {
  it('chats with a CLI node, sends a file to two peers, downloads a received one, and counts it', async (t) => {
    const dir = await tempDir((fn) => t.after(fn), 'meshwire-web-');
    const hub = await startNode(t, { name: 'hub' });
    const hubReceiver = new FileReceiver(hub, { downloadsDir: path.join(dir, 'hub-downloads') });
    t.after(() => hubReceiver.close());
    await hubReceiver.start();
    const dash = await startDashboard(hub, {
      assetsDir: await builtAssets(),
      receiver: hubReceiver,
      flushIntervalMs: 50,
    });
    t.after(() => dash.close());

    // Carol is the real CLI, in her own directory; dave an in-process node with a receiver.
    const carolDir = path.join(dir, 'carol');
    await mkdir(carolDir);
    const carol = new Cli([...FAST, '--name', 'carol', '0', addressOf(hub)], {
      cwd: carolDir,
      cleanup: (fn) => t.after(fn),
      label: 'carol',
    });
    const dave = await startNode(t, { name: 'dave' });
    const daveReceiver = new FileReceiver(dave, { downloadsDir: path.join(dir, 'dave-downloads') });
    t.after(() => daveReceiver.close());
    await daveReceiver.start();
    const daveJoined = waitFor(hub, 'peer-connected', (m) => m.peer.id === dave.id);
    await dave.connectToPeer(addressOf(hub));
    await daveJoined;
    await carol.waitForType('peer-connected', (e) => (e.peer as { name: string }).name === 'hub');

    const { page, errors } = await openBrowser(t);
    await page.goto(dash.url);
    await page.locator('#peers tbody tr').nth(1).waitFor({ timeout: 5_000 });

    const scrape = async (): Promise<ReturnType<typeof parsePrometheus>> => {
      const res = await fetch(`${dash.origin}/metrics`, {
        headers: { authorization: `Bearer ${dash.token}` },
      });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      return parsePrometheus(await res.text());
    };
    const before = await scrape();
    const chatsBefore = sample(before, 'meshwire_messages_received_total', { type: 'chat' });

    // Page -> CLI.
    const fromPage = `hello from the page ${randomBytes(3).toString('hex')}`;
    const carolMark = carol.mark();
    await page.fill('#chat-text', fromPage);
    await page.click('#chat-form button');
    await carol.waitForType('chat', (e) => e.text === fromPage, { since: carolMark, timeoutMs: 5_000 });
    await page.locator('#chat li.outgoing', { hasText: fromPage }).waitFor({ timeout: 3_000 });

    // CLI -> page.
    const fromCli = `hello from the CLI ${randomBytes(3).toString('hex')}`;
    carol.send(fromCli);
    const line = page.locator('#chat li.incoming', { hasText: fromCli });
    await line.waitFor({ timeout: 5_000 });
    assert.equal(await line.locator('.from').textContent(), 'carol');

    // A file picked on the page goes to everyone: carol (CLI) and dave, intact.
    const content = randomBytes(6 * 1024 * 1024 + 123);
    const upload = path.join(dir, 'page upload.bin');
    await writeFile(upload, content);
    const daveGot = new Promise<string>((resolve) =>
      daveReceiver.on('file-complete', (e) => e.name === 'page upload.bin' && resolve(e.path)),
    );
    const carolMark2 = carol.mark();
    // Record every progress value the page shows for the outgoing transfer.
    // (Page-side code as a string: the test's TypeScript has no DOM types.)
    await page.evaluate(`(() => {
      const seen = (window.progressSeen = []);
      new MutationObserver(() => {
        const state = document.querySelector('#transfers li[data-direction="out"] .state')?.textContent;
        if (state && seen[seen.length - 1] !== state) seen.push(state);
      }).observe(document.getElementById('transfers'), { subtree: true, childList: true, characterData: true });
    })()`);
    await page.setInputFiles('#file-input', upload);
    const carolEvent = await carol.waitForType('file-complete', (e) => e.name === 'page upload.bin', {
      since: carolMark2,
      timeoutMs: 30_000,
    });
    assert.equal(await sha256File(carolEvent.path as string), sha256(content));
    assert.equal(await sha256File(await daveGot), sha256(content));
    const out = page.locator('#transfers li[data-direction="out"]');
    await out.locator('.state', { hasText: '100%' }).waitFor({ timeout: 5_000 });
    // Done once both receivers confirmed (secure mode's FILEACK), which may follow the last byte.
    await page.locator('#transfers li[data-direction="out"][data-state="done"]').waitFor({ timeout: 10_000 });
    assert.equal(await out.getAttribute('data-state'), 'done');
    const bar = out.locator('progress');
    assert.equal(await bar.getAttribute('value'), String(content.length));
    assert.equal(await bar.getAttribute('max'), String(content.length));
    const shown = (await page.evaluate('window.progressSeen')) as string[];
    t.diagnostic(`progress shown on the page: ${shown.join(' ')}`);
    assert.ok(shown.length >= 1 && shown.at(-1) === '100%', `progress ${shown.join(',')}`);
    await screenshot(page, 'dashboard-files');

    // Dave sends a file to the hub: the page shows it arriving and downloads it byte-identical.
    const back = randomBytes(2 * 1024 * 1024 + 7);
    const backPath = path.join(dir, 'for the hub.dat');
    await writeFile(backPath, back);
    await sendFile(dave, backPath, { to: hub.id });
    const incoming = page.locator('#transfers li[data-direction="in"][data-state="done"]');
    await incoming.waitFor({ timeout: 10_000 });
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      incoming.locator('button.download').click(),
    ]);
    assert.equal(download.suggestedFilename(), 'for the hub.dat');
    const saved = await download.path();
    assert.equal(sha256(await readFile(saved)), sha256(back));

    // Metrics moved: the chat from the CLI and the file bytes.
    const after = await scrape();
    assert.ok(sample(after, 'meshwire_messages_received_total', { type: 'chat' }) >= chatsBefore + 1);
    assert.ok(sample(after, 'meshwire_file_received_bytes_total') >= back.length);
    assert.ok(sample(after, 'meshwire_file_sent_bytes_total') >= content.length * 2);
    assert.equal(sample(after, 'meshwire_file_transfers_total', { direction: 'in', result: 'ok' }), 1);
    assert.equal(sample(after, 'meshwire_peers'), 2);
    for (const f of after) {
      assert.match(f.name, /^meshwire_[a-z_]+$/);
      if (f.type === 'COUNTER') assert.match(f.name, /_total$/);
      for (const m of f.metrics)
        for (const v of Object.values(m.labels ?? {}))
          assert.doesNotMatch(v, /^[0-9a-f]{32}$/, `${f.name} has an ID label`);
    }
    assert.deepEqual(errors, []);
    // Nothing but the downloads the node wrote.
    assert.deepEqual(await readdir(path.join(dir, 'hub-downloads')), ['for the hub.dat']);
  });
});
