/**
 * `npm run demo`: the original's three-terminal walkthrough in one command. Starts three nodes
 * of the built CLI (`node dist/cli/main.js`, built first if missing or stale) as child
 * processes, forms the mesh, exchanges chat, sends a file from alice and checks that it arrived
 * byte-identical (SHA-256) at bob and charlie, then shuts everything down and removes its
 * temporary directory. Prints each node's events in the CLI's own format. Exits 0 on success,
 * 1 on any failure or after 60 seconds.
 *
 * The nodes listen on port 0 and report the port they got (`--json` system-start event), so the
 * demo never races another program for a "free" port.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CliEvent } from '../src/cli/cli-events.js';
import { renderLine, shouldColor } from '../src/cli/colour.js';
import { describe } from '../src/cli/event-text.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const DEMO_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 20_000;
const color = shouldColor(process.stdout, process.env);
const NAME_COLORS: Record<string, string> = { alice: '35', bob: '33', charlie: '34' };

type JsonEvent = { type: string; time: string } & Record<string, unknown>;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) {
      newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** Builds dist/ when the CLI is missing or older than the sources. */
function ensureBuilt(): void {
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestMtime(path.join(ROOT, 'src'))) return;
  narrate('Building the CLI (npm run build)...');
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error('the build failed');
}

function narrate(text: string): void {
  process.stdout.write(color ? `\n\u001b[1m== ${text}\u001b[0m\n` : `\n== ${text}\n`);
}

/** One CLI node, its events rendered as the CLI would print them, prefixed with its name. */
class DemoNode {
  readonly child: ChildProcessWithoutNullStreams;
  readonly events: JsonEvent[] = [];
  readonly exited: Promise<number | null>;
  #stderr = '';
  readonly #waiters = new Set<{ match: (e: JsonEvent) => boolean; resolve: (e: JsonEvent) => void }>();

  constructor(
    readonly name: string,
    readonly cwd: string,
    args: string[],
  ) {
    this.child = spawn(
      process.execPath,
      [CLI, '--json', '--host', '127.0.0.1', '--name', name, '--bootstrap-retry', '200,400,800', ...args],
      { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, MESHWIRE_NETWORK_KEY: '' } },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdin.on('error', () => undefined);
    this.child.stderr.setEncoding('utf8').on('data', (c: string) => (this.#stderr += c));
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) =>
      this.#onLine(line),
    );
  }

  #onLine(line: string): void {
    let event: JsonEvent;
    try {
      event = JSON.parse(line) as JsonEvent;
    } catch {
      return;
    }
    this.events.push(event);
    this.#print(event);
    for (const w of [...this.#waiters]) {
      if (w.match(event)) {
        this.#waiters.delete(w);
        w.resolve(event);
      }
    }
  }

  #print(event: JsonEvent): void {
    // Progress is drawn as bars in a terminal; the demo shows only start and completion.
    if (event.type === 'send-progress' || event.type === 'file-progress') return;
    if (event.type === 'bytes') return;
    const revived = { ...event, time: Date.parse(event.time) } as unknown as CliEvent;
    const items = describe(revived, { maxPeers: 10, now: Date.now(), cwd: this.cwd });
    const prefix = this.name.padEnd(7);
    const tag = color ? `\u001b[${NAME_COLORS[this.name] ?? '0'}m${prefix}\u001b[0m │ ` : `${prefix} │ `;
    for (const item of items) process.stdout.write(tag + renderLine(item, color) + '\n');
  }

  send(line: string): void {
    const echo = `> ${line}`;
    const prefix = this.name.padEnd(7);
    process.stdout.write(`${prefix} │ ${color ? `\u001b[2m${echo}\u001b[0m` : echo}\n`);
    this.child.stdin.write(line + '\n');
  }

  waitFor(what: string, match: (e: JsonEvent) => boolean, since = 0): Promise<JsonEvent> {
    const seen = this.events.slice(since).find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (e: JsonEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`${this.name}: no ${what} within ${STEP_TIMEOUT_MS} ms\n${this.#stderr}`));
      }, STEP_TIMEOUT_MS);
      this.#waiters.add(waiter);
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}

