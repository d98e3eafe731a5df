/**
 * The dashboard's and metrics listener's HTTP rules over real loopback sockets (no browser):
 * token on every data request and on the live channel, `Host` and `Origin` checks, CSP and no
 * inline script, bounded uploads, option validation, and the warning for a non-loopback bind.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, it, type TestContext } from 'node:test';
import { MeshwireError } from '../src/errors.js';
import { startDashboard, startMetricsServer, type Dashboard } from '../src/web/index.js';
import { startNode } from './helpers/nodes.js';
import { builtAssets } from './support-web/browser.js';
import { parsePrometheus, sample } from './support-web/prometheus.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One raw request (node's fetch would not let us forge `Host`); reads at most `maxBytes`. */
function request(
  port: number,
  path: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    maxBytes?: number;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...options.headers };
    // An empty `host` means: send no Host header at all.
    const setHost = headers.host !== '';
    if (!setHost) delete headers.host;
    const req = http.request(
      { host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers, setHost },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
          // A live stream never ends: stop once its first event is in.
          if (options.maxBytes !== undefined && body.length >= options.maxBytes) {
            res.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(5_000, () => req.destroy(new Error(`timeout on ${path}`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

async function dashboard(
  t: TestContext,
  options: Parameters<typeof startDashboard>[1] = {},
): Promise<Dashboard> {
  const node = await startNode(t, { name: 'hub' });
  const dash = await startDashboard(node, { assetsDir: await builtAssets(), ...options });
  t.after(() => dash.close());
  return dash;
}

async function rejectsCode(promise: Promise<unknown>, code: string, mention?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.equal((err as MeshwireError).code, code);
    if (mention) assert.match((err as Error).message, mention);
    return true;
  });
}

describe('dashboard HTTP security', { timeout: 30_000 }, () => {
  it('serves the page without the token, under a strict CSP and with no inline script', async (t) => {
    const dash = await dashboard(t);
    assert.match(dash.url, new RegExp(`^http://127\\.0\\.0\\.1:${dash.port}/#token=[A-Za-z0-9_-]{43}$`));
    const page = await request(dash.port, '/');
    assert.equal(page.status, 200);
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(page.headers['x-content-type-options'], 'nosniff');
    assert.equal(page.headers['referrer-policy'], 'no-referrer');
    for (const tag of page.body.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\ssrc="\/app\.js"/);
    assert.doesNotMatch(page.body, /\sstyle=|\son[a-z]+=/i);
    assert.equal((await request(dash.port, '/app.js')).status, 200);
    assert.equal((await request(dash.port, '/../package.json')).status, 404);
    assert.equal((await request(dash.port, '/nope')).status, 404);
  });

  it('answers every data request and the live channel without a valid token with 401 and nothing else', async (t) => {
    const dash = await dashboard(t);
    const wrong = { authorization: `Bearer ${'A'.repeat(dash.token.length)}` };
    const probes: [string, string][] = [
      ['GET', '/api/state'],
      ['GET', '/api/live'],
      ['GET', '/metrics'],
      ['POST', '/api/chat'],
      ['POST', '/api/files?name=x'],
      ['GET', '/api/files/t1'],
      ['GET', '/api/anything'],
    ];
    for (const [method, path] of probes) {
      for (const headers of [{}, wrong, { authorization: dash.token }]) {
        const reply = await request(dash.port, path, {
          method,
          headers,
          body: method === 'POST' ? '{"text":"x"}' : undefined,
        });
        assert.equal(reply.status, 401, `${method} ${path}`);
        assert.equal(reply.body, '', `${method} ${path} leaks a body`);
      }
    }
    // ?token= is for scrapers on /metrics only; the API wants the header.
    assert.equal((await request(dash.port, `/api/state?token=${dash.token}`)).status, 401);
    const metrics = await request(dash.port, `/metrics?token=${dash.token}`);
    assert.equal(metrics.status, 200);
    assert.equal(sample(parsePrometheus(metrics.body), 'meshwire_peers'), 0);

    const auth = { authorization: `Bearer ${dash.token}` };
    const state = await request(dash.port, '/api/state', { headers: auth });
    assert.equal(state.status, 200);
    const snapshot = JSON.parse(state.body) as { kind: string; facts: Record<string, unknown> };
    assert.equal(snapshot.kind, 'snapshot');
    assert.equal(snapshot.facts.networkKeySet, false);
    const live = await request(dash.port, '/api/live', { headers: auth, maxBytes: 20 });
    assert.equal(live.status, 200);
    assert.match(String(live.headers['content-type']), /^text\/event-stream/);
    assert.match(live.body, /^data: \{"kind":"snapshot"/);
  });

  it('refuses a forged Host (DNS rebinding) and a foreign Origin, even with the token', async (t) => {
    const dash = await dashboard(t);
    const auth = { authorization: `Bearer ${dash.token}` };
    for (const host of ['evil.example', `evil.example:${dash.port}`, `127.0.0.1:${dash.port + 1}`, '']) {
      for (const path of ['/', '/api/state', '/metrics']) {
        const reply = await request(dash.port, path, { headers: { ...auth, host } });
        // Node's HTTP parser answers a request with no Host at all with 400 before we see it.
        assert.equal(reply.status, host === '' ? 400 : 403, `Host ${JSON.stringify(host)} on ${path}`);
        assert.equal(reply.body, '');
      }
    }
    assert.equal(
      (await request(dash.port, '/', { headers: { host: `localhost:${dash.port}` } })).status,
      200,
    );
    const origin = (o: string) => request(dash.port, '/api/state', { headers: { ...auth, origin: o } });
    assert.equal((await origin('http://evil.example')).status, 403);
    assert.equal((await origin('null')).status, 403);
    assert.equal((await origin(`http://127.0.0.1:${dash.port + 1}`)).status, 403);
    assert.equal((await origin(`http://127.0.0.1:${dash.port}`)).status, 200);
  });

  it('works for a compat-mode node too, and never reveals a network key', async (t) => {
    const compat = await startNode(t, { name: 'old', mode: 'compat' });
    const keyed = await startNode(t, { name: 'keyed', networkKey: 'correct horse battery staple' });
    for (const [node, mode, keySet] of [
      [compat, 'compat', false],
      [keyed, 'secure', true],
    ] as const) {
      const dash = await startDashboard(node, { assetsDir: await builtAssets() });
      t.after(() => dash.close());
      const state = await request(dash.port, '/api/state', {
        headers: { authorization: `Bearer ${dash.token}` },
      });
      assert.equal(state.status, 200);
      const facts = (JSON.parse(state.body) as { facts: Record<string, unknown> }).facts;
      assert.equal(facts.mode, mode);
      assert.equal(facts.networkKeySet, keySet);
      assert.doesNotMatch(state.body, /horse/);
    }
  });

  it('bounds uploads and refuses file names that are not plain names', async (t) => {
    const dash = await dashboard(t, { maxUploadBytes: 10 });
    const auth = { authorization: `Bearer ${dash.token}` };
    const big = await request(dash.port, '/api/files?name=a.bin', {
      method: 'POST',
      headers: auth,
      body: Buffer.alloc(11),
    });
    assert.equal(big.status, 413);
    assert.equal(JSON.parse(big.body).error, 'ERR_FILE_TOO_LARGE');
    const evil = await request(dash.port, `/api/files?name=${encodeURIComponent('../x')}`, {
      method: 'POST',
      headers: auth,
      body: 'x',
    });
    assert.equal(evil.status, 400);
    assert.equal(JSON.parse(evil.body).error, 'ERR_FILE_NAME');
    const chat = await request(dash.port, '/api/chat', { method: 'POST', headers: auth, body: 'not json' });
    assert.equal(chat.status, 400);
    const unknown = await request(dash.port, '/api/chat', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ text: 'x', to: 'f'.repeat(32) }),
    });
    assert.equal(JSON.parse(unknown.body).error, 'ERR_UNKNOWN_PEER');
  });

  it('validates its options and warns before binding anything but loopback', async (t) => {
    const node = await startNode(t);
    const assetsDir = await builtAssets();
    await rejectsCode(startDashboard(node, { assetsDir, port: -1 }), 'ERR_INVALID_OPTION', /port/);
    await rejectsCode(startDashboard(node, { assetsDir, port: 1.5 }), 'ERR_INVALID_OPTION', /port/);
    await rejectsCode(startDashboard(node, { assetsDir, host: '' }), 'ERR_INVALID_OPTION', /host/);
    await rejectsCode(startDashboard(node, { assetsDir, token: 'short' }), 'ERR_INVALID_OPTION', /token/);
    await rejectsCode(
      startDashboard(node, { assetsDir, token: 'has spaces and = signs!' }),
      'ERR_INVALID_OPTION',
      /token/,
    );
    await rejectsCode(
      startDashboard(node, { assetsDir, maxUploadBytes: -1 }),
      'ERR_INVALID_OPTION',
      /maxUploadBytes/,
    );
    await rejectsCode(startDashboard(node, { assetsDir: '/nonexistent' }), 'ERR_INVALID_OPTION', /assetsDir/);
    await rejectsCode(startMetricsServer(node, { port: 70000 }), 'ERR_INVALID_OPTION', /port/);
    // 192.0.2.1 (TEST-NET-1) is not on this machine: the bind fails after the warning, so nothing
    // is ever reachable from outside.
    const warnings: string[] = [];
    await assert.rejects(
      startDashboard(node, { assetsDir, host: '192.0.2.1', onWarning: (w) => warnings.push(w) }),
    );
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /192\.0\.2\.1.*other machines/);
    const quiet: string[] = [];
    const dash = await startDashboard(node, { assetsDir, onWarning: (w) => quiet.push(w) });
    await dash.close();
    assert.deepEqual(quiet, []);
  });
});

describe('metrics listener', { timeout: 30_000 }, () => {
  it('serves /metrics only, checks Host, and the token when one is set', async (t) => {
    const node = await startNode(t);
    const open = await startMetricsServer(node);
    t.after(() => open.close());
    assert.equal(open.url, `http://127.0.0.1:${open.port}/metrics`);
    const reply = await request(open.port, '/metrics');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.ok(parsePrometheus(reply.body).length > 10);
    assert.equal((await request(open.port, '/')).status, 404);
    assert.equal((await request(open.port, '/api/state')).status, 404);
    assert.equal((await request(open.port, '/metrics', { headers: { host: 'evil.example' } })).status, 403);

    const token = 'a-scrape-token-0123456789';
    const locked = await startMetricsServer(node, { token });
    t.after(() => locked.close());
    assert.equal((await request(locked.port, '/metrics')).status, 401);
    assert.equal((await request(locked.port, `/metrics?token=${token}`)).status, 200);
    assert.equal(
      (await request(locked.port, '/metrics', { headers: { authorization: `Bearer ${token}` } })).status,
      200,
    );
  });
});
