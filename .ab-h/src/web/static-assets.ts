/**
 * The page and its assets, read once from the build output (`npm run build` writes them to
 * dist/web-ui). Only the files found there are served, from memory, by exact name.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshwireError } from '../errors.js';
import { securityHeaders } from './http-guard.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Largest asset loaded, in bytes (the whole bundle is far smaller). */
const MAX_ASSET_BYTES = 2 * 1024 * 1024;

/**
 * Where the built page is: dist/web-ui next to the compiled `web/` folder, or, when running from
 * source through tsx, the repository's dist/web-ui.
 */
export function defaultAssetsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.join(here, '..', 'web-ui'), path.join(here, '..', '..', 'dist', 'web-ui')];
  return candidates.find((c) => existsSync(path.join(c, 'index.html'))) ?? candidates[0]!;
}

/** One asset in memory. */
interface Asset {
  body: Buffer;
  type: string;
}

/** The loaded assets, by URL path. */
export class StaticAssets {
  readonly #assets = new Map<string, Asset>();

  private constructor() {}

  /** Loads every asset of `dir`; throws `ERR_INVALID_OPTION` when the page is not built there. */
  static async load(dir: string): Promise<StaticAssets> {
    const out = new StaticAssets();
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      throw new MeshwireError('ERR_INVALID_OPTION', `assetsDir ${dir} cannot be read (run npm run build)`, {
        cause: err,
      });
    }
    for (const name of names) {
      const type = TYPES[path.extname(name)];
      if (!type) continue;
      const body = await readFile(path.join(dir, name));
      if (body.length > MAX_ASSET_BYTES) continue;
      out.#assets.set(`/${name}`, { body, type });
    }
    const index = out.#assets.get('/index.html');
    if (!index)
      throw new MeshwireError('ERR_INVALID_OPTION', `assetsDir ${dir} has no index.html (run npm run build)`);
    out.#assets.set('/', index);
    return out;
  }

  /** Serves `pathname` if it is an asset; returns false otherwise. */
  serve(pathname: string, res: ServerResponse, head: boolean): boolean {
    const asset = this.#assets.get(pathname);
    if (!asset) return false;
    res.writeHead(200, {
      ...securityHeaders(),
      'content-type': asset.type,
      'content-length': String(asset.body.length),
      'cache-control': 'no-cache',
    });
    res.end(head ? undefined : asset.body);
    return true;
  }
}
