/**
 * A small metrics registry (counters, gauges, histograms with fixed label sets) and its
 * Prometheus text format 0.0.4 renderer. Written by hand rather than with `prom-client`: we need
 * a few dozen series, no default process metrics, no global registry and no async collection,
 * and rendering our own strings keeps it dependency-free and well under 1 ms (see the README).
 */
import { MeshwireError } from '../errors.js';

/** Most label combinations one family keeps; further ones are counted under `other`. */
export const MAX_SERIES_PER_FAMILY = 256;
/** Label value used for combinations past {@link MAX_SERIES_PER_FAMILY}. */
export const OVERFLOW_LABEL_VALUE = 'other';

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The kind of a metric family, as written on its `# TYPE` line. */
export type MetricKind = 'counter' | 'gauge' | 'histogram';

/** One series in a {@link Registry.snapshot}. */
export interface SeriesSnapshot {
  labels: Record<string, string>;
  /** Counter or gauge value. */
  value?: number;
  /** Histogram: cumulative counts by upper bound (`le`, `+Inf` last), sum and count. */
  buckets?: Record<string, number>;
  sum?: number;
  count?: number;
}

/** One family in a {@link Registry.snapshot}. */
export interface FamilySnapshot {
  type: MetricKind;
  help: string;
  series: SeriesSnapshot[];
}

/** Label values in the order of the family's label names. */
export type LabelValues = readonly string[];

function invalid(message: string): MeshwireError {
  return new MeshwireError('ERR_INVALID_ARGUMENT', message);
}

/** Escapes a label value as the text format requires (backslash, double quote, newline). */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\\' ? '\\\\' : c === '"' ? '\\"' : '\\n'));
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => (c === '\\' ? '\\\\' : '\\n'));
}

