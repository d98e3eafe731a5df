/** The peer table, chat, transfers and node facts, rebuilt from state with textContent only. */
import type { ChatLine, NodeFacts, PeerRow, TransferRow } from '../../src/web/live-types.js';
import { clock, el, formatBytes, since } from './dom.js';

/** Most chat lines kept in the page. */
const MAX_CHAT_LINES = 500;

export function renderFacts(dl: HTMLElement, f: NodeFacts, peerCount: number): void {
  const rows: [string, string][] = [
    ['name', f.name],
    ['ID', f.shortId],
    ['mode', f.mode],
    ['port', String(f.port)],
    ['network key', f.networkKeySet ? 'set' : 'not set'],
    ['peers', `${peerCount} / ${f.maxPeers}`],
  ];
  dl.replaceChildren(
    ...rows.map(([k, v]) => {
      const div = el('div');
      div.dataset.fact = k;
      div.append(el('dt', undefined, k), el('dd', undefined, v));
      return div;
    }),
  );
  dl.title = f.id;
}

export function renderPeers(tbody: HTMLElement, peers: readonly PeerRow[]): void {
  const now = Date.now();
  tbody.replaceChildren(
    ...peers.map((p) => {
      const tr = el('tr');
      tr.dataset.id = p.id;
      const cells: [string, string?][] = [
        [p.name, 'name'],
        [p.shortId, 'mono'],
        [p.address, 'mono'],
        [p.direction === 'inbound' ? 'in' : 'out'],
        [p.rttMs === null ? '–' : `${p.rttMs.toFixed(1)} ms`],
        [formatBytes(p.bytesIn)],
        [p.bytesOut === null ? '–' : formatBytes(p.bytesOut)],
        [since(p.connectedAt, now)],
      ];
      for (const [text, cls] of cells) tr.append(el('td', cls, text));
      tr.title = `${p.name} (${p.id})`;
      return tr;
    }),
  );
}

/** Appends chat lines not shown yet (by sequence number). */
export class ChatView {
  #lastSeq = 0;
  constructor(readonly list: HTMLOListElement) {}

  reset(lines: readonly ChatLine[]): void {
    this.list.replaceChildren();
    this.#lastSeq = 0;
    this.append(lines);
  }

  /** Notes that `n` lines of a burst were not sent to the page. */
  skipped(n: number): void {
    const li = el('li', 'skipped', `… ${n} more messages arrived in this burst (not shown)`);
    this.list.append(li);
  }

  append(lines: readonly ChatLine[]): void {
    const stick = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 8;
    for (const line of lines) {
      if (line.seq <= this.#lastSeq) continue;
      this.#lastSeq = line.seq;
      const li = el('li', line.outgoing ? 'outgoing' : 'incoming');
      li.dataset.from = line.fromId;
      li.append(
        el('span', 'time', clock(line.time)),
        el('span', 'from', line.toName ? `${line.fromName} → ${line.toName}` : line.fromName),
        el('span', 'text', line.truncated ? `${line.text}…` : line.text),
      );
      this.list.append(li);
    }
    while (this.list.childElementCount > MAX_CHAT_LINES) this.list.firstElementChild?.remove();
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }
}

/** The transfer list, keyed by transfer ID. */
export class TransfersView {
  readonly #rows = new Map<string, HTMLLIElement>();
  constructor(
    readonly list: HTMLUListElement,
    readonly onDownload: (t: TransferRow) => void,
  ) {}

  reset(all: readonly TransferRow[]): void {
    this.list.replaceChildren();
    this.#rows.clear();
    this.update(all);
  }

  update(changed: readonly TransferRow[]): void {
    for (const t of changed) {
      let li = this.#rows.get(t.id);
      if (!li) {
        li = el('li');
        li.dataset.id = t.id;
        this.#rows.set(t.id, li);
        this.list.prepend(li);
      }
      li.className = t.state;
      li.dataset.direction = t.direction;
      li.dataset.state = t.state;
      const progress = el('progress');
      progress.max = Math.max(t.size, 1);
      progress.value = t.size === 0 ? (t.state === 'done' ? 1 : 0) : t.bytes;
      const pct = t.size === 0 ? (t.state === 'done' ? 100 : 0) : Math.floor((t.bytes / t.size) * 100);
      const who =
        t.direction === 'in' ? `from ${t.peers.join(', ')}` : `to ${t.peers.join(', ') || 'nobody'}`;
      const how = t.via === 'pieces' ? ' · pieces' : '';
      const rate = t.state === 'running' && t.rate ? ` · ${formatBytes(t.rate)}/s` : '';
      const note = t.note ? ` · ${t.note}` : '';
      const name = el('span', 'name', `${t.name} (${formatBytes(t.size)}) ${who}${how}${rate}${note}`);
      // The row may be cut to its width: the tooltip has it all.
      name.title = t.sha256 ? `${name.textContent} SHA-256 ${t.sha256}` : (name.textContent ?? '');
      const state = el('span', 'state', t.state === 'failed' ? `failed: ${t.error ?? ''}` : `${pct}%`);
      const action = el('span', 'action');
      if (t.downloadable) {
        const b = el('button', 'download', 'Download');
        b.type = 'button';
        b.addEventListener('click', () => this.onDownload(t));
        action.append(b);
      }
      li.replaceChildren(el('span', 'dir', t.direction === 'in' ? '↓' : '↑'), name, progress, state, action);
    }
  }
}
