/**
 * A minimal typed event emitter. Unlike node:events it gives `'error'` no special meaning, so a
 * misbehaving peer reported as an `'error'` message can never crash a process that has no
 * error listener. Listener exceptions are isolated: one throwing listener does not stop the others.
 */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown }> {
  readonly #listeners = new Map<keyof Events, Set<(payload: never) => void>>();
  #onListenerError: (err: unknown) => void = (err) =>
    queueMicrotask(() => {
      throw err;
    });

  /** Registers `listener` for `type`. */
  on<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (payload: never) => void);
    return this;
  }

  /** Registers `listener` for the next `type` event only. */
  once<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    const wrapper = (payload: Events[K]): void => {
      this.off(type, wrapper);
      listener(payload);
    };
    return this.on(type, wrapper);
  }

  /** Removes `listener` from `type`. */
  off<K extends keyof Events>(type: K, listener: (payload: Events[K]) => void): this {
    this.#listeners.get(type)?.delete(listener as (payload: never) => void);
    return this;
  }

  /** Number of listeners registered for `type`. */
  listenerCount<K extends keyof Events>(type: K): number {
    return this.#listeners.get(type)?.size ?? 0;
  }

  /** Sets where exceptions thrown by listeners go (default: rethrown asynchronously). */
  protected setListenerErrorHandler(handler: (err: unknown) => void): void {
    this.#onListenerError = handler;
  }

  protected emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        (listener as (payload: Events[K]) => void)(payload);
      } catch (err) {
        this.#onListenerError(err);
      }
    }
  }
}
