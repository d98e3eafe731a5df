/**
 * Terminal output with a live area at the bottom: log lines scroll above, progress bars and the
 * input prompt stay below and are redrawn in place. When stdout is not a terminal, it is a plain
 * line writer (no cursor movement, no status area).
 */
import { clearScreenDown, cursorTo, moveCursor, type Interface } from 'node:readline';
import { cursorRow, rowsFor, truncateToWidth } from './text-width.js';

/** Renders a status line for a terminal `width` columns wide. */
export type StatusRenderer = (width: number) => string;

/** Smallest interval between two redraws caused by status updates alone. */
const REDRAW_INTERVAL_MS = 100;

/** The CLI's output: plain lines, plus on a terminal a live area (bars, prompt) redrawn in place. */
export class Screen {
  readonly #out: NodeJS.WritableStream & { columns?: number };
  readonly #live: boolean;
  #rl: Interface | undefined;
  readonly #status = new Map<string, StatusRenderer>();
  /** Status rows currently on screen above the prompt. */
  #drawnRows = 0;
  #promptDrawn = false;
  /** Set after Enter: rows between the cursor and the start of the submitted input. */
  #submittedRows: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastDraw = 0;
  #closed = false;

  /** `live`: the output is a terminal and may be redrawn in place. */
  constructor(out: NodeJS.WritableStream & { columns?: number }, live: boolean) {
    this.#out = out;
    this.#live = live;
  }

  /** Whether progress is shown as live bars (terminal) rather than lines. */
  get live(): boolean {
    return this.#live;
  }

  get columns(): number {
    return Math.max(20, this.#out.columns ?? 80);
  }

  /** Attaches the interactive readline interface whose prompt is kept at the bottom. */
  attach(rl: Interface): void {
    this.#rl = rl;
    this.#redraw();
  }

  /** Prints complete lines (without trailing newline) above the live area. */
  print(lines: string | readonly string[]): void {
    const text = typeof lines === 'string' ? lines : lines.join('\n');
    if (!this.#live) {
      this.#out.write(text + '\n');
      return;
    }
    this.#erase();
    this.#out.write(text + '\n');
    this.#draw();
  }

  /** Shows or updates the status line `key` (redrawn at most every 100 ms). */
  setStatus(key: string, render: StatusRenderer): void {
    if (!this.#live) return;
    this.#status.set(key, render);
    this.#scheduleRedraw();
  }

  /** Removes the status line `key`. */
  removeStatus(key: string): void {
    if (!this.#live || !this.#status.delete(key)) return;
    this.#redraw();
  }

  /**
   * Called when the user pressed Enter on `line` at the prompt: readline has moved to a new row,
   * so the input is erased here; `echo` (if given) is printed in its place.
   */
  submitted(prompt: string, line: string, echo?: string): void {
    if (!this.#live || !this.#rl) return;
    this.#submittedRows = rowsFor(prompt + line, this.columns);
    this.#erase();
    if (echo !== undefined) this.#out.write(echo + '\n');
    this.#draw();
  }

  /** Clears the live area for good (before exit); later prints are plain lines. */
  close(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    if (this.#live) this.#erase();
    this.#closed = true;
    this.#status.clear();
    this.#rl = undefined;
  }

  #scheduleRedraw(): void {
    if (this.#timer) return;
    const wait = Math.max(0, this.#lastDraw + REDRAW_INTERVAL_MS - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#redraw();
    }, wait);
    this.#timer.unref();
  }

  #redraw(): void {
    if (!this.#live || this.#closed) return;
    this.#erase();
    this.#draw();
  }

  /** Moves to the top of the live area and clears everything below. */
  #erase(): void {
    if (this.#closed) return;
    let up = this.#drawnRows;
    if (this.#submittedRows !== undefined) up += this.#submittedRows;
    else if (this.#promptDrawn && this.#rl) up += this.#cursorRow(this.#rl);
    if (up === 0 && !this.#promptDrawn && this.#submittedRows === undefined) return;
    cursorTo(this.#out, 0);
    if (up > 0) moveCursor(this.#out, 0, -up);
    clearScreenDown(this.#out);
    this.#drawnRows = 0;
    this.#promptDrawn = false;
    this.#submittedRows = undefined;
  }

  /**
   * The row of the cursor below the prompt's first row. readline's own getCursorPos() measures
   * with Node's internal width table, which misses many emoji (U+1F680 counts as one column),
   * so a long line of them left a stray row; this measures with text-width's Unicode data.
   */
  #cursorRow(rl: Interface): number {
    const prompt = rl.getPrompt();
    return cursorRow(prompt + rl.line.slice(0, rl.cursor), this.columns);
  }

  #draw(): void {
    if (this.#closed) return;
    this.#lastDraw = Date.now();
    const width = this.columns - 1;
    for (const render of this.#status.values()) {
      this.#out.write(truncateToWidth(render(width), width) + '\n');
      this.#drawnRows++;
    }
    if (this.#rl) {
      // We just cleared the prompt rows ourselves; readline must redraw from the current row.
      (this.#rl as unknown as { prevRows?: number }).prevRows = 0;
      this.#rl.prompt(true);
      this.#promptDrawn = true;
    }
  }
}
