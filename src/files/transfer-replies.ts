/**
 * What a receiver tells a sender when its push transfer ends (secure mode only; the Go original
 * neither sends nor expects replies): FILEACK with the checksum, or FILEREJECT with the error
 * code. Never awaited: a sender that does not read must not stall the receiver; its own send
 * queue bounds what piles up for it.
 */
import type { MeshwireError } from '../errors.js';
import { encodeFileAck, encodeFileReject, FILE_REJECT_REASONS, type FileRejectReason } from './frames.js';
import type { FileNode } from './types.js';

const REJECT_REASONS: ReadonlySet<string> = new Set(FILE_REJECT_REASONS);

/** Replies to senders, or nothing when `enabled` is false (compat mode). */
export class TransferReplies {
  readonly #node: FileNode;
  readonly #enabled: boolean;

  constructor(node: FileNode, enabled: boolean) {
    this.#node = node;
    this.#enabled = enabled;
  }

  /** FILEREJECT for `name`, with `error`'s code when it is a reason the protocol knows. */
  reject(peerId: string, name: string, error: MeshwireError): void {
    if (!this.#enabled) return;
    let frame: Buffer;
    try {
      const reason = (REJECT_REASONS.has(error.code) ? error.code : 'ERR_FILE_PROTOCOL') as FileRejectReason;
      frame = encodeFileReject(name, reason);
    } catch {
      return; // a name that cannot be encoded was never a transfer the sender can match
    }
    this.#node.sendBytesToPeer(peerId, frame).catch(() => undefined);
  }

  /** FILEACK: `name` arrived intact with this checksum. */
  ack(peerId: string, name: string, sha256: string): void {
    if (!this.#enabled) return;
    this.#node.sendBytesToPeer(peerId, encodeFileAck(name, sha256)).catch(() => undefined);
  }
}
