/**
 * The sender's side of the receivers' replies (secure mode): watches FILEREJECT / FILEACK for one
 * transfer, and peers leaving, so `sendFile` can stop sending to a peer that refused and report
 * only peers that confirmed.
 */
import { MeshwireError } from '../errors.js';
import type { MeshMessage } from '../messages.js';
import { parseFileFrame } from './frames.js';
import type { FileNode } from './types.js';

/** How a target's transfer ended, as far as its replies tell. */
export type ReplyOutcome = { ok: true } | { ok: false; error: MeshwireError };

/**
 * Subscribes to the node's messages at construction (so no reply that follows FILESTART can be
 * missed) and records the first outcome per target. Call {@link ReplyWatcher.close} when done.
 */
export class ReplyWatcher {
  readonly #name: string;
  readonly #sha256: string;
  readonly #targets: ReadonlySet<string>;
  readonly #outcomes = new Map<string, ReplyOutcome>();
  readonly #stop = new AbortController();
  readonly #onOutcome: (peerId: string, outcome: ReplyOutcome) => void;
  #wake: (() => void) | undefined;

  constructor(
    node: FileNode,
    name: string,
    sha256: string,
    targets: Iterable<string>,
    onOutcome: (peerId: string, outcome: ReplyOutcome) => void,
  ) {
    this.#name = name;
    this.#sha256 = sha256;
    this.#targets = new Set(targets);
    this.#onOutcome = onOutcome;
    const stream = node.messages({ types: ['bytes', 'peer-disconnected'], signal: this.#stop.signal });
    void this.#pump(stream);
  }

  /** The outcome recorded for `peerId`, if any. */
  outcome(peerId: string): ReplyOutcome | undefined {
    return this.#outcomes.get(peerId);
  }

  async #pump(stream: AsyncIterable<MeshMessage>): Promise<void> {
    try {
      // Consumed at full speed (only a prefix check per message), so this subscription never
      // holds the node's sockets back.
      for await (const msg of stream) this.#handle(msg);
    } catch {
      // The node is closing; whoever waits sees the timeout or the abort.
    }
  }

  #handle(msg: MeshMessage): void {
    if (msg.type === 'peer-disconnected') {
      this.#record(msg.peer.id, {
        ok: false,
        error: new MeshwireError('ERR_CONNECTION_CLOSED', `${msg.peer.id} disconnected before confirming`),
      });
      return;
    }
    if (msg.type !== 'bytes' || !this.#targets.has(msg.from.id)) return;
    let frame;
    try {
      frame = parseFileFrame(msg.data);
    } catch {
      return; // a malformed frame is the receiver's problem, not a reply to us
    }
    if (frame === null || frame.name !== this.#name) return;
    if (frame.type === 'file-reject') {
      this.#record(msg.from.id, {
        ok: false,
        error: new MeshwireError(frame.reason, `${msg.from.id} refused ${this.#name} (${frame.reason})`),
      });
    } else if (frame.type === 'file-ack' && frame.sha256 === this.#sha256) {
      this.#record(msg.from.id, { ok: true });
    }
  }

  #record(peerId: string, outcome: ReplyOutcome): void {
    if (!this.#targets.has(peerId) || this.#outcomes.has(peerId)) return;
    this.#outcomes.set(peerId, outcome);
    this.#onOutcome(peerId, outcome);
    this.#wake?.();
  }

  /**
   * Resolves once every peer of `peerIds` has an outcome, or after `timeoutMs` (those left get
   * `ERR_PEER_TIMEOUT`), or when `signal` aborts (rejects with `ERR_ABORTED`).
   */
  async waitFor(peerIds: Iterable<string>, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    const ids = [...peerIds];
    const deadline = performance.now() + timeoutMs;
    while (ids.some((id) => !this.#outcomes.has(id))) {
      if (signal?.aborted) {
        throw new MeshwireError('ERR_ABORTED', 'file transfer aborted', { cause: signal.reason });
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        for (const id of ids) {
          this.#record(id, {
            ok: false,
            error: new MeshwireError(
              'ERR_PEER_TIMEOUT',
              `${id} did not confirm ${this.#name} within ${timeoutMs} ms`,
            ),
          });
        }
        return;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', done);
          this.#wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, left);
        signal?.addEventListener('abort', done, { once: true });
        this.#wake = done;
      });
    }
  }

  /** Ends the subscription. */
  close(): void {
    this.#stop.abort();
  }
}