async function demo(dir: string, nodes: DemoNode[]): Promise<void> {
  narrate('Starting alice, then bob (joins through alice), then charlie (joins through bob)');
  const start = async (name: string, bootstrap?: number): Promise<{ node: DemoNode; port: number }> => {
    const cwd = path.join(dir, name);
    await mkdir(cwd);
    const node = new DemoNode(name, cwd, bootstrap ? ['0', `127.0.0.1:${bootstrap}`] : ['0']);
    nodes.push(node);
    const started = await node.waitFor('system-start', (e) => e.type === 'system-start');
    return { node, port: started.port as number };
  };
  const { node: alice, port: alicePort } = await start('alice');
  const { node: bob, port: bobPort } = await start('bob', alicePort);
  const { node: charlie } = await start('charlie', bobPort);
  await Promise.all(
    [alice, bob, charlie].map((n) =>
      n.waitFor('a full mesh', (e) => e.type === 'peer-connected' && e.peerCount === 2),
    ),
  );

  narrate('The mesh is complete: alice lists her peers');
  let since = alice.events.length;
  alice.send('/peers');
  await alice.waitFor('the peer list', (e) => e.type === 'peers', since);

  narrate('Chat');
  const chatSince = [alice.events.length, charlie.events.length];
  bob.send('network status looks good');
  await Promise.all(
    [alice, charlie].map((n, i) =>
      n.waitFor(
        "bob's message",
        (e) => e.type === 'chat' && e.text === 'network status looks good',
        chatSince[i],
      ),
    ),
  );
  charlie.send('all systems operational');
  await Promise.all(
    [alice, bob].map((n) =>
      n.waitFor("charlie's message", (e) => e.type === 'chat' && e.text === 'all systems operational'),
    ),
  );

  narrate('alice sends a 1.5 MiB file to everyone');
  const source = path.join(alice.cwd, 'document.bin');
  await writeFile(source, randomBytes(1536 * 1024));
  const want = await sha256(source);
  since = alice.events.length;
  const receivedSince = [bob.events.length, charlie.events.length];
  alice.send('/send document.bin');
  const received = await Promise.all(
    [bob, charlie].map((n, i) =>
      // Secure mode: /send offers the file and the peers pull it (download-complete).
      n.waitFor(
        'the file',
        (e) => e.type === 'download-complete' && e.name === 'document.bin',
        receivedSince[i],
      ),
    ),
  );
  await alice.waitFor('the send report', (e) => e.type === 'file-sent', since);

  narrate('Verifying the copies');
  for (const [i, node] of [bob, charlie].entries()) {
    const got = await sha256(received[i]?.path as string);
    if (got !== want) throw new Error(`${node.name}'s copy differs: sha256 ${got}, expected ${want}`);
    process.stdout.write(
      `${node.name.padEnd(7)} │ ${path.relative(node.cwd, received[i]?.path as string)} sha256 ${got.slice(0, 16)}… matches alice's file ✓\n`,
    );
  }

  narrate('Everyone leaves (/quit)');
  for (const node of [charlie, bob, alice]) {
    node.send('/quit');
    const code = await Promise.race([
      node.exited,
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), STEP_TIMEOUT_MS).unref()),
    ]);
    if (code !== 0) throw new Error(`${node.name} exited with ${code}`);
  }
}

async function main(): Promise<number> {
  ensureBuilt();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshwire-demo-'));
  const nodes: DemoNode[] = [];
  const deadline = setTimeout(() => {
    process.stderr.write(`demo: timed out after ${DEMO_TIMEOUT_MS / 1000} s\n`);
    for (const node of nodes) node.kill();
    void rm(dir, { recursive: true, force: true }).finally(() => process.exit(1));
  }, DEMO_TIMEOUT_MS);
  try {
    await demo(dir, nodes);
    narrate('Demo finished: mesh formed, chat delivered, file verified at bob and charlie');
    return 0;
  } catch (err) {
    process.stderr.write(`\ndemo failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    clearTimeout(deadline);
    for (const node of nodes) node.kill();
    await Promise.all(nodes.map((n) => n.exited));
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
