/**
 * Parent side of the benchmark processes: every sender and receiver runs in its own child
 * (`fork` with `--import tsx`), driven by request / response messages over the IPC channel.
 *
 * Every child has a lifetime after which it is killed, every call has a timeout, and children
 * still alive when the parent exits (normally, on an error or on Ctrl-C) are killed.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Reply, Request } from './serve.js';

/** Options of {@link Child.spawn}. */
export interface SpawnOptions {
  /** Label used in error messages and logs. */
  name: string;
  /** The child is killed (and every pending call rejected) after this long. */
  lifetimeMs: number;
  /** Extra `node` flags (e.g. `--expose-gc`, `--cpu-prof`). */
  execArgv?: string[];
}

const live = new Set<Child>();
let exitHooked = false;

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill();
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill();
      process.exit(130);
    });
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  cmd: string;
}

/** A benchmark child process. */
export class Child {
  readonly name: string;
  readonly #proc: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #lifetime: NodeJS.Timeout;
  readonly #ready: Promise<void>;
  readonly #exited: Promise<void>;
  #nextId = 1;
  #failure: Error | undefined;

  private constructor(script: string, options: SpawnOptions) {
    hookExit();
    this.name = options.name;
    this.#proc = fork(script, [], {
      execArgv: ['--import', 'tsx', ...(options.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    live.add(this);
    let onReady: () => void = () => undefined;
    let onReadyFail: (err: Error) => void = () => undefined;
    this.#ready = new Promise<void>((resolve, reject) => {
      onReady = resolve;
      onReadyFail = reject;
    });
    this.#ready.catch(() => undefined);
    this.#exited = new Promise<void>((resolve) => {
      this.#proc.once('exit', (code, signal) => {
        live.delete(this);
        clearTimeout(this.#lifetime);
        const error =
          this.#failure ?? new Error(`${this.name} exited (code ${code}, signal ${signal ?? 'none'})`);
        this.#failure = error;
        onReadyFail(error);
        for (const [id, pending] of this.#pending) {
          clearTimeout(pending.timer);
          pending.reject(new Error(`${this.name}: ${pending.cmd} failed: ${error.message}`));
          this.#pending.delete(id);
        }
        resolve();
      });
    });
    this.#proc.on('message', (message: Reply) => {
      if ('ready' in message) {
        onReady();
        return;
      }
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      clearTimeout(pending.timer);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new Error(`${this.name}: ${pending.cmd} failed: ${message.error}`));
    });
    this.#lifetime = setTimeout(
      () => this.kill(new Error(`${this.name} killed: still running after ${options.lifetimeMs} ms`)),
      options.lifetimeMs,
    );
    this.#lifetime.unref();
  }

  /** Starts `worker` (a file under bench/workers, without extension) and waits until it serves. */
  static async spawn(worker: string, options: SpawnOptions): Promise<Child> {
    const script = fileURLToPath(new URL(`../workers/${worker}.ts`, import.meta.url));
    const child = new Child(script, options);
    const timer = setTimeout(
      () => child.kill(new Error(`${options.name} did not start within 30 s`)),
      30_000,
    );
    try {
      await child.#ready;
    } finally {
      clearTimeout(timer);
    }
    return child;
  }

  /** Sends a command and resolves with its result; rejects on failure, timeout or child exit. */
  call<T>(cmd: string, args: object = {}, timeoutMs = 120_000): Promise<T> {
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        const error = new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`);
        reject(error);
        this.kill(error);
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer, cmd });
      const request: Request = { id, cmd, args };
      this.#proc.send(request, (err) => {
        if (err) this.kill(err);
      });
    });
  }

  /** Asks the child to exit; kills it if it has not within `graceMs`. */
  async close(graceMs = 5000): Promise<void> {
    if (this.#proc.exitCode !== null || this.#proc.signalCode !== null) return;
    if (!this.#failure) {
      this.#failure = new Error(`${this.name} closed`);
      // With a callback, a send to a child that is already dying (killed a moment ago, not yet
      // reaped) reports EPIPE there instead of as an 'error' event; the exit below settles it.
      this.#proc.send({ id: 0, cmd: 'exit', args: {} } satisfies Request, () => undefined);
    }
    const timer = setTimeout(() => this.kill(), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Kills the child at once (SIGKILL). */
  kill(reason?: Error): void {
    if (reason && !this.#failure) this.#failure = reason;
    if (this.#proc.exitCode === null && this.#proc.signalCode === null) this.#proc.kill('SIGKILL');
  }
}

/** Spawns several children, and closes them all however `body` ends. */
export async function withChildren<T>(
  specs: { worker: string; options: SpawnOptions }[],
  body: (children: Child[]) => Promise<T>,
): Promise<T> {
  const children: Child[] = [];
  try {
    for (const spec of specs) children.push(await Child.spawn(spec.worker, spec.options));
    return await body(children);
  } finally {
    await Promise.all(children.map((c) => c.close()));
  }
}
