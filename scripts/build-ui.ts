/**
 * Builds the dashboard page (web/) into dist/web-ui: one minified ES module bundled by esbuild,
 * the HTML and the CSS copied. Fails when the gzipped total exceeds the 100 KB budget.
 * Run by `npm run build`; tests call {@link buildUi} into a temporary directory.
 */
import { build } from 'esbuild';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Where `npm run build` puts the page. */
export const DEFAULT_UI_OUT_DIR = path.join(ROOT, 'dist', 'web-ui');
/** Budget for all assets together, gzipped. */
export const MAX_GZIPPED_BYTES = 100 * 1024;

/** Builds the page into `outDir`; returns the raw and gzipped sizes of everything written. */
export async function buildUi(outDir = DEFAULT_UI_OUT_DIR): Promise<{ bytes: number; gzipped: number }> {
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: [path.join(ROOT, 'web', 'src', 'main.ts')],
    outfile: path.join(outDir, 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    legalComments: 'none',
    logLevel: 'warning',
  });
  await copyFile(path.join(ROOT, 'web', 'index.html'), path.join(outDir, 'index.html'));
  for (const name of ['app.css', 'favicon.svg'])
    await copyFile(path.join(ROOT, 'web', name), path.join(outDir, name));
  let bytes = 0;
  let gzipped = 0;
  for (const name of await readdir(outDir)) {
    const body = await readFile(path.join(outDir, name));
    bytes += body.length;
    gzipped += gzipSync(body, { level: 9 }).length;
  }
  if (gzipped > MAX_GZIPPED_BYTES)
    throw new Error(`dashboard assets are ${gzipped} bytes gzipped, over the budget`);
  return { bytes, gzipped };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { bytes, gzipped } = await buildUi(process.argv[2] ?? DEFAULT_UI_OUT_DIR);
  console.log(`dashboard: ${bytes} bytes, ${gzipped} gzipped`);
}
