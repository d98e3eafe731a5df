/** The results table (stdout) and the JSON file (bench/results/). */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Row } from './context.js';
import type { MachineInfo } from './machine.js';
import { round } from './stats.js';

/** Formats a number with a precision that suits its size. */
export function fmt(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

/** Renders the table, its header (machine, command) and the notes below it. */
export function renderTable(rows: Row[], machine: MachineInfo, extra: string[]): string {
  const header = ['#', 'benchmark', 'mode', 'median', 'min', 'max', 'unit', 'x raw', 'target', 'result'];
  const body = rows.map((r, i) => [
    String(i + 1),
    r.name,
    r.mode,
    r.value ? fmt(r.value.median) : 'n/a',
    r.value ? fmt(r.value.min) : '',
    r.value ? fmt(r.value.max) : '',
    r.unit,
    r.ratio !== undefined ? `${r.ratio.toFixed(2)}x` : '',
    r.target?.text ?? '',
    r.target ? (r.target.pass ? 'PASS' : 'MISS') : '',
  ]);
  const numeric = new Set([0, 3, 4, 5, 7]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((line) => line[c]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, c) => pad(cell, widths[c]!, numeric.has(c)))
      .join('  ')
      .trimEnd();
  const out: string[] = [
    `meshwire benchmarks  ${machine.date}`,
    `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}`,
    `command: ${machine.command}`,
    ...extra,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
  ];
  let bench = rows[0]?.bench;
  for (const [i, cells] of body.entries()) {
    if (rows[i]!.bench !== bench) {
      bench = rows[i]!.bench;
      out.push('');
    }
    out.push(line(cells));
  }
  const notes = rows.map((r, i) => (r.note ? `  [${i + 1}] ${r.note}` : '')).filter(Boolean);
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  const misses = rows.filter((r) => r.target && !r.target.pass);
  out.push(
    '',
    `targets: ${rows.filter((r) => r.target?.pass).length} PASS, ${misses.length} MISS` +
      (misses.length > 0 ? ` (${misses.map((r) => `#${rows.indexOf(r) + 1}`).join(', ')})` : ''),
  );
  return out.join('\n');
}

function compactRow(row: Row): object {
  const value = row.value && {
    median: round(row.value.median),
    min: round(row.value.min),
    max: round(row.value.max),
    ...(row.value.runs.length > 0 ? { runs: row.value.runs.map(round) } : {}),
  };
  const details =
    row.details &&
    Object.fromEntries(
      Object.entries(row.details).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]),
    );
  return {
    bench: row.bench,
    name: row.name,
    mode: row.mode,
    unit: row.unit,
    value,
    ...(row.ratio !== undefined ? { ratio: round(row.ratio) } : {}),
    ...(row.target ? { target: row.target.text, pass: row.target.pass } : {}),
    ...(row.note ? { note: row.note } : {}),
    ...(details ? { details } : {}),
  };
}

/** Writes `bench/results/<date>-<name>.json` (atomically, via a .tmp file); returns its path. */
export async function writeJson(
  dir: string,
  name: string,
  machine: MachineInfo,
  settings: object,
  rows: Row[],
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${machine.date.slice(0, 10)}-${name}.json`);
  const doc = { meshwire: 'benchmark results', machine, settings, rows: rows.map(compactRow) };
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(doc, null, 1)}\n`);
  await rename(tmp, file);
  return file;
}
