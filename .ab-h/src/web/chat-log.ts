/**
 * The dashboard's chat history: a fixed ring of the last {@link MAX_CHAT_LINES} messages. An
 * incoming message costs one array write (the node's own message object is kept, nothing is
 * copied); display lines are built only when a batch or snapshot is taken, and only for what the
 * page will show. So a chat burst of hundreds of thousands of messages per second stays cheap.
 */
import type { ChatMessage } from '../messages.js';
import type { ChatLine } from './live-types.js';

/** Chat lines kept for pages (and sent at most per batch). */
export const MAX_CHAT_LINES = 500;
/** Characters of one chat message shown; the rest is cut (and marked as cut). */
export const MAX_CHAT_DISPLAY_CHARS = 8_192;
/** Characters of a peer name shown. */
export const MAX_NAME_CHARS = 128;

/** Cuts `text` to `max` characters. */
export function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

/** A line sent from the page, stored ready-made. */
interface Outgoing {
  outgoing: true;
  time: number;
  fromId: string;
  fromName: string;
  text: string;
  toName?: string;
}

export class ChatLog {
  readonly #ring: (ChatMessage | Outgoing | undefined)[] = new Array(MAX_CHAT_LINES);
  /** Messages ever added; the newest has sequence number `#total`. */
  #total = 0;
  /** Sequence number of the last message handed out in a batch. */
  #sent = 0;

  /** Adds a received message; returns true when it is the first since the last batch. */
  addIncoming(m: ChatMessage): boolean {
    this.#ring[this.#total++ % MAX_CHAT_LINES] = m;
    return this.#total - 1 === this.#sent;
  }

  /** Adds a line sent from this node; returns true when it is the first since the last batch. */
  addOutgoing(fromId: string, fromName: string, text: string, toName?: string): boolean {
    const line: Outgoing = { outgoing: true, time: Date.now(), fromId, fromName, text };
    if (toName !== undefined) line.toName = toName;
    this.#ring[this.#total++ % MAX_CHAT_LINES] = line;
    return this.#total - 1 === this.#sent;
  }

  /** Every line kept, oldest first. */
  all(): ChatLine[] {
    return this.#lines(Math.max(0, this.#total - MAX_CHAT_LINES));
  }

  /** Lines added since the last call (at most the ring), and how many older ones were skipped. */
  takeNew(): { lines: ChatLine[]; skipped: number } | undefined {
    if (this.#sent === this.#total) return undefined;
    const from = Math.max(this.#sent, this.#total - MAX_CHAT_LINES);
    const skipped = from - this.#sent;
    const lines = this.#lines(from);
    this.#sent = this.#total;
    return { lines, skipped };
  }

  /** Marks everything as sent (a new snapshot covers it). */
  markSent(): void {
    this.#sent = this.#total;
  }

  #lines(from: number): ChatLine[] {
    const out: ChatLine[] = [];
    for (let i = from; i < this.#total; i++) {
      const e = this.#ring[i % MAX_CHAT_LINES];
      if (!e) continue;
      const text = clip(e.text, MAX_CHAT_DISPLAY_CHARS);
      const incoming = !('outgoing' in e);
      const line: ChatLine = {
        seq: i + 1,
        time: e.time,
        fromId: incoming ? e.from.id : e.fromId,
        fromName: incoming ? clip(e.from.name, MAX_NAME_CHARS) : e.fromName,
        text,
        truncated: text.length < e.text.length,
        outgoing: !incoming,
      };
      if (!incoming && e.toName !== undefined) line.toName = e.toName;
      out.push(line);
    }
    return out;
  }
}
