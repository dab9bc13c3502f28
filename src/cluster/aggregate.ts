/**
 * How per-worker metrics become the gateway's. prom-client's `AggregatorRegistry` sums every sample by default, which
 * is right for counters, histograms (bucket by bucket) and the gauges here (calls, processes, clients). A summary's
 * quantiles cannot be summed: {@link QUANTILE_MEAN} sums its `_sum` and `_count` and takes the mean of the workers'
 * quantiles (an approximation: exact merging needs the raw observations, which a summary does not keep).
 */
import { createRequire } from 'node:module';

/** Aggregator name for summaries (set as the summary's `aggregator`; registered in the primary). */
export const QUANTILE_MEAN = 'quantile_mean';

type Sample = { value: number; metricName?: string; labels: Record<string, unknown> };
type MetricJson = { name: string; help: string; type: string; aggregator: string; values: Sample[] };

/** Register {@link QUANTILE_MEAN} with prom-client (the primary, which aggregates, calls this once). */
export function registerAggregators(): void {
  // Not in prom-client's typings; the module AggregatorRegistry looks names up in (the same instance: no `exports` map).
  const { aggregators } = createRequire(import.meta.url)('prom-client/lib/metricAggregators.js') as { aggregators: Record<string, unknown> };
  aggregators[QUANTILE_MEAN] = quantileMean;
}

/** Samples grouped by name and labels: `_sum`/`_count` (which carry a metricName) summed, quantiles averaged. */
export function quantileMean(metrics: MetricJson[]): MetricJson | undefined {
  const first = metrics[0];
  if (!first) return undefined;
  const groups = new Map<string, Sample[]>();
  for (const m of metrics) {
    for (const s of m.values) {
      const key = `${s.metricName ?? ''}|${JSON.stringify(s.labels)}`;
      let g = groups.get(key);
      if (!g) groups.set(key, (g = []));
      g.push(s);
    }
  }
  const values: Sample[] = [];
  for (const g of groups.values()) {
    const sum = g.reduce((a, s) => a + s.value, 0);
    const v: Sample = { value: g[0]!.metricName ? sum : sum / g.length, labels: g[0]!.labels };
    if (g[0]!.metricName) v.metricName = g[0]!.metricName;
    values.push(v);
  }
  const { help, name, type, aggregator } = first;
  return { help, name, type, aggregator, values };
}
