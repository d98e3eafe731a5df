/**
 * The README's library example is examples/quickstart.mjs verbatim, with its real output (the
 * package test runs the file from the packed tarball and checks that output), and the files
 * the README links to exist and are shipped.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { QUICKSTART_OUTPUT } from './helpers/examples.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

describe('README', () => {
  it('shows examples/quickstart.mjs as it is, and what it prints', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const example = await readFile(path.join(ROOT, 'examples', 'quickstart.mjs'), 'utf8');
    const section = readme.slice(readme.indexOf('## Library usage'));
    const code = /```js\n([\s\S]*?)```/.exec(section)?.[1];
    assert.equal(code, example);
    const printed = /It prints:\n\n```\n([\s\S]*?)```/.exec(section)?.[1];
    assert.equal(printed, QUICKSTART_OUTPUT);
  });

  it('starts with Install and a table of contents; its local links resolve and are packed', async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const headings = [...readme.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
    assert.deepEqual(headings.slice(0, 3), ['Contents', 'Install', 'Quickstart']);
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { files: string[] };
    const links = [...readme.matchAll(/\]\(([^)#:]+\.(?:md|mjs|cjs))\)/g)].map((m) => m[1] as string);
    assert.ok(links.length >= 4, `links: ${links.join(', ')}`);
    for (const link of new Set(links)) {
      await readFile(path.join(ROOT, link)); // exists
      const shipped = pkg.files.some((f) => link === f || link.startsWith(`${f}/`));
      assert.ok(shipped, `${link} is in package.json files`);
    }
  });
});
