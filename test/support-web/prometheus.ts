/**
 * Parses Prometheus text with `parse-prometheus-text-format` (a dev dependency with no types of
 * its own) and reads single samples from the result.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** One metric family as the parser returns it. */
export interface ParsedFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: {
    value?: string;
    labels?: Record<string, string>;
    buckets?: Record<string, string>;
    count?: string;
    sum?: string;
  }[];
}

/** Parses `text`; throws when it is not valid exposition text. */
export function parsePrometheus(text: string): ParsedFamily[] {
  return parsePrometheusTextFormat(text) as ParsedFamily[];
}

/** The value of `name` with exactly `labels` (missing series count as 0). */
export function sample(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const family = families.find((f) => f.name === name);
  if (!family) throw new Error(`no metric ${name}`);
  const want = JSON.stringify(Object.entries(labels).sort());
  const series = family.metrics.find((m) => JSON.stringify(Object.entries(m.labels ?? {}).sort()) === want);
  return series ? Number(series.value ?? series.count ?? 0) : 0;
}
