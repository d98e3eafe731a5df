/**
 * Progress of file transfers: live bars in the screen's status area on a terminal, otherwise
 * throttled progress lines (at most ~2 per second per transfer, plus the final one).
 */
import type { CliEvent } from './cli-events.js';
import { ProgressThrottle, renderProgressBar, type ProgressState } from './progress-bar.js';
import type { Screen } from './screen.js';

/** Shows transfers' progress as live bars on a terminal, else as throttled lines. */
export class ProgressView {
  readonly #screen: Screen;
  readonly #emit: (event: CliEvent) => void;
  readonly #throttle: ProgressThrottle;
  readonly #now: () => number;

  /**
   * @param emit prints a progress event as a line (text or JSON) when not drawing live bars.
   */
  constructor(
    screen: Screen,
    emit: (event: CliEvent) => void,
    options: { intervalMs?: number; now?: () => number } = {},
  ) {
    this.#screen = screen;
    this.#emit = emit;
    this.#throttle = new ProgressThrottle(options.intervalMs ?? 500);
    this.#now = options.now ?? Date.now;
  }

  /** Reports the transfer `key`'s progress: redraws its bar, or prints `event` if due. */
  update(key: string, state: ProgressState, event: CliEvent): void {
    if (this.#screen.live) {
      const snapshot = { ...state };
      this.#screen.setStatus(key, (width) => renderProgressBar(snapshot, width));
      return;
    }
    if (this.#throttle.shouldReport(key, this.#now(), state.done >= state.total)) this.#emit(event);
  }

  /** The transfer `key` ended (its completion or error is printed by the caller). */
  end(key: string): void {
    this.#screen.removeStatus(key);
    this.#throttle.forget(key);
  }
}
