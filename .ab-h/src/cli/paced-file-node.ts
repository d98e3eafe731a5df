/**
 * Upload pacing for `--rate-limit`: a FileNode view of a node whose sends wait for their slot.
 */
import { performance } from 'node:perf_hooks';
import type { FileNode } from '../files/index.js';

/**
 * A view of `node` for sendFile that paces file frames to `bytesPerSecond` (the `--rate-limit`
 * option). A frame sent to several peers is paced once: the limit is on file bytes per second.
 */
export function pacedFileNode(node: FileNode, bytesPerSecond: number): FileNode {
  let nextSlot = performance.now();
  const paced = new WeakMap<Uint8Array, Promise<void>>();
  const pace = (data: Uint8Array): Promise<void> => {
    let wait = paced.get(data);
    if (!wait) {
      const now = performance.now();
      const start = Math.max(now, nextSlot);
      nextSlot = start + (data.length / bytesPerSecond) * 1000;
      wait =
        start - now < 1
          ? Promise.resolve()
          : new Promise<void>((resolve) => setTimeout(resolve, start - now).unref());
      paced.set(data, wait);
    }
    return wait;
  };
  return {
    get id() {
      return node.id;
    },
    get maxBytesPerMessage() {
      return node.maxBytesPerMessage;
    },
    messages: (options) => node.messages(options),
    getPeerInfo: () => node.getPeerInfo(),
    sendBytesToPeer: async (peerId, data) => {
      await pace(data);
      await node.sendBytesToPeer(peerId, data);
    },
  };
}
