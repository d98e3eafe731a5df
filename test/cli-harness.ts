/**
 * Drives the real `meshwire` CLI (src/cli/main.ts through tsx, no build needed) as child
 * processes over stdin / stdout, using its `--json` output to wait for events. Never sleeps:
 * every wait is for a line, bounded by a timeout that reports what the process printed.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventLog } from './helpers/wait.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI_ENTRY = path.join(ROOT, 'src', 'cli', 'main.ts');
/** Absolute loader URL, so children can run in any working directory. */
const TSX = import.meta.resolve('tsx');

/** A parsed `--json` line. */
export type JsonEvent = { type: string; time: string } & Record<string, unknown>;

/** Something to clean up after a test (t.after, or after() for a shared fixture). */
export type Cleanup = (fn: () => unknown) => void;

export interface SpawnOptions {
  cwd: string;
  env?: Record<string, string | undefined>;
  /** Registers the child's kill. */
  cleanup: Cleanup;
  /** Short name for error messages. */
  label?: string;
  /** A command to run the CLI under, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  wrap?: readonly string[];
}

/** Node's argv to run the CLI from source. */
export function cliArgv(args: readonly string[]): string[] {
  return ['--import', TSX, CLI_ENTRY, ...args];
}

function childEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  delete env.MESHWIRE_NETWORK_KEY;
  delete env.NODE_TEST_CONTEXT;
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** One running CLI child. */
export class Cli {
  readonly child: ChildProcessWithoutNullStreams;
  readonly label: string;
  readonly cwd: string;
  readonly #lineLog = new EventLog<string>();
  readonly #eventLog = new EventLog<JsonEvent>();
  /** Every stdout line. */
  readonly lines: string[] = this.#lineLog.all;
  /** Every stdout line that parsed as JSON. */
  readonly events: JsonEvent[] = this.#eventLog.all;
  stderr = '';
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: readonly string[], options: SpawnOptions) {
    this.label = options.label ?? args.join(' ');
    this.cwd = options.cwd;
    const [command, ...prefix] = [...(options.wrap ?? []), process.execPath];
    this.child = spawn(command as string, [...prefix, ...cliArgv(args)], {
      cwd: options.cwd,
      env: childEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk: string) => (this.stderr += chunk));
    // A child that exits first must not turn later writes into an unhandled EPIPE.
    this.child.stdin.on('error', () => undefined);
    createInterface({ input: this.child.stdout, crlfDelay: Infinity }).on('line', (line) =>
      this.#onLine(line),
    );
    options.cleanup(async () => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
      await this.exited;
    });
  }

  #onLine(line: string): void {
    this.#lineLog.push(line);
    if (!line.startsWith('{')) return;
    let event: JsonEvent;
    try {
      event = JSON.parse(line) as JsonEvent;
    } catch {
      return;
    }
    this.#eventLog.push(event);
  }

  /** Writes one input line. */
  send(line: string): void {
    this.child.stdin.write(line + '\n');
  }

  /** Current position in the event list, for waiting on events after it. */
  mark(): number {
    return this.events.length;
  }

  #timeoutError(what: string, timeoutMs: number): Error {
    return new Error(
      `${this.label}: timed out after ${timeoutMs} ms waiting for ${what}\n` +
        `--- stdout (last 30 lines) ---\n${this.lines.slice(-30).join('\n')}\n--- stderr ---\n${this.stderr}`,
    );
  }

  /** Waits for an event matching `match` (among those after `since`, default all so far). */
  waitFor(
    match: (event: JsonEvent) => boolean,
    options: { since?: number; timeoutMs?: number; what?: string } = {},
  ): Promise<JsonEvent> {
    const { since = 0, timeoutMs = 20_000, what = 'an event' } = options;
    return this.#eventLog.waitFor(match, {
      since,
      timeoutMs,
      timeoutError: () => this.#timeoutError(what, timeoutMs),
      // Fail fast when the process dies before the event arrives.
      giveUp: this.exited.then(({ code, signal }) =>
        this.#timeoutError(`${what} (process exited: code ${code}, signal ${signal})`, 0),
      ),
    });
  }

  /** Waits for an event of `type` whose fields satisfy `match`. */
  waitForType(
    type: string,
    match: (event: JsonEvent) => boolean = () => true,
    options: { since?: number; timeoutMs?: number } = {},
  ): Promise<JsonEvent> {
    return this.waitFor((e) => e.type === type && match(e), { ...options, what: `a ${type} event` });
  }

  /** Waits for a stdout line (text mode) matching `re`. */
  waitForLine(re: RegExp, timeoutMs = 20_000): Promise<string> {
    return this.#lineLog.waitFor((line) => re.test(line), {
      timeoutMs,
      timeoutError: () => this.#timeoutError(`a line matching ${re}`, timeoutMs),
    });
  }

  /** The port from the system-start event. */
  async port(): Promise<number> {
    const start = await this.waitForType('system-start');
    return start.port as number;
  }

  /** Resolves with the exit code, failing after `timeoutMs`. */
  async exitCode(timeoutMs = 20_000): Promise<number | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.#timeoutError('the process to exit', timeoutMs)), timeoutMs);
    });
    try {
      const { code } = await Promise.race([this.exited, timeout]);
      return code;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A temporary directory, removed by `cleanup`. */
export async function tempDir(cleanup: Cleanup, prefix = 'meshwire-cli-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanup(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Flags that keep a test node quick: loopback only, fast bootstrap retries. */
export const FAST = ['--json', '--host', '127.0.0.1', '--bootstrap-retry', '100,200,400,800'];

/**
 * Starts nodes named `names` (each in its own directory under `dir`, with its own downloads
 * folder), each bootstrapping through the previous one, and waits until all are connected to
 * all. The first one listens on port 0; the others on port 0 as well.
 */
export async function startMesh(
  names: readonly string[],
  dir: string,
  cleanup: Cleanup,
  extraArgs: (name: string) => string[] = () => [],
): Promise<Cli[]> {
  const nodes: Cli[] = [];
  let previousPort: number | undefined;
  for (const name of names) {
    const cwd = path.join(dir, name);
    await mkdir(cwd, { recursive: true });
    const args = [...FAST, '--name', name, ...extraArgs(name), '0'];
    if (previousPort !== undefined) args.push(`127.0.0.1:${previousPort}`);
    const node = new Cli(args, { cwd, cleanup, label: name });
    previousPort = await node.port();
    nodes.push(node);
  }
  const want = names.length - 1;
  await Promise.all(
    nodes.map((node) =>
      node.waitFor((e) => e.type === 'peer-connected' && e.peerCount === want, {
        what: `${want} connected peers`,
      }),
    ),
  );
  return nodes;
}

/** Hex SHA-256 of a file's content. */
export async function sha256File(file: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
}
