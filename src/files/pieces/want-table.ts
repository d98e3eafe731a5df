/**
 * Pending "want" questions of `fetchFile`: who waits for an offer of which root. Resolved by the
 * first verified offer or have for that root, bounded by a timeout and an abort signal.
 */
import { MeshwireError } from '../../errors.js';
import type { FileOffer } from './offer.js';

export class WantTable {
  readonly #waiting = new Map<string, Set<(offer: FileOffer) => void>>();

  /** A verified offer for `offer.rootHex` arrived: every waiter for it gets it. */
  offered(offer: FileOffer): void {
    for (const resolve of [...(this.#waiting.get(offer.rootHex) ?? [])]) resolve(offer);
  }

  /**
   * Resolves with the first offer of `rootHex` that arrives after `ask()` is called; rejects with
   * `ERR_PEER_TIMEOUT` after `timeoutMs` or `ERR_ABORTED` when `signal` aborts.
   */
  wait(rootHex: string, ask: () => void, timeoutMs: number, signal?: AbortSignal): Promise<FileOffer> {
    return new Promise((resolve, reject) => {
      let set = this.#waiting.get(rootHex);
      if (!set) this.#waiting.set(rootHex, (set = new Set()));
      const waiters = set;
      const done = (offer?: FileOffer, error?: MeshwireError): void => {
        clearTimeout(timer);
        waiters.delete(onOffer);
        if (waiters.size === 0 && this.#waiting.get(rootHex) === waiters) this.#waiting.delete(rootHex);
        signal?.removeEventListener('abort', onAbort);
        if (offer) resolve(offer);
        else reject(error);
      };
      const onOffer = (offer: FileOffer): void => done(offer);
      const onAbort = (): void => done(undefined, new MeshwireError('ERR_ABORTED', 'fetch aborted'));
      const timer = setTimeout(
        () =>
          done(
            undefined,
            new MeshwireError('ERR_PEER_TIMEOUT', `no peer offered ${rootHex} within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      waiters.add(onOffer);
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      ask();
    });
  }
}

/**
 * `promise`, or a rejection with `ERR_ABORTED` (`message`, the signal's reason as cause) as
 * soon as `signal` aborts. The abort listener is removed once `promise` settles.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => reject(new MeshwireError('ERR_ABORTED', message, { cause: signal.reason }));
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener('abort', abort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
  });
}
