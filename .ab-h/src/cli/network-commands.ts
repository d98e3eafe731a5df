/**
 * Chat and `/connect` in the CLI: a line of text to every peer (with "too long" in words), and
 * a dial the user asked for.
 */
import { DEFAULT_MAX_LINE_BYTES, MeshwireError, type P2PNode } from '../index.js';
import { addressProblem, type CliConfig } from './args.js';
import type { Category, CliEvent } from './cli-events.js';
import { displayName } from './event-text.js';
import { formatBytes } from './units.js';

/** What the chat and connect commands need from the CLI (the app implements it). */
export interface NetworkCommandHost {
  readonly node: P2PNode;
  readonly config: Pick<CliConfig, 'json'>;
  emit(event: CliEvent): void;
  info(category: Category, text: string): void;
  commandError(message: string, hint?: string): void;
  error(err: unknown): void;
}

/** Sends a chat line to every peer and reports who got it. */
export async function chatCommand(app: NetworkCommandHost, text: string): Promise<void> {
  const node = app.node;
  const tooLong = (): void =>
    app.commandError(
      `message too long (${formatBytes(Buffer.byteLength(text))}; ${formatBytes(DEFAULT_MAX_LINE_BYTES)} max)`,
      'use /send for files',
    );
  let report;
  try {
    report = await node.broadcastMessage(text);
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_FRAME_TOO_LARGE') tooLong();
    else app.error(err);
    return;
  }
  if (report.failed.length > 0 && report.failed.every((f) => f.error.code === 'ERR_FRAME_TOO_LARGE')) {
    tooLong();
    return;
  }
  app.emit({
    type: 'chat-sent',
    time: Date.now(),
    name: displayName(node),
    id: node.id,
    text,
    sent: report.sent.length,
    failed: report.failed.length,
  });
  const peers = new Map(node.getPeerInfo().peers.map((p) => [p.id, p]));
  for (const { peerId, error } of report.failed) {
    const who = peers.get(peerId);
    app.emit({
      type: 'command-error',
      time: Date.now(),
      message: `Message not delivered to ${who ? displayName(who) : peerId}: ${error.message}`,
      code: error.code,
    });
  }
  if (report.sent.length === 0 && report.failed.length === 0 && !app.config.json) {
    app.info('SYSTEM', 'No peers connected; nobody received that');
  }
}

/** Dials `address` for `/connect`; its failure is reported by the node as connection-failed. */
export async function connectCommand(
  app: NetworkCommandHost,
  address: string,
  requested: Set<string>,
): Promise<void> {
  const problem = addressProblem(address);
  if (problem !== undefined) {
    app.commandError(`Cannot connect: ${problem}`);
    return;
  }
  const existing = app.node.getPeerInfo().peers.find((p) => p.address === address);
  if (existing) {
    app.info('NETWORK', `Already connected to ${displayName(existing)} at ${address}`);
    return;
  }
  app.info('NETWORK', `Connecting to ${address}...`);
  requested.add(address);
  try {
    await app.node.connectToPeer(address);
  } catch (err) {
    // Dial failures are reported by the node as connection-failed; only argument errors are not.
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_INVALID_ARGUMENT' || code === 'ERR_INVALID_OPTION' || !(err instanceof MeshwireError)) {
      app.error(err);
    }
  } finally {
    requested.delete(address);
  }
}
