/**
 * `--accept-files ask`: offers pushed by peers are put to the user one at a time as a y/n
 * question answered on the input line; an unanswered question refuses after a timeout, so a
 * peer can never keep an offer waiting forever.
 */

/** How long a question waits for y/n before the offer is refused. */
export const DEFAULT_ACCEPT_TIMEOUT_MS = 60_000;

/** Questions waiting at once; more offers are refused at once (a peer cannot queue many). */
export const MAX_QUEUED_QUESTIONS = 16;

interface Question {
  ask: () => void;
  settle: (accepted: boolean, by: 'user' | 'timeout') => void;
}

/** The y/n answer in a typed line, or `undefined` when the line is not an answer. */
export function parseAnswer(line: string): boolean | undefined {
  const word = line.trim().toLowerCase();
  if (word === 'y' || word === 'yes') return true;
  if (word === 'n' || word === 'no') return false;
  return undefined;
}

/** Asks queued yes/no questions one at a time; the input line answers the current one. */
export class AcceptPrompt {
  readonly timeoutMs: number;
  readonly #queue: Question[] = [];
  #current: { question: Question; timer: NodeJS.Timeout } | undefined;

  constructor(timeoutMs = DEFAULT_ACCEPT_TIMEOUT_MS) {
    this.timeoutMs = timeoutMs;
  }

  /** Whether a question is waiting for its answer. */
  get pending(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Queues a question: `ask` prints it when its turn comes; resolves with the answer (`false`
   * after the timeout, or at once when too many questions wait).
   */
  question(ask: () => void): Promise<{ accepted: boolean; by: 'user' | 'timeout' | 'queue' }> {
    if (this.#queue.length >= MAX_QUEUED_QUESTIONS) return Promise.resolve({ accepted: false, by: 'queue' });
    return new Promise((resolve) => {
      this.#queue.push({ ask, settle: (accepted, by) => resolve({ accepted, by }) });
      if (!this.#current) this.#next();
    });
  }

  #next(): void {
    const question = this.#queue.shift();
    if (!question) return;
    const timer = setTimeout(() => this.#settle(false, 'timeout'), this.timeoutMs);
    timer.unref();
    this.#current = { question, timer };
    question.ask();
  }

  #settle(accepted: boolean, by: 'user' | 'timeout'): void {
    const current = this.#current;
    if (!current) return;
    clearTimeout(current.timer);
    this.#current = undefined;
    current.question.settle(accepted, by);
    this.#next();
  }

  /** Takes `line` as the answer to the current question; false when it is not one (or none waits). */
  answer(line: string): boolean {
    if (!this.#current) return false;
    const accepted = parseAnswer(line);
    if (accepted === undefined) return false;
    this.#settle(accepted, 'user');
    return true;
  }

  /** Refuses every question (shutdown). */
  close(): void {
    for (const q of this.#queue.splice(0)) q.settle(false, 'timeout');
    this.#settle(false, 'timeout');
  }
}
