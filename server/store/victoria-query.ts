/**
 * VictoriaMetrics' Prometheus HTTP API, the parts the store reads through:
 * range queries (/api/v1/query_range), raw samples (/api/v1/export) and an
 * instant query (/api/v1/query), plus safe quoting of label values into
 * MetricsQL. Requests are POSTed as forms, so a long member list never
 * meets a URL length limit.
 */
import { type WindowEnergy, energyKey } from '../core/window-energy.js';
import { GPU_MEASUREMENT, seriesName } from './victoria-lines.js';

export type Labels = Record<string, string>;

/** A MetricsQL string literal (Go syntax accepts JSON's escapes). */
export function quote(v: string): string {
  return JSON.stringify(v);
}

/** An anchored RE2 alternation matching exactly these values. */
export function anyOf(values: Iterable<string>): string {
  return quote([...new Set(values)].map((v) => v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'));
}

async function post(url: string, path: string, form: Record<string, string | string[]>, timeoutMs: number): Promise<string> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) for (const x of Array.isArray(v) ? v : [v]) body.append(k, x);
  const res = await fetch(`${url}${path}`, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  if (!res.ok) throw new Error(`VictoriaMetrics ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return text;
}

/** Seconds with millisecond decimals, as the Prometheus API takes them. */
const seconds = (ms: number) => (ms / 1000).toFixed(3);

export interface RangeSeries {
  labels: Labels;
  /** [evaluation time ms, value] */
  points: [number, number][];
}

/**
 * Evaluates `query` at start, start+step, ... end. `nocache=1`: VictoriaMetrics'
 * response cache would keep serving a bucket that a late window (replayed
 * from a spool) has changed since.
 */
export async function queryRange(url: string, query: string, startMs: number, endMs: number, stepMs: number, timeoutMs: number): Promise<RangeSeries[]> {
  const text = await post(url, '/api/v1/query_range', { query, start: seconds(startMs), end: seconds(endMs), step: `${stepMs}ms`, nocache: '1' }, timeoutMs);
  const json = JSON.parse(text) as { data: { result: { metric: Labels; values: [number, string][] }[] } };
  return json.data.result.map((r) => ({
    labels: r.metric,
    points: r.values.map(([t, v]) => [Math.round(t * 1000), Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)),
  }));
}

/** One value per timestamp (the last one seen), keyed by the series' labels. */
export type ExportedSeries = { labels: Labels; samples: Map<number, number> };

/** Raw samples with timestamps in [startMs, endMs]; a series may come in several blocks, and is merged here. */
export async function exportSeries(url: string, match: string, startMs: number, endMs: number, timeoutMs: number): Promise<ExportedSeries[]> {
  const text = await post(url, '/api/v1/export', { 'match[]': match, start: seconds(startMs), end: seconds(endMs) }, timeoutMs);
  const byKey = new Map<string, ExportedSeries>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const block = JSON.parse(line) as { metric: Labels; values: number[]; timestamps: number[] };
    const key = JSON.stringify(Object.entries(block.metric).sort(([a], [b]) => (a < b ? -1 : 1)));
    let s = byKey.get(key);
    if (!s) byKey.set(key, (s = { labels: block.metric, samples: new Map() }));
    block.timestamps.forEach((t, i) => s!.samples.set(t, block.values[i]!));
  }
  return [...byKey.values()];
}

export async function instantQuery(url: string, query: string, timeMs: number, timeoutMs: number): Promise<{ labels: Labels; value: number }[]> {
  const text = await post(url, '/api/v1/query', { query, time: seconds(timeMs), nocache: '1' }, timeoutMs);
  const json = JSON.parse(text) as { data: { result: { metric: Labels; value: [number, string] }[] } };
  return json.data.result.map((r) => ({ labels: r.metric, value: Number(r.value[1]) }));
}

/** A restarted server resumes counter differences from windows at most this old (as DuckDB does). */
const ENERGY_SEED_MS = 3_600_000;

/**
 * The latest window end and counter reading of each GPU, so a restarted
 * server's next counter difference covers the gap instead of falling back to
 * mean × time. A counter counts only when it is from the latest window.
 */
export async function seedEnergy(url: string, now: number, energy: WindowEnergy, timeoutMs = 10_000): Promise<number> {
  const range = `[${ENERGY_SEED_MS / 1000}s]`;
  const key = (l: Labels) => energyKey(l.site ?? '', l.host ?? '', l.gpu ?? '');
  const [ends, counterTs, counters] = await Promise.all([
    instantQuery(url, `tlast_over_time(${seriesName(GPU_MEASUREMENT, 'window_ms')}${range})`, now, timeoutMs),
    instantQuery(url, `tlast_over_time(${seriesName(GPU_MEASUREMENT, 'energy_mj')}${range})`, now, timeoutMs),
    instantQuery(url, `last_over_time(${seriesName(GPU_MEASUREMENT, 'energy_mj')}${range})`, now, timeoutMs),
  ]);
  const counterAt = new Map(counterTs.map((r) => [key(r.labels), Math.round(r.value * 1000)]));
  const counterOf = new Map(counters.map((r) => [key(r.labels), r.value]));
  for (const r of ends) {
    const k = key(r.labels);
    const end = Math.round(r.value * 1000);
    energy.seed(k, end, counterAt.get(k) === end ? counterOf.get(k) : undefined);
  }
  return ends.length;
}
