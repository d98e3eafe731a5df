/**
 * Text from the network made safe for a terminal. Pure.
 */

/**
 * Makes text from the network safe to print on a terminal: control characters (C0, DEL, C1,
 * which includes ESC and so every ANSI sequence) and bidi overrides become visible escapes, so
 * a peer cannot move the cursor, recolour or rewrite the user's screen, or fake a line.
 * (Escaping, unlike `util.stripVTControlCharacters`, also shows that something was there.)
 */
export function sanitize(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu, (c) => escapeChar(c));
}

function escapeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  return code <= 0xff
    ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}`
    : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A peer's name made safe for the `<name id>` label of a chat line: {@link sanitize}, and the
 * angle brackets escaped too, so a name cannot close the label early and fake another sender.
 */
export function sanitizeLabel(text: string): string {
  return sanitize(text).replace(/[<>]/g, (c) => escapeChar(c));
}
