import { MeshwireError, PERMANENT_DIAL_ERRORS, toMeshwireError } from '../errors.js';
import type { BootstrapFailedMessage, BootstrapSuccessMessage, PeerRef, WithoutTime } from '../messages.js';

/** What bootstrap needs from the node. */
export interface BootstrapHost {
  isClosed(): boolean;
  dial(address: string, options: { signal?: AbortSignal }): Promise<PeerRef>;
  /** The peer connected under `address`, if any (a compat peer that dialled us meanwhile). */
  connectedAt(address: string): PeerRef | undefined;
  report(message: WithoutTime<BootstrapSuccessMessage | BootstrapFailedMessage>): void;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new MeshwireError('ERR_ABORTED', 'aborted'));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new MeshwireError('ERR_ABORTED', 'aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The bootstrap source: connects to `address` on the retry schedule (the first attempt at once,
 * then one after each of `delays`), and stops at once on failures no retry can heal (see
 * `PERMANENT_DIAL_ERRORS`). Reports bootstrap-success or bootstrap-failed. Once connected, the
 * peer's PEERS list (peer exchange) brings in the rest of the mesh.
 */
export async function bootstrap(
  host: BootstrapHost,
  address: string,
  delays: readonly number[],
  signal?: AbortSignal,
): Promise<PeerRef> {
  let lastError = new MeshwireError('ERR_BOOTSTRAP_FAILED', 'node closed before the first attempt');
  let attempts = 0;
  for (let attempt = 1; attempt <= delays.length + 1; attempt++) {
    if (host.isClosed()) break;
    attempts = attempt;
    try {
      const peer = await host.dial(address, { signal });
      host.report({ type: 'bootstrap-success', address, peer, attempts: attempt });
      return peer;
    } catch (err) {
      lastError = toMeshwireError(err);
      const peer = lastError.code === 'ERR_DUPLICATE_PEER' ? host.connectedAt(address) : undefined;
      if (peer) {
        host.report({ type: 'bootstrap-success', address, peer, attempts: attempt });
        return peer;
      }
      if (lastError.code === 'ERR_ABORTED' || PERMANENT_DIAL_ERRORS.has(lastError.code)) break;
    }
    const delay = delays[attempt - 1];
    if (delay === undefined) break;
    try {
      await sleep(delay, signal);
    } catch (err) {
      lastError = toMeshwireError(err);
      break;
    }
  }
  const error = new MeshwireError(
    'ERR_BOOTSTRAP_FAILED',
    `bootstrap to ${address} failed: ${lastError.message}`,
    {
      cause: lastError,
    },
  );
  host.report({ type: 'bootstrap-failed', address, attempts, error });
  throw error;
}
