/**
 * Colour: whether to use it (FORCE_COLOR, NO_COLOR, the terminal's own answer) and how lines
 * look with it, through `util.styleText`. Status lines are `[time] [CATEGORY] text`; chat lines
 * are `[time] <name id> text`, bold, so the two never look alike even without colour.
 */
import { styleText } from 'node:util';
import type { Detail, Line } from './event-text.js';
import { formatTime } from './units.js';

type Style = Parameters<typeof styleText>[0];

const STYLES: Record<Line['kind'], Style> = {
  SYSTEM: 'cyan',
  NETWORK: 'green',
  DISCOVERY: 'blue',
  BOOTSTRAP: 'magenta',
  MAINTENANCE: 'yellow',
  FILE: 'cyanBright',
  BYTES: 'blueBright',
  PEERS: 'cyan',
  ERROR: 'red',
  DEBUG: 'gray',
  chat: 'bold',
  'own-chat': ['bold', 'green'],
};

/** An output stream as far as colour is concerned (a tty.WriteStream answers `hasColors`). */
export interface ColourTarget {
  isTTY?: boolean;
  hasColors?: (env?: Record<string, string | undefined>) => boolean;
}

/**
 * Whether to colour output written to `stream`. `FORCE_COLOR` decides first, as in Node itself
 * (`0` or `false`: never; any other value: always, even into a pipe); then `NO_COLOR`
 * (no-color.org: set and not empty) and `NODE_DISABLE_COLORS` turn colour off; otherwise only a
 * terminal that says it has colours (`stream.hasColors()`, which knows `TERM=dumb`) gets them.
 */
export function shouldColor(stream: ColourTarget, env: Record<string, string | undefined>): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if ((env.NO_COLOR !== undefined && env.NO_COLOR !== '') || env.NODE_DISABLE_COLORS !== undefined)
    return false;
  if (stream.isTTY !== true) return false;
  if (typeof stream.hasColors === 'function') return stream.hasColors(env);
  return env.TERM !== 'dumb';
}

/** `text` in `style` when `color` is set. The caller decided about the stream already. */
export function paint(style: Style, text: string, color: boolean): string {
  // styleText appeared in Node 20.12; without it, plain text is still correct output.
  if (!color || typeof styleText !== 'function') return text;
  return styleText(style, text, { validateStream: false });
}

/** `[15:04:35] [NETWORK] Peer bob connected …` or `[15:04:36] <bob 8e47bc50> hi`, coloured when `color` is set. */
export function renderLine(item: Line | Detail, color = false): string {
  if (item.kind === 'detail') return `    ${item.text}`;
  const time = paint('dim', `[${formatTime(item.time)}]`, color);
  const chat = item.kind === 'chat' || item.kind === 'own-chat';
  const label = paint(STYLES[item.kind], chat ? `<${item.label}>` : `[${item.label}]`, color);
  const text = item.kind === 'ERROR' ? paint('red', item.text, color) : item.text;
  return `${time} ${label} ${text}`;
}

/** The text of an input line echoed by the interactive prompt (dimmed). */
export function renderEcho(text: string, color = false): string {
  return paint('dim', text, color);
}