/** Formats a sample value: integers plainly, infinities as the format spells them. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

abstract class Family<Child> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly kind: MetricKind;
  protected readonly children = new Map<string, { labels: string; values: LabelValues; child: Child }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME_RE.test(name)) throw invalid(`invalid metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith('__') || l === 'le')
        throw invalid(`invalid label name ${JSON.stringify(l)} on ${name}`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected abstract create(): Child;

  /** The child for `values`, created on first use; past the series cap, the shared `other` one. */
  protected child(values: LabelValues): Child {
    if (values.length !== this.labelNames.length)
      throw invalid(`${this.name} takes ${this.labelNames.length} label values, got ${values.length}`);
    const key = values.join('\u0000');
    const found = this.children.get(key);
    if (found) return found.child;
    const vals =
      this.children.size >= MAX_SERIES_PER_FAMILY ? values.map(() => OVERFLOW_LABEL_VALUE) : values;
    const k = vals.join('\u0000');
    const existing = this.children.get(k);
    if (existing) return existing.child;
    const labels = this.labelNames.map((n, i) => `${n}="${escapeLabelValue(vals[i] ?? '')}"`).join(',');
    const entry = { labels, values: vals, child: this.create() };
    this.children.set(k, entry);
    return entry.child;
  }

  /** Appends this family's text to `out`. */
  abstract render(out: string[]): void;

  /** This family's series as plain data. */
  abstract snapshot(): FamilySnapshot;

  protected labelsOf(values: LabelValues): Record<string, string> {
    const out: Record<string, string> = {};
    this.labelNames.forEach((n, i) => (out[n] = values[i] ?? ''));
    return out;
  }

  protected header(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.kind}\n`);
  }
}

/** A family whose series each hold one number (counters and gauges): one snapshot, one rendering. */
abstract class ScalarFamily extends Family<{ v: number }> {
  protected create(): { v: number } {
    return { v: 0 };
  }

  snapshot(): FamilySnapshot {
    return {
      type: this.kind,
      help: this.help,
      series: [...this.children.values()].map((c) => ({ labels: this.labelsOf(c.values), value: c.child.v })),
    };
  }

  render(out: string[]): void {
    this.header(out);
    if (this.labelNames.length === 0 && this.children.size === 0) out.push(`${this.name} 0\n`);
    for (const c of this.children.values())
      out.push(`${this.name}${c.labels ? `{${c.labels}}` : ''} ${formatValue(c.child.v)}\n`);
  }
}

/** A value that only goes up (name ends in `_total`). */
export class Counter extends ScalarFamily {
  readonly kind = 'counter' as const;

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    if (!name.endsWith('_total')) throw invalid(`counter name ${name} must end in _total`);
  }

  /** Adds `n` (default 1, must not be negative) to the series with `labels`. */
  inc(labels: LabelValues = [], n = 1): void {
    if (!(n >= 0)) throw invalid(`${this.name}: a counter cannot decrease (got ${n})`);
    this.child(labels).v += n;
  }

  /**
   * The series with `labels`, resolved once, for hot paths: `inc` on it skips the label lookup.
   */
  labels(labels: LabelValues): { inc(n?: number): void } {
    const child = this.child(labels);
    const name = this.name;
    return {
      inc(n = 1) {
        if (!(n >= 0)) throw invalid(`${name}: a counter cannot decrease (got ${n})`);
        child.v += n;
      },
    };
  }

  /** The current value of the series with `labels` (0 if never touched). */
  get(labels: LabelValues = []): number {
    return this.children.get(labels.join('\u0000'))?.child.v ?? 0;
  }

  /** Every series as `{ labels, value }`. */
  values(): { labels: LabelValues; value: number }[] {
    return [...this.children.values()].map((c) => ({ labels: c.values, value: c.child.v }));
  }
}

/** A value that goes up and down. */
export class Gauge extends ScalarFamily {
  readonly kind = 'gauge' as const;

  /** Sets the series with `labels` to `v`. */
  set(v: number, labels: LabelValues = []): void {
    this.child(labels).v = v;
  }

  /** Adds `n` (may be negative). */
  inc(n = 1, labels: LabelValues = []): void {
    this.child(labels).v += n;
  }

  /** Raises the series to `v` if `v` is higher: a high-water mark. */
  max(v: number, labels: LabelValues = []): void {
    const c = this.child(labels);
    if (v > c.v) c.v = v;
  }

  get(labels: LabelValues = []): number {
    return this.children.get(labels.join('\u0000'))?.child.v ?? 0;
  }
}

interface HistogramChild {
  counts: number[];
  sum: number;
  count: number;
}

/** Observations counted into fixed buckets (cumulative on output), with their sum and count. */
export class Histogram extends Family<HistogramChild> {
  readonly kind = 'histogram' as const;
  readonly buckets: readonly number[];
  readonly #les: string[];

  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    if (
      buckets.length === 0 ||
      buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))
    )
      throw invalid(`${name}: buckets must be finite and strictly increasing`);
    this.buckets = buckets;
    this.#les = [...buckets.map(formatValue), '+Inf'];
  }

  protected create(): HistogramChild {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  /** Records one observation `v` (in the family's unit: seconds, bytes). */
  observe(v: number, labels: LabelValues = []): void {
    if (Number.isNaN(v)) return;
    const c = this.child(labels);
    let i = 0;
    while (i < this.buckets.length && v > this.buckets[i]!) i++;
    c.counts[i]!++;
    c.sum += v;
    c.count++;
  }

  /** Count and sum of the series with `labels`. */
  get(labels: LabelValues = []): { count: number; sum: number } {
    const c = this.children.get(labels.join('\u0000'))?.child;
    return { count: c?.count ?? 0, sum: c?.sum ?? 0 };
  }

  snapshot(): FamilySnapshot {
    return {
      type: this.kind,
      help: this.help,
      series: [...this.children.values()].map(({ values, child }) => {
        const buckets: Record<string, number> = {};
        let cumulative = 0;
        this.#les.forEach((le, i) => (buckets[le] = cumulative += child.counts[i]!));
        return { labels: this.labelsOf(values), buckets, sum: child.sum, count: child.count };
      }),
    };
  }

  render(out: string[]): void {
    this.header(out);
    const children =
      this.labelNames.length === 0 && this.children.size === 0
        ? [{ labels: '', child: this.create() }]
        : [...this.children.values()];
    for (const { labels, child } of children) {
      const sep = labels ? `${labels},` : '';
      let cumulative = 0;
      for (let i = 0; i < this.#les.length; i++) {
        cumulative += child.counts[i]!;
        out.push(`${this.name}_bucket{${sep}le="${this.#les[i]}"} ${cumulative}\n`);
      }
      const braces = labels ? `{${labels}}` : '';
      out.push(
        `${this.name}_sum${braces} ${formatValue(child.sum)}\n${this.name}_count${braces} ${child.count}\n`,
      );
    }
  }
}

/** Any metric family. */
export type MetricFamily = Counter | Gauge | Histogram;

/**
 * A set of metric families rendered together. `beforeRender` callbacks refresh sampled values
 * (gauges read from the node) just before each render.
 */
export class Registry {
  readonly #families = new Map<string, MetricFamily>();
  readonly #beforeRender = new Set<() => void>();

  /** Adds a family; a second family with the same name is an error. */
  register<F extends MetricFamily>(family: F): F {
    if (this.#families.has(family.name)) throw invalid(`metric ${family.name} is already registered`);
    this.#families.set(family.name, family);
    return family;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: readonly string[] = [],
  ): Histogram {
    return this.register(new Histogram(name, help, buckets, labelNames));
  }

  /** The family called `name`, if any. */
  get(name: string): MetricFamily | undefined {
    return this.#families.get(name);
  }

  /** Runs `fn` before every render; returns a function that removes it. */
  beforeRender(fn: () => void): () => void {
    this.#beforeRender.add(fn);
    return () => this.#beforeRender.delete(fn);
  }

  /** Every family as plain data (after the same refresh as a render), keyed by name. */
  snapshot(): Record<string, FamilySnapshot> {
    for (const fn of this.#beforeRender) fn();
    const out: Record<string, FamilySnapshot> = {};
    for (const f of this.#families.values()) out[f.name] = f.snapshot();
    return out;
  }

  /** Every family in the Prometheus text exposition format, version 0.0.4. */
  render(): string {
    for (const fn of this.#beforeRender) fn();
    const out: string[] = [];
    for (const f of this.#families.values()) f.render(out);
    return out.join('');
  }
}

/** The `Content-Type` of {@link Registry.render}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
