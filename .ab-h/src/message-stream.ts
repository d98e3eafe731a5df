import type { MeshMessage, MessageType } from './messages.js';

/** Options of {@link MessageStream}. */
export interface MessageStreamOptions {
  /** Only these message types are queued. */
  types?: MessageType[];
  /** Ends the iterator when aborted. */
  signal?: AbortSignal;
  /**
   * Queued weight (BYTES payload bytes; other messages count 64) of one peer's messages above
   * which the node stops reading from that peer, and only that peer, until this consumer catches
   * up. So what one stream holds is bounded by `highWaterMark` per connected peer. @default 4 MiB
   */
  highWaterMark?: number;
}

const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;
const MESSAGE_WEIGHT = 64;

function weight(message: MeshMessage): number {
  return message.type === 'bytes' ? message.data.length + MESSAGE_WEIGHT : MESSAGE_WEIGHT;
}

/** The peer a message came from or is about: the one whose socket backpressure would pause. */
function sourceOf(message: MeshMessage): string | undefined {
  if ('from' in message) return message.from?.id;
  if ('peer' in message && message.peer) return message.peer.id;
  return undefined;
}

/**
 * One consumer's queue of node messages, readable with `for await`. Nothing is dropped: when the
 * messages of one peer pass the high-water mark, the node pauses that peer's socket until the
 * consumer catches up. Only that peer: a peer flooding a slow consumer must not hold up the
 * others (their messages still arrive, and reach consumers that keep up, at full speed).
 */
export class MessageStream implements AsyncIterableIterator<MeshMessage> {
  readonly #types: Set<MessageType> | undefined;
  readonly #highWater: number;
  readonly #queue: MeshMessage[] = [];
  #head = 0;
  #queuedWeight = 0;
  /** Queued weight per source peer ID (entries removed at zero, so it stays as small as the queue). */
  readonly #bySource = new Map<string, number>();
  #waiter: ((result: IteratorResult<MeshMessage>) => void) | undefined;
  #ended = false;
  readonly #onPressureChange: (peerId: string | undefined) => void;
  readonly #onEnd: (stream: MessageStream) => void;
  readonly #signal: AbortSignal | undefined;
  readonly #abort = (): void => this.end();

  constructor(
    options: MessageStreamOptions,
    onPressureChange: (peerId: string | undefined) => void,
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

  /** True while this consumer is behind on `peerId`'s messages: the node should stop reading from it. */
  isOverHighWater(peerId: string): boolean {
    return (this.#bySource.get(peerId) ?? 0) > this.#highWater;
  }

  /** Weight of everything queued (payload bytes, 64 per other message). */
  get queuedWeight(): number {
    return this.#queuedWeight;
  }

  #account(message: MeshMessage, sign: 1 | -1): void {
    const w = weight(message) * sign;
    this.#queuedWeight += w;
    const source = sourceOf(message);
    if (source === undefined) return;
    const before = this.#bySource.get(source) ?? 0;
    const after = before + w;
    if (after > 0) this.#bySource.set(source, after);
    else this.#bySource.delete(source);
    if (before > this.#highWater !== after > this.#highWater) this.#onPressureChange(source);
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
    this.#queue.push(message);
    this.#account(message, 1);
  }

  next(): Promise<IteratorResult<MeshMessage>> {
    if (this.#head < this.#queue.length) {
      const message = this.#queue[this.#head] as MeshMessage;
      // Clear the slot: a consumed BYTES payload must not stay reachable until the next compaction.
      (this.#queue as (MeshMessage | undefined)[])[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#head);
        this.#head = 0;
      }
      this.#account(message, -1);
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
    const paused = drain ? [] : [...this.#bySource.keys()].filter((id) => this.isOverHighWater(id));
    if (!drain) {
      this.#queue.length = 0;
      this.#head = 0;
      this.#queuedWeight = 0;
      this.#bySource.clear();
    }
    if (this.#waiter) {
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter({ value: undefined, done: true });
    }
    this.#onEnd(this);
    // An ended stream holds nobody back any more: the node re-evaluates the peers it paused.
    for (const id of paused) this.#onPressureChange(id);
  }
}
