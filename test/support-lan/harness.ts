/**
 * Drives test/support-lan/lan-node.ts processes inside namespace hosts: start them, wait for
 * their events with a deadline, send commands.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NetnsHost } from '../helpers/netns.js';

const SCRIPT = fileURLToPath(new URL('./lan-node.ts', import.meta.url));
const RAW = fileURLToPath(new URL('./raw-mdns.ts', import.meta.url));

const EMPTY: ReadonlySet<string> = new Set();

/** One event line of lan-node.ts. */
export interface LanEvent {
  ev: string;
  i?: number;
  id?: string;
  address?: string;
  reason?: string;
  ids?: string[];
  hex?: string;
  ms?: number;
  from?: string;
  counters?: Record<string, unknown>[];
  peers?: { id: string; addresses: string[]; issuedAt: number; expiresAt: number }[][];
  at: number;
}

/** A lan-node.ts process in a host. */
export class LanProcess {
  readonly host: NetnsHost;
  readonly child: ChildProcess;
  readonly events: LanEvent[] = [];
  ids: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #known = new Map<number, Set<string>>();
  stderr = '';

  /** `config` for lan-node.ts, or `'raw'` for a raw mDNS peer (raw-mdns.ts). */
  constructor(host: NetnsHost, config: object | 'raw') {
    this.host = host;
    const args = config === 'raw' ? [RAW, host.ip] : [SCRIPT, JSON.stringify(config)];
    this.child = host.spawn(process.execPath, ['--import', 'tsx', ...args]);
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let event: LanEvent;
      try {
        event = { ...(JSON.parse(line) as LanEvent), at: performance.now() };
      } catch {
        return;
      }
      if (event.ev === 'ready' || event.ev === 'created') this.ids = event.ids ?? [];
      if ((event.ev === 'candidate' || event.ev === 'gone') && event.i !== undefined && event.id) {
        let set = this.#known.get(event.i);
        if (!set) this.#known.set(event.i, (set = new Set()));
        if (event.ev === 'candidate') set.add(event.id);
        else set.delete(event.id);
      }
      this.events.push(event);
      for (const w of this.#waiters) w();
    });
    this.child.once('exit', () => {
      for (const w of this.#waiters) w();
    });
  }

  /** Resolves with the first event (past or future) matching `match`, or rejects after `timeoutMs`. */
  waitFor(match: (e: LanEvent) => boolean, timeoutMs: number, what: string): Promise<LanEvent> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.events.find(match);
        if (hit) {
          cleanup();
          resolve(hit);
          return true;
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          cleanup();
          reject(
            new Error(
              `${this.host.ns}: process exited while waiting for ${what}: ${this.stderr.slice(-2000)}`,
            ),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${this.host.ns}: timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
      };
      const waiter = () => void check();
      this.#waiters.add(waiter);
      check();
    });
  }

  /**
   * Peer IDs instance `i` currently knows (candidates minus gone), kept up to date as events
   * arrive: waiting on 50 instances re-checks this after every event, so it must be cheap.
   */
  known(i = 0): ReadonlySet<string> {
    return this.#known.get(i) ?? EMPTY;
  }

  /** Calls `fn` after every event; returns the unsubscribe function. */
  subscribe(fn: () => void): () => void {
    this.#waiters.add(fn);
    return () => this.#waiters.delete(fn);
  }

  send(line: string): void {
    this.child.stdin!.write(line + '\n');
  }

  async peers(): Promise<NonNullable<LanEvent['peers']>> {
    const before = this.events.length;
    this.send('peers');
    const e = await this.waitFor((x) => x.ev === 'peers' && this.events.indexOf(x) >= before, 5_000, 'peers');
    return e.peers!;
  }

  /** CPU time (ms) the process used since `start` (deferred-start processes). */
  async cpu(): Promise<number> {
    const before = this.events.length;
    this.send('cpu');
    const e = await this.waitFor((x) => x.ev === 'cpu' && this.events.indexOf(x) >= before, 5_000, 'cpu');
    return e.ms!;
  }

  async counters(): Promise<Record<string, unknown>[]> {
    const before = this.events.length;
    this.send('counters');
    const e = await this.waitFor(
      (x) => x.ev === 'counters' && this.events.indexOf(x) >= before,
      5_000,
      'counters',
    );
    return e.counters!;
  }
}

/**
 * Asks `proc` for its counters or peers every `everyMs` until `check` holds (bounded): for state
 * that changes without an event, like a refreshed record.
 */
export async function pollUntil<T>(
  ask: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await ask();
    if (check(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Waits until `check` is true, re-checking on every event of any of `procs`. */
export function waitUntil(
  procs: LanProcess[],
  check: () => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const unsubscribe: (() => void)[] = [];
    const done = (err?: Error) => {
      clearTimeout(timer);
      for (const u of unsubscribe) u();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(
      () => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
    const listener = () => {
      if (check()) done();
    };
    for (const p of procs) unsubscribe.push(p.subscribe(listener));
    listener();
  });
}
