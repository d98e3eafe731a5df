/**
 * What the dashboard shows, kept from the node's public events: peers, the links peers reported,
 * the chat, file transfers. Changes are collected and handed out as one batch per flush, so a
 * burst of chat costs one write per page, not one per message.
 */
import type { FileReceiverEvents } from '../files/types.js';
import type { FileShareEvents } from '../files/pieces/types.js';
import type { MeshMessage, MessageType } from '../messages.js';
import type { NodeMetrics } from '../metrics/node-metrics.js';
import type { P2PNode } from '../node.js';
import { shortPeerId } from '../secure/identity.js';
import { ChatLog, clip, MAX_NAME_CHARS } from './chat-log.js';
import type { Batch, Link, NodeFacts, PeerRow, Snapshot, TransferRow } from './live-types.js';

/** Transfers kept in the list; the oldest finished ones leave first. */
export const MAX_TRANSFERS = 200;
/** Links kept per peer (its reported neighbours). */
export const MAX_LINKS_PER_PEER = 64;

/** The message types the model follows (per type: types nobody follows cost the node nothing). */
const MODEL_TYPES: readonly MessageType[] = [
  'chat',
  'peer-connected',
  'peer-disconnected',
  'peers-discovered',
  'peer-response',
];

/** The receiver events the model follows. */
export interface ModelReceiver {
  on<K extends keyof FileReceiverEvents>(type: K, listener: (e: FileReceiverEvents[K]) => void): unknown;
  off<K extends keyof FileReceiverEvents>(type: K, listener: (e: FileReceiverEvents[K]) => void): unknown;
}

/** The FileShare events the model follows (pieces downloads: progress, rate, sources). */
export interface ModelShare {
  on<K extends keyof FileShareEvents>(type: K, listener: (e: FileShareEvents[K]) => void): unknown;
  off<K extends keyof FileShareEvents>(type: K, listener: (e: FileShareEvents[K]) => void): unknown;
}

/** Least time between two progress updates of one pieces download (one arrives per piece). */
const PIECES_PROGRESS_MS = 100;

/** The dashboard's view of one node. */
export class DashboardModel {
  readonly #node: P2PNode;
  readonly #metrics: NodeMetrics;
  readonly #receiver: ModelReceiver | undefined;
  readonly #chat = new ChatLog();
  readonly #transfers = new Map<string, TransferRow>();
  /** Finished incoming files, by transfer ID: the only paths the dashboard ever serves. */
  readonly #files = new Map<string, string>();
  /** Incoming transfers in flight, by sender and name. */
  readonly #incoming = new Map<string, string>();
  readonly #links = new Map<string, Set<string>>();
  #transferSeq = 0;
  readonly #pendingTransfers = new Set<string>();
  #peersDirty = false;
  #linksDirty = false;
  readonly #detach: (() => void)[] = [];
  /** Called when something changed (the server schedules a flush). */
  onChange: () => void = () => undefined;

