/**
 * How many terminal columns text takes, with the Unicode East Asian Width data of the
 * maintained `get-east-asian-width` package, grapheme clusters from `Intl.Segmenter` and emoji
 * sequences from the `RGI_Emoji` property. Pure.
 */
import { stripVTControlCharacters } from 'node:util';
import { eastAsianWidth } from 'get-east-asian-width';

const segmenter = new Intl.Segmenter();
/** One emoji as terminals draw it (two columns), including ZWJ and keycap sequences. */
// Built at run time: TypeScript refuses the v flag below target ES2024, Node 20 has it.
const RGI_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
/** Code points that take no column of their own: marks, format characters, controls. */
const ZERO_WIDTH = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;

/** Columns one grapheme cluster takes: 0, 1 or 2. */
function graphemeWidth(grapheme: string): number {
  if (RGI_EMOJI.test(grapheme)) return 2;
  const first = String.fromCodePoint(grapheme.codePointAt(0) ?? 0);
  if (ZERO_WIDTH.test(first)) return 0;
  return eastAsianWidth(first.codePointAt(0) ?? 0);
}

/** Columns `text` takes on a terminal (ANSI escape sequences count 0). */
export function displayWidth(text: string): number {
  let width = 0;
  for (const { segment } of segmenter.segment(stripVTControlCharacters(text)))
    width += graphemeWidth(segment);
  return width;
}

/**
 * Cuts `text` to at most `width` columns, marking a cut with `…`. Cuts between grapheme
 * clusters, so an emoji or an accented letter is never split. `text` must be free of escape
 * sequences (style it after cutting).
 */
export function truncateToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let used = 0;
  for (const { segment } of segmenter.segment(text)) {
    const w = graphemeWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return out + '…';
}

/**
 * Rows `text` fills on a terminal `columns` wide once it wraps (at least 1). A wide character
 * that does not fit at the end of a row moves to the next one, as terminals do.
 */
export function rowsFor(text: string, columns: number): number {
  const cols = Math.max(1, columns);
  let rows = 1;
  let used = 0;
  for (const { segment } of segmenter.segment(stripVTControlCharacters(text))) {
    const w = graphemeWidth(segment);
    if (used + w > cols) {
      rows++;
      used = 0;
    }
    used += w;
  }
  return rows;
}

/**
 * The row (0-based, from the row where `text` starts) on which the cursor sits after `text`
 * was written to a terminal `columns` wide. Like readline, text that exactly fills its last row
 * puts the cursor on the next one.
 */
export function cursorRow(text: string, columns: number): number {
  const cols = Math.max(1, columns);
  let row = 0;
  let used = 0;
  for (const { segment } of segmenter.segment(stripVTControlCharacters(text))) {
    const w = graphemeWidth(segment);
    if (used + w > cols) {
      row++;
      used = 0;
    }
    used += w;
  }
  return used >= cols ? row + 1 : row;
}
