import type { MeshMessage, MessageType } from './messages.js';

/** Options of {@link MessageStream}. */
export interface MessageStreamOptions {
  /** Only these message types are queued. */
  types?: MessageType[];
  /** Ends the iterator when aborted. */
  signal?: AbortSignal;
  /** Queued payload bytes (BYTES data; other messages count 64) above which the node stops reading. @default 4 MiB */
  highWaterMark?: number;
}

const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;
const MESSAGE_WEIGHT = 64;

function weight(message: MeshMessage): number {
  return message.type === 'bytes' ? message.data.length + MESSAGE_WEIGHT : MESSAGE_WEIGHT;
}

/**
 * One consumer's queue of node messages, readable with `for await`. Nothing is dropped: when the
 * queue passes its high-water mark the node pauses its sockets until the consumer catches up.
 */
export class MessageStream implements AsyncIterableIterator<MeshMessage> {
  readonly #types: Set<MessageType> | undefined;
  readonly #highWater: number;
  readonly #queue: MeshMessage[] = [];
  #head = 0;
  #queuedWeight = 0;
  #waiter: ((result: IteratorResult<MeshMessage>) => void) | undefined;
  #ended = false;
  readonly #onPressureChange: () => void;
  readonly #onEnd: (stream: MessageStream) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #abort = (): void => this.end();

  constructor(
    options: MessageStreamOptions,
    onPressureChange: () => void,
    onEnd: (stream: MessageStream) => void,
  ) {
    this.#types = options.types ? new Set(options.types) : undefined;
    this.#highWater = options.highWaterMark ?? DEFAULT_HIGH_WATER;
    this.#onPressureChange = onPressureChange;
    this.#onEnd = onEnd;
    this.#signal = options.signal;
    if (this.#signal?.aborted) this.end();
    else this.#signal?.addEventListener('abort', this.#abort, { once: true });
  }

  /** True while this consumer is behind: the node should stop reading. */
  get overHighWater(): boolean {
    return this.#queuedWeight > this.#highWater;
  }

  /** Offers a message; ignored if filtered out or ended. */
  push(message: MeshMessage): void {
    if (this.#ended || (this.#types && !this.#types.has(message.type))) return;
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter({ value: message, done: false });
      return;
    }
    const wasOver = this.overHighWater;
    this.#queue.push(message);
    this.#queuedWeight += weight(message);
    if (!wasOver && this.overHighWater) this.#onPressureChange();
  }

  next(): Promise<IteratorResult<MeshMessage>> {
    if (this.#head < this.#queue.length) {
      const wasOver = this.overHighWater;
      const message = this.#queue[this.#head] as MeshMessage;
      // Clear the slot: a consumed BYTES payload must not stay reachable until the next compaction.
      (this.#queue as (MeshMessage | undefined)[])[this.#head++] = undefined;
      this.#queuedWeight -= weight(message);
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      if (wasOver && !this.overHighWater) this.#onPressureChange();
      return Promise.resolve({ value: message, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<MeshMessage>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * Stops the stream. With `drain` (the node closed) queued messages are still delivered before
   * the iterator finishes; without it (the consumer quit) they are discarded.
   */
  end(drain = false): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#signal?.removeEventListener('abort', this.#abort);
    if (!drain) {
      this.#queue.length = 0;
      this.#head = 0;
      this.#queuedWeight = 0;
    }
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter({ value: undefined, done: true });
    }
    this.#onEnd(this);
    this.#onPressureChange();
  }
}