  constructor(node: P2PNode, metrics: NodeMetrics, receiver?: ModelReceiver, share?: ModelShare) {
    this.#node = node;
    this.#metrics = metrics;
    this.#receiver = receiver;
    const onMessage = (m: MeshMessage): void => this.#onMessage(m);
    for (const type of MODEL_TYPES) node.on(type, onMessage);
    this.#detach.push(() => {
      for (const type of MODEL_TYPES) node.off(type, onMessage);
    });
    if (receiver) this.#followReceiver(receiver);
    if (share) this.#followShare(share);
  }

  /** Stops following the node. */
  close(): void {
    for (const d of this.#detach.splice(0)) d();
  }

  facts(): NodeFacts {
    const info = this.#node.getPeerInfo();
    return {
      id: info.id,
      shortId: shortPeerId(info.id),
      name: clip(info.name, MAX_NAME_CHARS),
      mode: info.mode,
      port: info.port,
      maxPeers: info.maxPeers,
      networkKeySet: this.#node.hasNetworkKey,
      receiving: this.#receiver !== undefined,
    };
  }

  peers(): PeerRow[] {
    const showOut = this.#metrics.sendHooksWired;
    return this.#node.getPeerInfo().peers.map((p) => {
      const t = this.#metrics.traffic.get(p.id);
      return {
        id: p.id,
        shortId: shortPeerId(p.id),
        name: clip(p.name, MAX_NAME_CHARS),
        address: p.address,
        direction: p.direction,
        rttMs: p.rttMs ?? null,
        bytesIn: t?.bytesIn ?? 0,
        bytesOut: showOut ? (t?.bytesOut ?? 0) : null,
        connectedAt: p.connectedAt,
      };
    });
  }

  /**
   * Links between two peers that are both connected to this node. A peer that left may linger in
   * the others' lists for a while; it is not drawn (this node cannot vouch for it).
   */
  links(): Link[] {
    const connected = new Set(this.#node.getPeerInfo().peers.map((p) => p.id));
    const out: Link[] = [];
    for (const [a, set] of this.#links) {
      if (!connected.has(a)) continue;
      for (const b of set) if (connected.has(b)) out.push([a, b]);
    }
    return out;
  }

  snapshot(): Snapshot {
    return {
      kind: 'snapshot',
      facts: this.facts(),
      peers: this.peers(),
      links: this.links(),
      chat: this.#chat.all(),
      transfers: [...this.#transfers.values()],
    };
  }

  /** Marks the peer rows for resending (RTT and byte counts move without events). */
  touchPeers(): void {
    this.#peersDirty = true;
    this.onChange();
  }

  /** The changes since the last call, or undefined when nothing changed. */
  takeBatch(): Batch | undefined {
    const batch: Batch = { kind: 'batch' };
    let any = false;
    if (this.#peersDirty) {
      batch.peers = this.peers();
      any = true;
    }
    if (this.#linksDirty) {
      batch.links = this.links();
      any = true;
    }
    const chat = this.#chat.takeNew();
    if (chat) {
      batch.chat = chat.lines;
      if (chat.skipped > 0) batch.chatSkipped = chat.skipped;
      any = true;
    }
    if (this.#pendingTransfers.size > 0) {
      batch.transfers = [...this.#pendingTransfers]
        .map((id) => this.#transfers.get(id))
        .filter((t): t is TransferRow => t !== undefined);
      any = true;
    }
    this.#peersDirty = this.#linksDirty = false;
    this.#pendingTransfers.clear();
    return any ? batch : undefined;
  }

  /** Records a chat line this node sent from the page. */
  addOutgoingChat(text: string, toId?: string): void {
    const to = toId ? this.#node.getPeerInfo().peers.find((p) => p.id === toId) : undefined;
    const name = clip(this.#node.name, MAX_NAME_CHARS);
    const toName = to ? clip(to.name, MAX_NAME_CHARS) : undefined;
    if (this.#chat.addOutgoing(this.#node.id, name, text, toName)) this.onChange();
  }

  /** Adds an outgoing transfer; returns its ID. */
  startOutgoing(name: string, size: number, peerIds: readonly string[]): string {
    const names = this.#namesOf(peerIds);
    return this.#putTransfer({
      direction: 'out',
      via: 'push',
      name,
      size,
      bytes: 0,
      peers: names,
      state: 'running',
    });
  }

  /** Updates a transfer's fields and queues it for the next batch. */
  updateTransfer(id: string, change: Partial<TransferRow>): void {
    const t = this.#transfers.get(id);
    if (!t) return;
    Object.assign(t, change);
    this.#pendingTransfers.add(id);
    this.onChange();
  }

  /** Path of a finished incoming file, by transfer ID. */
  downloadPath(id: string): { path: string; name: string } | undefined {
    const path = this.#files.get(id);
    const t = this.#transfers.get(id);
    return path && t ? { path, name: t.name } : undefined;
  }

  #namesOf(ids: readonly string[]): string[] {
    const byId = new Map(this.#node.getPeerInfo().peers.map((p) => [p.id, p.name]));
    return ids.map((id) => clip(byId.get(id) ?? shortPeerId(id), MAX_NAME_CHARS));
  }

  #putTransfer(row: Omit<TransferRow, 'id' | 'downloadable'>): string {
    const id = `t${++this.#transferSeq}`;
    this.#transfers.set(id, { id, downloadable: false, ...row });
    if (this.#transfers.size > MAX_TRANSFERS) {
      // Evict the oldest finished transfer; running ones stay (the receiver caps those).
      for (const [oldId, t] of this.#transfers) {
        if (t.state !== 'running') {
          this.#transfers.delete(oldId);
          this.#files.delete(oldId);
          break;
        }
      }
    }
    this.#pendingTransfers.add(id);
    this.onChange();
    return id;
  }

  #onMessage(m: MeshMessage): void {
    switch (m.type) {
      case 'chat':
        // The hot path under a chat burst: one ring write; the page hears of it at the next flush.
        this.#peersDirty = true; // its byte count moved
        if (this.#chat.addIncoming(m)) this.onChange();
        return;
      case 'peer-connected':
        // Links reported earlier to or from this peer become drawable.
        this.#peersDirty = this.#linksDirty = true;
        this.onChange();
        return;
      case 'peer-disconnected':
        this.#peersDirty = true;
        this.#forgetLinks(m.peer.id);
        this.onChange();
        return;
      case 'peers-discovered':
        if (m.from) this.#addLinks(m.from.id, m.addresses);
        return;
      case 'peer-response':
        if (m.direction === 'received' && m.addresses) this.#addLinks(m.peer.id, m.addresses);
        return;
      default:
        return;
    }
  }

  /** Records that `fromId` reported these addresses as its peers, for those we can name. */
  #addLinks(fromId: string, addresses: readonly string[]): void {
    const info = this.#node.getPeerInfo();
    const idAt = new Map<string, string>();
    for (const k of info.known) if (k.id) idAt.set(k.address, k.id);
    for (const p of info.peers) idAt.set(p.address, p.id);
    let set = this.#links.get(fromId);
    for (const address of addresses) {
      const id = idAt.get(address);
      if (!id || id === fromId || id === info.id) continue;
      set ??= new Set();
      if (set.size >= MAX_LINKS_PER_PEER || set.has(id)) continue;
      set.add(id);
      this.#linksDirty = true;
    }
    if (set && set.size > 0) this.#links.set(fromId, set);
    if (this.#linksDirty) this.onChange();
  }

  #forgetLinks(id: string): void {
    if (this.#links.delete(id)) this.#linksDirty = true;
    for (const set of this.#links.values()) if (set.delete(id)) this.#linksDirty = true;
  }

  #followReceiver(r: ModelReceiver): void {
    const key = (e: { from: { id: string }; name?: string }): string => `${e.from.id}\u0000${e.name ?? ''}`;
    const onStart = (e: FileReceiverEvents['file-start']): void => {
      const id = this.#putTransfer({
        direction: 'in',
        via: 'push',
        name: e.name,
        size: e.size,
        bytes: 0,
        peers: [clip(e.from.name, MAX_NAME_CHARS)],
        state: 'running',
      });
      const previous = this.#incoming.get(key(e));
      if (previous) this.updateTransfer(previous, { state: 'failed', error: 'restarted by the sender' });
      this.#incoming.set(key(e), id);
    };
    const onProgress = (e: FileReceiverEvents['file-progress']): void => {
      const id = this.#incoming.get(key(e));
      if (id) this.updateTransfer(id, { bytes: e.bytesReceived, rate: Math.round(e.rate) });
    };
    const onComplete = (e: FileReceiverEvents['file-complete']): void => {
      const id = this.#incoming.get(key(e));
      if (!id) return;
      this.#incoming.delete(key(e));
      this.#files.set(id, e.path);
      this.updateTransfer(id, { bytes: e.size, state: 'done', sha256: e.sha256, downloadable: true });
    };
    const onError = (e: FileReceiverEvents['file-error']): void => {
      const id = this.#incoming.get(key(e));
      if (!id) return;
      this.#incoming.delete(key(e));
      this.updateTransfer(id, { state: 'failed', error: e.error.code });
    };
    r.on('file-start', onStart);
    r.on('file-progress', onProgress);
    r.on('file-complete', onComplete);
    r.on('file-error', onError);
    this.#detach.push(() => {
      r.off('file-start', onStart);
      r.off('file-progress', onProgress);
      r.off('file-complete', onComplete);
      r.off('file-error', onError);
    });
  }

  #followShare(share: ModelShare): void {
    /** rootHex -> transfer ID, and when its progress was last sent. */
    const rows = new Map<string, { id: string; sentAt: number }>();
    type D = FileShareEvents['download-progress']['download'];
    const fields = (d: D): Partial<TransferRow> => {
      const seconds = (performance.now() - d.startedAt) / 1000;
      return {
        bytes: d.bytesDone,
        rate: seconds > 0 ? Math.round(d.bytesThisSession / seconds) : 0,
        peers: this.#namesOf(d.activeSources),
        note: d.status === 'waiting' ? 'waiting for a source' : '',
      };
    };
    const onStart = (e: FileShareEvents['download-start']): void => {
      const d = e.download;
      const previous = rows.get(d.offer.rootHex);
      if (previous) this.updateTransfer(previous.id, { state: 'failed', error: 'restarted' });
      const id = this.#putTransfer({
        direction: 'in',
        via: 'pieces',
        name: clip(d.offer.name, MAX_NAME_CHARS),
        size: d.offer.size,
        state: 'running',
        bytes: 0,
        peers: [],
        ...fields(d),
      });
      rows.set(d.offer.rootHex, { id, sentAt: performance.now() });
    };
    const onProgress = (e: FileShareEvents['download-progress']): void => {
      const row = rows.get(e.download.offer.rootHex);
      const now = performance.now();
      // One event per piece: the page needs a few per second, not thousands.
      if (!row || now - row.sentAt < PIECES_PROGRESS_MS) return;
      row.sentAt = now;
      this.updateTransfer(row.id, fields(e.download));
    };
    const onPaused = (e: FileShareEvents['download-paused']): void => {
      const row = rows.get(e.download.offer.rootHex);
      if (row) this.updateTransfer(row.id, fields(e.download));
    };
    const onComplete = (e: FileShareEvents['download-complete']): void => {
      const row = rows.get(e.download.offer.rootHex);
      if (!row) return;
      rows.delete(e.download.offer.rootHex);
      this.#files.set(row.id, e.path);
      this.updateTransfer(row.id, { ...fields(e.download), state: 'done', note: '', downloadable: true });
    };
    const onFailed = (e: FileShareEvents['download-failed']): void => {
      const row = rows.get(e.download.offer.rootHex);
      if (!row) return;
      rows.delete(e.download.offer.rootHex);
      this.updateTransfer(row.id, { state: 'failed', error: e.error.code, note: '' });
    };
    share.on('download-start', onStart);
    share.on('download-progress', onProgress);
    share.on('download-paused', onPaused);
    share.on('download-complete', onComplete);
    share.on('download-failed', onFailed);
    this.#detach.push(() => {
      share.off('download-start', onStart);
      share.off('download-progress', onProgress);
      share.off('download-paused', onPaused);
      share.off('download-complete', onComplete);
      share.off('download-failed', onFailed);
    });
  }
}
