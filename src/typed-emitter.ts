import { MeshwireError } from './errors.js';

/** Options of {@link TypedEmitter.waitFor}. */
export interface WaitForOptions<T> {
  /** Only an event for which this returns true settles the wait (a throw rejects it). */
  filter?: (payload: T) => boolean;
  /** Rejects with `ERR_ABORTED` (the signal's reason as `cause`) when aborted. */
  signal?: AbortSignal;
  /** Rejects with `ERR_TIMEOUT` after this many milliseconds. @default no timeout */
  timeoutMs?: number;
}

type Listener = ((payload: never) => void) & { listener?: unknown };

/**
 * A minimal typed event emitter. Unlike node:events it gives `'error'` no special meaning, so a
 * misbehaving peer reported as an `'error'` message can never crash a process that has no
 * error listener. Listener exceptions are isolated: one throwing listener does not stop the others.
 *
 * It also answers to the method names node:events' helpers call (`addListener`,
 * `removeListener`), so `events.once(node, type, { signal })` and `events.on(node, type)` work
 * and can be aborted. Beware that those helpers treat an `'error'` event as a failure of what you
 * wait for; {@link TypedEmitter.waitFor} does not, and is typed.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  /**
   * Listeners per type, copy-on-write: `on` and `off` replace a type's array, never change it,
   * so `emit` runs over the array it read without copying it first (a listener added or removed
   * during an emit takes effect from the next one, as with a copy). An emit is then no
   * allocation: it runs for every message a node receives, two per message ('chat', 'message').
   */
  readonly #listeners = new Map<keyof Events, readonly Listener[]>();
  #onListenerError: (err: unknown) => void = (err) =>
    queueMicrotask(() => {
      throw err;
    });

  /** Registers `listener` for `type` (registering the same function twice has no effect). */
  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    const list = this.#listeners.get(type);
    if (list === undefined) this.#listeners.set(type, [listener as Listener]);
    else if (!list.includes(listener as Listener)) this.#listeners.set(type, [...list, listener as Listener]);
    return this;
  }

  /** Alias of {@link TypedEmitter.on}, for code written against node:events. */
  addListener<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    return this.on(type, listener);
  }

  /** Registers `listener` for the next `type` event only; `off(type, listener)` cancels it. */
  once<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    const wrapper: Listener = ((payload: Events[K]): void => {
      this.#remove(type, wrapper);
      listener(payload);
    }) as Listener;
    // Remembered so that off() with the caller's function finds the wrapper.
    wrapper.listener = listener;
    return this.on(type, wrapper as (payload: Events[K]) => void);
  }

  /** Removes `listener` from `type`, whether it was added with `on` or `once`. */
  off<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    const list = this.#listeners.get(type);
    if (list === undefined) return this;
    const entry = list.includes(listener as Listener)
      ? (listener as Listener)
      : list.find((l) => l.listener === listener);
    if (entry !== undefined) this.#remove(type, entry);
    return this;
  }

  /** Alias of {@link TypedEmitter.off}, for code written against node:events. */
  removeListener<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    return this.off(type, listener);
  }

  #remove(type: keyof Events, entry: Listener): void {
    const list = this.#listeners.get(type);
    if (list === undefined || !list.includes(entry)) return;
    if (list.length === 1) this.#listeners.delete(type);
    else
      this.#listeners.set(
        type,
        list.filter((l) => l !== entry),
      );
  }

  /** Number of listeners registered for `type`. */
  listenerCount<K extends keyof Events>(type: K): number {
    return this.#listeners.get(type)?.length ?? 0;
  }

  /**
   * Resolves with the next `type` event that passes `filter`: the typed way to wait for "peer X
   * connected" or "this chat arrived" without hand-written promises. The listener is removed
   * however the wait ends.
   *
   * @example
   * ```ts
   * const { peer } = await node.waitFor('peer-connected', {
   *   filter: (m) => m.peer.id === bobId,
   *   timeoutMs: 5000,
   * });
   * ```
   * @throws MeshwireError `ERR_ABORTED` when `signal` aborts, `ERR_TIMEOUT` after `timeoutMs`,
   * `ERR_INVALID_OPTION` for a bad `timeoutMs`; whatever `filter` throws.
   */
  waitFor<K extends keyof Events>(type: K, options: WaitForOptions<Events[K]> = {}): Promise<Events[K]> {
    const { filter, signal, timeoutMs } = options;
    if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs >= 0)) {
      return Promise.reject(
        new MeshwireError('ERR_INVALID_OPTION', `invalid option timeoutMs: ${String(timeoutMs)}`),
      );
    }
    const what = `waiting for '${String(type)}'`;
    if (signal?.aborted) {
      return Promise.reject(new MeshwireError('ERR_ABORTED', `${what} aborted`, { cause: signal.reason }));
    }
    return new Promise<Events[K]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (): void => {
        this.off(type, listener);
        signal?.removeEventListener('abort', onAbort);
        clearTimeout(timer);
      };
      const listener = (payload: Events[K]): void => {
        let matches: boolean;
        try {
          matches = filter ? filter(payload) : true;
        } catch (err) {
          finish();
          reject(err);
          return;
        }
        if (!matches) return;
        finish();
        resolve(payload);
      };
      const onAbort = (): void => {
        finish();
        reject(new MeshwireError('ERR_ABORTED', `${what} aborted`, { cause: signal?.reason }));
      };
      this.on(type, listener);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          finish();
          reject(new MeshwireError('ERR_TIMEOUT', `${what} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  /** Sets where exceptions thrown by listeners go (default: rethrown asynchronously). */
  protected setListenerErrorHandler(handler: (err: unknown) => void): void {
    this.#onListenerError = handler;
  }

  protected emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const list = this.#listeners.get(type);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) {
      const listener = list[i]!;
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}
