/**
 * Tiny DOM helpers. Text from peers only ever goes through `textContent` (never `innerHTML`),
 * so a name like `<img src=x onerror=…>` is shown as the characters it is.
 */

/** The element with `id`, typed; throws when the page lacks it. */
export function byId<T extends HTMLElement | SVGElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing #${id}`);
  return el as unknown as T;
}

/** Creates an element with a class and text content. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Creates an SVG element. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  className?: string,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG_NS, tag);
  if (className) e.setAttribute('class', className);
  return e;
}

/** `1.2 KiB`-style sizes. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** The RTT class used for colours: a < 5 ms, b < 50, c < 200, d slower, none unknown. */
export function rttClass(rttMs: number | null): string {
  if (rttMs === null) return 'rtt-none';
  if (rttMs < 5) return 'rtt-a';
  if (rttMs < 50) return 'rtt-b';
  if (rttMs < 200) return 'rtt-c';
  return 'rtt-d';
}

/** `hh:mm:ss` of a timestamp. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** How long ago, roughly. */
export function since(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
}
