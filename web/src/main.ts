/** The dashboard page: wires the live state to the views and the forms to the API. */
import type { Link, LiveUpdate, NodeFacts, PeerRow, TransferRow } from '../../src/web/live-types.js';
import { Api, ApiError, takeToken } from './api.js';
import { byId, el } from './dom.js';
import { MeshGraph } from './graph.js';
import { ChatView, renderFacts, renderPeers, TransfersView } from './views.js';

const status = byId('status');
const token = takeToken();

function setStatus(text: string, state: 'live' | 'connecting' | 'error'): void {
  status.textContent = text;
  status.dataset.state = state;
}

if (!token) {
  setStatus('no token: open the URL the node printed (…/#token=…)', 'error');
} else {
  start(new Api(token));
}

function start(api: Api): void {
  let facts: NodeFacts | undefined;
  let peers: PeerRow[] = [];
  let links: Link[] = [];
  const graph = new MeshGraph(byId<SVGGElement>('nodes'), byId<SVGGElement>('edges'));
  const chat = new ChatView(byId<HTMLOListElement>('chat'));
  const chatError = byId('chat-error');
  const fileError = byId('file-error');
  const transfers = new TransfersView(byId<HTMLUListElement>('transfers'), (t: TransferRow) => {
    api.download(t.id, t.name).catch((err: unknown) => (fileError.textContent = String(err)));
  });
  const targets = [byId<HTMLSelectElement>('chat-to'), byId<HTMLSelectElement>('file-to')];

  const renderTargets = (): void => {
    for (const select of targets) {
      const current = select.value;
      const options = [el('option', undefined, 'everyone')];
      options[0]!.value = '';
      for (const p of peers) {
        const o = el('option', undefined, `${p.name} (${p.shortId})`);
        o.value = p.id;
        options.push(o);
      }
      select.replaceChildren(...options);
      select.value = peers.some((p) => p.id === current) ? current : '';
    }
  };
  const renderMesh = (): void => {
    if (!facts) return;
    renderFacts(byId('facts'), facts, peers.length);
    renderPeers(byId('peers').querySelector('tbody')!, peers);
    byId('peer-count').textContent = `(${peers.length})`;
    graph.update({ id: facts.id, name: facts.name }, peers, links);
    renderTargets();
  };

  const apply = (u: LiveUpdate): void => {
    if (u.kind === 'snapshot') {
      facts = u.facts;
      peers = u.peers;
      links = u.links;
      chat.reset(u.chat);
      transfers.reset(u.transfers);
      byId('files-panel').dataset.receiving = String(u.facts.receiving);
      renderMesh();
      return;
    }
    if (u.peers) peers = u.peers;
    if (u.links) links = u.links;
    if (u.peers || u.links) renderMesh();
    if (u.chatSkipped) chat.skipped(u.chatSkipped);
    if (u.chat) chat.append(u.chat);
    if (u.transfers) transfers.update(u.transfers);
  };
  api.follow(apply, (state, fatal) => {
    if (fatal) setStatus(state, 'error');
    else setStatus(state, state === 'live' ? 'live' : 'connecting');
  });

  const form = byId<HTMLFormElement>('chat-form');
  const input = byId<HTMLInputElement>('chat-text');
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    if (!text) return;
    chatError.textContent = '';
    api
      .chat(text, targets[0]!.value || undefined)
      .then(() => (input.value = ''))
      .catch((err: unknown) => (chatError.textContent = err instanceof ApiError ? err.message : String(err)));
  });

  const send = (files: Iterable<File>): void => {
    fileError.textContent = '';
    for (const file of files) {
      api
        .sendFile(file, targets[1]!.value || undefined)
        .catch(
          (err: unknown) =>
            (fileError.textContent = `${file.name}: ${err instanceof Error ? err.message : String(err)}`),
        );
    }
  };
  const picker = byId<HTMLInputElement>('file-input');
  picker.addEventListener('change', () => {
    if (picker.files) send([...picker.files]);
    picker.value = '';
  });
  const drop = byId('drop');
  document.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  });
  document.addEventListener('dragleave', () => drop.classList.remove('over'));
  document.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    if (ev.dataTransfer?.files) send([...ev.dataTransfer.files]);
  });
  // Connected-since and RTT columns age between updates.
  setInterval(() => renderPeers(byId('peers').querySelector('tbody')!, peers), 5_000);
}
