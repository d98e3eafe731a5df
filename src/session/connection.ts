// About 470 lines: one stream's writer, reader, queue, backpressure and timeouts share their
// state (the TLS-only solo writes included).
import type { Duplex } from 'node:stream';
import type { FrameDecoder, FrameEncoder } from '../codec/codec.js';
import type { Frame } from '../codec/frame.js';
import { MeshwireError, toMeshwireError } from '../errors.js';

/** Send-side limits of one connection. */
export interface ConnectionLimits {
  /** Buffered bytes above which `send` waits for the socket to drain. */
  highWaterMark: number;
  /** Buffered bytes above which `send` is refused with `ERR_SEND_QUEUE_FULL`. */
  maxQueueBytes: number;
  /** Pending bytes that make no progress for this long drop the connection. */
  writeTimeoutMs: number;
}

type Waiter = { resolve: () => void; reject: (err: MeshwireError) => void };

/** Stands in for the decoder of an ended connection, so that its buffers can be collected. */
const CLOSED_DECODER: FrameDecoder = { push: () => [], bufferedBytes: 0 };

const EMPTY = new Uint8Array(0);

/** Room that control frames may use beyond `maxQueueBytes` (see {@link Connection.write}). */
export const CONTROL_SLACK_BYTES = 256 * 1024;

/** Most plaintext one TLS record carries (RFC 8446 section 5.1). */
const TLS_RECORD_BYTES = 16 * 1024;

/**
 * One socket with its codec. It is the only writer of its socket, so frames are atomic on the
 * wire; it bounds what it buffers in both directions and reports its end exactly once.
 *
 * Until a frame handler is installed, decoded frames are held (handshake code pulls them with
 * `nextFrame`), so no line read during the handshake is lost.
 */
export class Connection {
  /** The byte stream: a transport connection's stream, or the TLS socket over one. */
  readonly socket: Duplex;
  /** The local host of the transport connection (what this node advertises on it). */
  readonly localHost: string;
  #decoder: FrameDecoder;
  readonly #encoder: FrameEncoder;
  readonly #limits: ConnectionLimits;
  #onFrame: ((frame: Frame) => void) | undefined;
  #onClose: ((error: MeshwireError | undefined) => void) | undefined;
  readonly #held: Frame[] = [];
  #frameWaiter: { resolve: (f: Frame) => void; reject: (e: MeshwireError) => void } | undefined;
  readonly #drainWaiters: Waiter[] = [];
  #closed = false;
  #closeError: MeshwireError | undefined;
  #corked = false;
  /**
   * Encoded frames waiting to be handed to the socket, from `#queueHead` on. The socket itself is
   * given at most about one high-water mark at a time (see {@link Connection.write}).
   */
  readonly #queue: Uint8Array[] = [];
  #queueHead = 0;
  #queueBytes = 0;
  #writeTimer: NodeJS.Timeout | undefined;
  #flushedAtTimerStart = 0;
  #pausedByHolder = false;
  #pausedByOwner = false;
  #retired = false;
  /** Bytes handed to the stream so far (progress for the write timeout, whatever the stream). */
  #handed = 0;
  #received = 0;
  /** Payloads of at least this many bytes are written alone (0: off); see {@link Connection.constructor}. */
  readonly #soloBytes: number;
  /** Writes on their way whose completion calls {@link Connection.#kick}. */
  #kicksPending = 0;
  /** Resumes the queue once a write before a solo one completes; made only when soloBytes is set. */
  readonly #kick: (() => void) | undefined;

  /**
   * @param soloBytes - for a TLS socket: BYTES payloads of at least this many bytes are handed to
   *   the socket alone, only when it has nothing else buffered (0: off). node:tls encrypts a write
   *   of several buffers by first copying them all into one new buffer; a payload written alone is
   *   encrypted straight from the caller's memory. Such a payload is split: its header and first
   *   bytes (at most about one TLS record, copied) go like any small frame, and the rest, a whole
   *   number of records, waits in this connection's queue until the socket is idle.
   */
  constructor(
    socket: Duplex,
    decoder: FrameDecoder,
    encoder: FrameEncoder,
    limits: ConnectionLimits,
    localHost = '127.0.0.1',
    soloBytes = 0,
  ) {
    this.socket = socket;
    this.localHost = localHost;
    this.#soloBytes = soloBytes;
    this.#kick =
      soloBytes > 0
        ? () => {
            this.#kicksPending--;
            this.#pump();
            this.#resolveDrainWaiters();
          }
        : undefined;
    this.#decoder = decoder;
    this.#encoder = encoder;
    this.#limits = limits;
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('drain', () => {
      this.#pump();
      this.#resolveDrainWaiters();
    });
    socket.on('error', (err) => this.destroy(toMeshwireError(err)));
    socket.on('close', () => {
      // Usually already finished (end() or destroy() came first): no error object to build then
      // (capturing a stack costs more than the rest of a close).
      if (this.#closed) return;
      this.#finish(
        this.#closeError ?? new MeshwireError('ERR_CONNECTION_CLOSED', 'connection closed by peer'),
      );
    });
    socket.on('end', () => socket.end());
  }

