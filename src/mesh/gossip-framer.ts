/**
 * Encodes broadcast payloads (overlay `gossip` messages) for the wire once, not once per
 * neighbour: the core relays one message object to every eager neighbour in a row, and all of them
 * get the same framed bytes. A relay is the received message with its hop count raised by one
 * (the only field a relay changes, and an unsigned one: PROTOCOL.md O9), so its bytes are the
 * received body with that one byte patched, not a fresh encoding of the IDs, signature and payload.
 */
import { encodeOverlayFrame, NATIVE_HEADER_BYTES } from '../codec/native.js';
import { encodeOverlayMessage } from '../overlay/index.js';
import type { OverlayMessage } from '../overlay/index.js';

type Gossip = Extract<OverlayMessage, { type: 'gossip' }>;

/** Bytes of a gossip body between the hop count and the signature: kind (u8) and signature length (u8). */
const HOPS_BEFORE_SIGNATURE = 3;

/** One node's framing of the gossip messages it sends. */
export class GossipFramer {
  #lastMessage: Gossip | undefined;
  #lastFrame: Buffer | undefined;
  #inMessage: Gossip | undefined;
  #inBody: Uint8Array | undefined;

  /**
   * The message being handled came as `body` (its payload and signature are views into it): its
   * relays may reuse those bytes. Only until {@link GossipFramer.received} is called again or
   * {@link GossipFramer.done}: relays are sent while the message is handled.
   */
  received(message: Gossip, body: Uint8Array): void {
    this.#inMessage = message;
    this.#inBody = body;
  }

  /** The received message has been handled: forget its body. */
  done(): void {
    this.#inMessage = undefined;
    this.#inBody = undefined;
  }

  /** The whole native frame for `message` (the same buffer for the same object, sent in a row). */
  frame(message: Gossip): Buffer {
    if (message !== this.#lastMessage) {
      this.#lastMessage = message;
      this.#lastFrame = this.#relayFrame(message) ?? encodeOverlayFrame(encodeOverlayMessage(message));
    }
    return this.#lastFrame!;
  }

  /** The received body with the hop count patched, if `message` is a relay of the received message. */
  #relayFrame(m: Gossip): Buffer | undefined {
    const r = this.#inMessage;
    const body = this.#inBody;
    if (
      !r ||
      !body ||
      m.signature !== r.signature ||
      m.payload !== r.payload ||
      m.sender !== r.sender ||
      m.epoch !== r.epoch ||
      m.seq !== r.seq ||
      m.kind !== r.kind ||
      !Number.isInteger(m.hops) ||
      m.hops < 1 ||
      m.hops > 255 ||
      m.signature.buffer !== body.buffer
    ) {
      return undefined;
    }
    // Where the decoder found the fields: the hop count, kind and signature length lie right
    // before the signature, and the payload follows it to the end of the body (rule O2).
    const signatureAt = m.signature.byteOffset - body.byteOffset;
    const hopsAt = signatureAt - HOPS_BEFORE_SIGNATURE;
    if (
      hopsAt < 1 ||
      body[hopsAt] !== r.hops ||
      body[hopsAt + 1] !== r.kind ||
      body[hopsAt + 2] !== m.signature.length ||
      m.payload.buffer !== body.buffer ||
      m.payload.byteOffset - body.byteOffset !== signatureAt + m.signature.length ||
      signatureAt + m.signature.length + m.payload.length !== body.length
    ) {
      return undefined;
    }
    const frame = encodeOverlayFrame(body);
    frame[NATIVE_HEADER_BYTES + hopsAt] = m.hops;
    return frame;
  }
}
