/**
 * Child-process peers for the fault tests: runs a script of this directory under tsx in its own
 * Node process (so it can be SIGKILLed or SIGSTOPped like a real peer), and reads the JSON lines
 * it prints on stdout. Every wait is bounded; the kill is registered with the test context when
 * the child is spawned, so a failing assertion leaves no process behind.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EventLog } from '../helpers/wait.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Absolute loader URL, so the child resolves tsx whatever its working directory. */
const TSX = import.meta.resolve('tsx');

/** One line the child printed: `{ "event": ..., ... }`. */
export type ChildEvent = { event: string } & Record<string, unknown>;

/** A running child script. */
export class ChildPeer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly label: string;
  readonly #log = new EventLog<ChildEvent>();
  /** Every event printed so far, in order. */
  readonly events: ChildEvent[] = this.#log.all;
  readonly #listeners = new Set<(e: ChildEvent) => void>();
  #stderr = '';
  #stopped = false;
  /** Resolves with the exit code or signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(child: ChildProcessWithoutNullStreams, label: string) {
    this.child = child;
    this.label = label;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      // Bounded: only the tail is kept, for error messages.
      this.#stderr = (this.#stderr + text).slice(-4000);
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let event: ChildEvent;
      try {
        event = JSON.parse(line) as ChildEvent;
      } catch {
        return;
      }
      this.#log.push(event);
      for (const listener of this.#listeners) listener(event);
    });
  }

  /** Spawns `test/support-faults/<script>` with `args`; SIGKILLed after the test. */
  static spawn(t: TestContext, script: string, args: string[], label = script): ChildPeer {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Otherwise the child believes it is a node:test worker and reports to the parent's runner.
    delete env.NODE_TEST_CONTEXT;
    const child = spawn(process.execPath, ['--import', TSX, path.join(HERE, script), ...args], {
      env,
      stdio: 'pipe',
    });
    const peer = new ChildPeer(child, label);
    t.after(() => peer.kill());
    return peer;
  }

  /** Calls `listener` for every later event. */
  onEvent(listener: (e: ChildEvent) => void): void {
    this.#listeners.add(listener);
  }

  /** Resolves with the first event (already printed or later) of `type` matching `match`. */
  waitFor(
    type: string,
    match: (e: ChildEvent) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<ChildEvent> {
    const stderr = (): string => this.#stderr.trim() || '(empty)';
    return this.#log.waitFor((e) => e.event === type && match(e), {
      timeoutMs,
      timeoutError: () =>
        new Error(
          `${this.label}: timed out after ${timeoutMs} ms waiting for '${type}'; stderr: ${stderr()}`,
        ),
      giveUp: this.exited.then(
        ({ code, signal }) =>
          new Error(
            `${this.label} exited (${signal ?? code}) while waiting for '${type}'; stderr: ${stderr()}`,
          ),
      ),
    });
  }

  /** Freezes the process (it reads nothing, sends nothing) until {@link resume}. */
  stop(): void {
    this.#stopped = true;
    this.child.kill('SIGSTOP');
  }

  resume(): void {
    this.#stopped = false;
    this.child.kill('SIGCONT');
  }

  /** SIGKILL (a stopped process is continued first, so the kill cannot be held up). */
  kill(): Promise<unknown> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGKILL');
      if (this.#stopped) this.child.kill('SIGCONT');
    }
    return this.exited;
  }
}