  /** True once the connection has ended for any reason (or was retired: nothing more is sent). */
  get closed(): boolean {
    return this.#closed || this.#retired;
  }

  /**
   * Retires a connection that another one to the same peer replaced (the simultaneous-dial
   * tie-break): nothing more is sent on it (what is queued is flushed, then FIN), but the frames
   * the peer sent on it before it switched still arrive, handed to `handler`, until the peer
   * closes its side. So nothing the peer sent is lost. The close handler is not called.
   */
  retire(handler: (frame: Frame) => void): void {
    if (this.#closed || this.#retired) return;
    this.#retired = true;
    this.#onClose = undefined;
    this.#pump(true);
    this.socket.end();
    // Read to the end whatever the node's backpressure said: the remainder is bounded by what the
    // peer sent before it switched connections.
    this.#pausedByOwner = false;
    this.#reapLater(() => this.destroy());
    this.setFrameHandler(handler);
  }

  /** Installs the frame handler and hands it every frame held so far, in order. */
  setFrameHandler(handler: (frame: Frame) => void): void {
    this.#onFrame = handler;
    const held = this.#held.splice(0);
    for (const frame of held) {
      if (this.#closed) return;
      handler(frame);
    }
    if (this.#pausedByHolder) {
      this.#pausedByHolder = false;
      this.#applyPause();
    }
  }

  /** Called once when the connection ends; `error` says why (`undefined` for a local close). */
  setCloseHandler(handler: (error: MeshwireError | undefined) => void): void {
    this.#onClose = handler;
    if (this.#closed) handler(this.#closeError);
  }

  /** Resolves with the next frame (handshake use, before a frame handler is installed). */
  nextFrame(): Promise<Frame> {
    const held = this.#held.shift();
    if (held) return Promise.resolve(held);
    if (this.#closed)
      return Promise.reject(this.#closeError ?? new MeshwireError('ERR_CLOSED', 'connection closed'));
    // Everything held has been read and someone waits for more (a handshake of several rounds,
    // like the network-key exchange): read on, or the next frame would never arrive.
    if (this.#pausedByHolder) {
      this.#pausedByHolder = false;
      this.#applyPause();
    }
    return new Promise((resolve, reject) => {
      this.#frameWaiter = { resolve, reject };
    });
  }

  /** Removes and returns the first held frame if it matches (e.g. the LISTEN line after a hello). */
  takeHeldIf(predicate: (frame: Frame) => boolean): Frame | undefined {
    const first = this.#held[0];
    if (first && predicate(first)) return this.#held.shift();
    return undefined;
  }

  /** Stops or restarts reading from the socket (backpressure from slow consumers). */
  setPaused(paused: boolean): void {
    this.#pausedByOwner = paused;
    this.#applyPause();
  }

  #applyPause(): void {
    if (this.#closed) return;
    if (this.#pausedByOwner || this.#pausedByHolder) this.socket.pause();
    else this.socket.resume();
  }

  /** Bytes waiting to be sent: in this connection's queue plus in the socket's buffer. */
  get queuedBytes(): number {
    return this.#queueBytes + this.socket.writableLength;
  }

  /**
   * Encodes and queues a frame. Resolves at once while the send buffer is under the high-water
   * mark, else once it drains below it; rejects if the frame cannot be encoded, the buffer is
   * over its hard limit, or the connection ends first.
   */
  send(frame: Frame): Promise<void> {
    try {
      return this.sendEncoded(this.#encoder.encode(frame)) ?? Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Queues an already encoded frame (a broadcast encodes once for all peers). Returns
   * `undefined` when the caller may go on at once, else a promise for the drain below the
   * high-water mark; throws like {@link write}.
   */
  sendEncoded(buffers: Buffer[]): Promise<void> | undefined {
    this.writeEncoded(buffers);
    if (this.queuedBytes <= this.#highWaterMark()) return undefined;
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  /**
   * Synchronous form of {@link send} without waiting for the buffer to drain. `control` frames
   * (heartbeat, peer lists, goodbye) may use {@link CONTROL_SLACK_BYTES} beyond the hard limit:
   * an application that fills a slow peer's queue must not get that peer dropped by the next PING
   * while it still reads (the write timeout judges whether it does).
   */
  write(frame: Frame, control = false): void {
    this.writeEncoded(this.#encoder.encode(frame), control);
  }

  /** {@link write} for an already encoded frame. */
  writeEncoded(buffers: Buffer[], control = false): void {
    if (this.#closed) throw this.#closeError ?? new MeshwireError('ERR_CLOSED', 'connection closed');
    if (this.#retired)
      throw new MeshwireError('ERR_CLOSED', 'connection replaced by another one to the peer');
    let size = 0;
    for (const b of buffers) size += b.length;
    const limit = this.#limits.maxQueueBytes + (control ? CONTROL_SLACK_BYTES : 0);
    if (this.queuedBytes + size > limit) {
      throw new MeshwireError(
        'ERR_SEND_QUEUE_FULL',
        `send queue full (${this.queuedBytes} bytes waiting, limit ${this.#limits.maxQueueBytes})`,
      );
    }
    if (this.#soloBytes > 0 && buffers.length === 2 && (buffers[1] as Buffer).length >= this.#soloBytes) {
      // [header, large payload]: the header and the start of the payload go as one small buffer (a
      // copy of about one record at most), the rest alone once the socket is idle (#pump). The
      // cut leaves the rest a whole number of records: at most one short record per message.
      const header = buffers[0] as Buffer;
      const payload = buffers[1] as Buffer;
      let cut = ((header.length + payload.length) % TLS_RECORD_BYTES) - header.length;
      if (cut <= 0) cut += TLS_RECORD_BYTES;
      this.#queue.push(Buffer.concat([header, payload.subarray(0, cut)]), payload.subarray(cut));
      this.#queueBytes += size;
      this.#pump();
      this.#armWriteTimer();
      return;
    }
    // The socket gets at most about one high-water mark at a time; the rest waits here until it
    // drains. A socket hands everything it buffered to its handle in one write once the previous
    // write completes, and a TLS socket encrypts that whole write at once and keeps the plaintext
    // until the ciphertext is out: with a peer that reads slowly, a full queue handed over that way
    // would be held twice (three times, briefly, while it is concatenated for encryption).
    if (this.#queueBytes > 0 || this.socket.writableLength >= this.#highWaterMark()) {
      for (const b of buffers) this.#queue.push(b);
      this.#queueBytes += size;
      this.#armWriteTimer();
      return;
    }
    // Corking until the next tick turns a burst of small frames into one writev syscall.
    if (!this.#corked) {
      this.#corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.socket.uncork();
      });
    }
    for (const b of buffers) this.socket.write(b);
    this.#handed += size;
    this.#armWriteTimer();
  }

  /** Flushes what is queued, then closes (FIN). Used after a reject or goodbye. */
  end(): void {
    if (this.#closed) return;
    this.#closeError = undefined;
    this.#pump(true);
    this.socket.end();
    this.#finish(undefined);
    // Keep reading (and discarding: #receive ignores data once closed) so the peer's FIN is seen
    // even when backpressure had paused the socket; a paused socket would never finish closing.
    this.socket.resume();
    // A peer that never reads would keep the socket half-open forever.
    this.#reapLater(() => this.socket.destroy());
  }

  /**
   * Runs `reap` after the write timeout unless the socket has closed by then. The timer is
   * cleared at the close: a pending one would keep this connection, and through its handlers the
   * whole node it belonged to, in memory for the full timeout after every ordinary close.
   */
  #reapLater(reap: () => void): void {
    const timer = setTimeout(reap, this.#limits.writeTimeoutMs);
    timer.unref();
    this.socket.once('close', () => clearTimeout(timer));
  }

  /** Closes at once; `error` is reported as the reason. */
  destroy(error?: MeshwireError): void {
    if (this.#closed) return;
    this.#closeError = error;
    this.socket.destroy();
    this.#finish(error);
  }

  /** Frame bytes handed to the stream so far (queued ones not yet). */
  get bytesSent(): number {
    return this.#handed;
  }

  /** Frame bytes received so far. */
  get bytesReceived(): number {
    return this.#received;
  }

  #receive(chunk: Buffer): void {
    if (this.#closed) return;
    this.#received += chunk.length;
    let frames: Frame[];
    try {
      frames = this.#decoder.push(chunk);
    } catch (err) {
      this.destroy(toMeshwireError(err, 'ERR_MALFORMED_FRAME'));
      return;
    }
    for (const frame of frames) {
      if (this.#closed) return;
      if (this.#onFrame) {
        this.#onFrame(frame);
      } else if (this.#frameWaiter) {
        const waiter = this.#frameWaiter;
        this.#frameWaiter = undefined;
        waiter.resolve(frame);
      } else {
        this.#held.push(frame);
      }
    }
    // Before a handler exists, held frames are bounded by pausing the socket.
    if (!this.#onFrame && this.#held.length > 0 && !this.#pausedByHolder) {
      this.#pausedByHolder = true;
      this.#applyPause();
    }
  }

  #armWriteTimer(): void {
    if (this.#writeTimer || this.queuedBytes === 0) return;
    this.#flushedAtTimerStart = this.#flushed();
    this.#writeTimer = setTimeout(() => {
      this.#writeTimer = undefined;
      if (this.#closed || this.queuedBytes === 0) return;
      if (this.#flushed() === this.#flushedAtTimerStart) {
        this.destroy(
          new MeshwireError(
            'ERR_WRITE_TIMEOUT',
            `peer accepted no data for ${this.#limits.writeTimeoutMs} ms (${this.queuedBytes} bytes waiting)`,
          ),
        );
        return;
      }
      this.#armWriteTimer();
    }, this.#limits.writeTimeoutMs);
    this.#writeTimer.unref();
  }

  /**
   * Never below the socket's own mark: 'drain' (what waiters wait for) fires only after a write
   * that reached the socket's mark, so a lower one would leave them waiting forever.
   */
  #highWaterMark(): number {
    return Math.max(this.#limits.highWaterMark, this.socket.writableHighWaterMark);
  }

  #flushed(): number {
    return this.#handed - this.socket.writableLength;
  }

  /**
   * Hands queued frames to the socket until it holds a high-water mark (`all`: everything, before
   * a FIN), in one corked write. 'drain' calls it again once the socket has passed that on. With
   * `soloBytes`, a buffer larger than a TLS record goes alone into an idle socket, and the write
   * before it calls #kick when done (see the constructor).
   */
  #pump(all = false): void {
    if (this.#queueBytes === 0 || this.socket.destroyed) return;
    const mark = all ? Infinity : this.#highWaterMark();
    // Anything queued that is larger than two records goes alone (the rest of a split payload, or
    // a mid-sized one queued behind it); the split's first part is at most a record and a header.
    const solo = all || this.#soloBytes === 0 ? Infinity : 2 * TLS_RECORD_BYTES + 1;
    let corked = false;
    while (this.#queueHead < this.#queue.length && this.socket.writableLength < mark) {
      const b = this.#queue[this.#queueHead] as Uint8Array;
      const alone = b.length >= solo;
      if (alone) {
        // Only into an idle socket, uncorked: the stream then hands it to node:tls by itself. While
        // something is still buffered, the write that will empty the socket calls #kick; without
        // one on its way (never expected) it goes anyway, at the cost of a copy, rather than stall.
        if (corked) {
          this.socket.uncork();
          corked = false;
        }
        const idle = this.socket.writableLength === 0 && this.socket.writableCorked === 0;
        if (!idle && this.#kicksPending > 0) break;
      } else if (!corked) {
        this.socket.cork();
        corked = true;
      }
      this.#queue[this.#queueHead++] = EMPTY;
      this.#queueBytes -= b.length;
      this.#handed += b.length;
      const next = this.#queue[this.#queueHead];
      if (alone || (next !== undefined && next.length >= solo)) {
        this.#kicksPending++;
        this.socket.write(b, this.#kick);
      } else {
        this.socket.write(b);
      }
    }
    if (corked) this.socket.uncork();
    if (this.#queueHead === this.#queue.length) {
      this.#queue.length = 0;
      this.#queueHead = 0;
    } else if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
      // Compacts now and then, so a long queue is not shifted one element at a time.
      this.#queue.splice(0, this.#queueHead);
      this.#queueHead = 0;
    }
  }

  #resolveDrainWaiters(): void {
    if (this.queuedBytes > this.#highWaterMark()) return;
    for (const waiter of this.#drainWaiters.splice(0)) waiter.resolve();
  }

  #finish(error: MeshwireError | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    clearTimeout(this.#writeTimer);
    // Nothing queued will be sent now (end() flushed its part already): let it be collected.
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#queueBytes = 0;
    // Nothing is decoded after the end (#receive returns at once), but a peer that keeps its side
    // open after end() would keep a partly received frame (up to maxBytesPerMessage) reachable.
    this.#decoder = CLOSED_DECODER;
    if (this.#drainWaiters.length > 0 || this.#frameWaiter) {
      const reason = error ?? new MeshwireError('ERR_CLOSED', 'connection closed');
      for (const waiter of this.#drainWaiters.splice(0)) waiter.reject(reason);
      this.#frameWaiter?.reject(reason);
      this.#frameWaiter = undefined;
    }
    this.#onClose?.(error);
  }
}
