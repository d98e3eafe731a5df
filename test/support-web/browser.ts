/**
 * Real Chromium for the dashboard tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never the full `playwright`, which downloads its own browsers), a fresh profile per test,
 * the page built once per process into a temporary directory, screenshots kept as artifacts.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildUi } from '../../scripts/build-ui.js';
import { ROOT } from '../cli-harness.js';

/** The browser binary (override with MESHWIRE_CHROMIUM). */
export const CHROMIUM_PATH = process.env.MESHWIRE_CHROMIUM ?? '/usr/bin/chromium';

/** Flags: headless, no sandbox (root in CI), and nothing that talks to Google's services. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Where screenshots go (gitignored). */
export const ARTIFACTS_DIR = path.join(ROOT, 'test-artifacts');

/** Why browser tests cannot run here, or undefined when they can. */
export function noBrowserReason(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium, or set MESHWIRE_CHROMIUM)`;
}

let built: Promise<string> | undefined;

/** Builds the page once per test process into a temporary directory; returns that directory. */
export function builtAssets(): Promise<string> {
  built ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-web-ui-'));
    // Synchronous: nothing asynchronous runs once the process is exiting.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    await buildUi(dir);
    return dir;
  })();
  return built;
}

/** A browser with one page; closed (and its profile removed) after the test. */
export async function openBrowser(
  t: TestContext,
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'meshwire-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    acceptDownloads: true,
    viewport: { width: 1280, height: 860 },
    timeout: 30_000,
  });
  t.after(async () => {
    await context.close().catch(() => undefined);
    await rm(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  page.on('dialog', (d) => {
    errors.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  return { context, page, errors };
}

/** Saves a full-page screenshot as a test artifact; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
