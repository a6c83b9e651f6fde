/**
 * The live views of one host, one GPU or one job (protocol/README.md §10):
 * their columns, the row each arriving window adds, and the backfill a new
 * or resuming subscription gets from the store. Each row is one window,
 * labelled at its start, the same bucket semantics as GET /api/v1/series at
 * the window's step; a late window upserts its row. Pure apart from the
 * backfill, which reads through the store's history interface.
 */
import type { GpuReading, GpuWindow } from '../../protocol/payloads.js';
import type { ColumnSpec } from '../../protocol/ws.js';
import type { SeriesMetric, SeriesTarget } from '../core/series.js';
import { querySeries } from '../store/series-query.js';
import type { HistoryReader, MemberSelector } from '../store/store.js';

export type EntityView = 'host' | 'gpu' | 'job' | 'group';

const ts: ColumnSpec = { name: 'ts', unit: 'ms', label: 'window start' };
export const ENTITY_COLUMNS: Record<EntityView, readonly ColumnSpec[]> = {
  host: [ts, { name: 'power_w', unit: 'W', label: 'host power: the mean of its window' }, { name: 'peak_w', unit: 'W', label: 'host peak in the window (the edge\'s per-sample sum when it measures one)' }, { name: 'util_pct', unit: 'ratio', label: 'mean GPU utilization, %' }],
  gpu: [ts, { name: 'power_w', unit: 'W', label: 'mean power' }, { name: 'peak_w', unit: 'W', label: 'max power in the window' }, { name: 'util_pct', unit: 'ratio', label: 'utilization, %' }, { name: 'temp_c', unit: 'count', label: 'temperature, °C (max)' }, { name: 'sm_clock_mhz', unit: 'count', label: 'SM clock, MHz (mean)' }],
  job: [ts, { name: 'power_w', unit: 'W', label: 'sum of the mean power of the job\'s GPUs on this host' }, { name: 'peak_w', unit: 'W', label: 'sum of their maxima: an upper bound of the peak' }],
  group: [ts, { name: 'power_w', unit: 'W', label: 'sum of its hosts\' mean power' }, { name: 'peak_upper_w', unit: 'W', label: 'sum of its hosts\' peaks: an upper bound' }, { name: 'hosts', unit: 'count', label: 'hosts in the sum so far' }],
};

/** What a subscription watches: parsed from its id (`site/host`, `site/host/gpu`, or a job id) and, for a job, its GPUs. */
export interface EntityKey {
  view: EntityView;
  id: string;
  site?: string;
  host?: string;
  gpu?: string;
  /** A job's GPUs per host, from its start and end events. */
  gpus?: readonly MemberSelector[];
  /** A group's hosts (site file), resolved to the hosts known now. */
  hosts?: readonly { site: string; host: string }[];
}

export function parseEntityId(view: EntityView, id: string): EntityKey | undefined {
  if (typeof id !== 'string' || id === '' || id.length > 600) return undefined;
  if (view === 'job' || view === 'group') return { view, id };
  const parts = id.split('/');
  if (view === 'host' && parts.length === 2 && parts.every((p) => p !== '')) return { view, id, site: parts[0]!, host: parts[1]! };
  // A GPU id may hold '/' (a MIG instance `board/instance`): the rest after site and host is the GPU.
  if (view === 'gpu' && parts.length >= 3 && parts[0] && parts[1]) return { view, id, site: parts[0], host: parts[1], gpu: parts.slice(2).join('/') };
  return undefined;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/** The row a window adds to a view, or undefined when the window is not its entity's. */
export function rowOf(key: EntityKey, site: string, host: string, w: GpuWindow): (number | null)[] | undefined {
  if (key.view === 'group') {
    // One host's part; the subscription adds the parts of a bucket (entity-subscriptions.ts).
    if (!key.hosts?.some((h) => h.site === site && h.host === host) || !w.host_power_w) return undefined;
    return [w.ts, w.host_power_w.mean, w.host_power_w.max, 1];
  }
  if (key.view === 'host') {
    if (key.site !== site || key.host !== host) return undefined;
    const means = w.gpus.map((g) => g.power_w?.mean).filter((v): v is number => v !== undefined);
    const maxes = w.gpus.map((g) => g.power_w?.max).filter((v): v is number => v !== undefined);
    const power = w.host_power_w?.mean ?? (means.length ? means.reduce((a, b) => a + b, 0) : null);
    const peak = w.host_power_w?.max ?? (maxes.length ? maxes.reduce((a, b) => a + b, 0) : null);
    return [w.ts, power, peak, mean(w.gpus.map((g) => g.util_pct?.mean).filter((v): v is number => v !== undefined))];
  }
  if (key.view === 'gpu') {
    if (key.site !== site || key.host !== host) return undefined;
    const g = w.gpus.find((x) => x.id === key.gpu);
    return g ? gpuRow(w.ts, g) : undefined;
  }
  const held = key.gpus?.filter((s) => s.site === site && s.host === host && s.from < w.ts + w.window_ms && s.to > w.ts) ?? [];
  if (held.length === 0) return undefined;
  const mine = w.gpus.filter((g) => held.some((s) => s.gpu === undefined || s.gpu === g.id));
  if (mine.length === 0) return undefined;
  const sum = (f: (g: GpuReading) => number | undefined) => mine.reduce<number | null>((a, g) => (f(g) === undefined ? a : (a ?? 0) + f(g)!), null);
  return [w.ts, sum((g) => g.power_w?.mean), sum((g) => g.power_w?.max)];
}

function gpuRow(t: number, g: GpuReading): (number | null)[] {
  return [t, g.power_w?.mean ?? null, g.power_w?.max ?? null, g.util_pct?.mean ?? null, g.temp_c?.max ?? null, g.sm_clock_mhz?.mean ?? null];
}

/** Columns of a view over [from, to) from the store, one row per second (the live rows' own step for 1 s windows). */
export async function backfill(store: HistoryReader, key: EntityKey, from: number, to: number, now: number): Promise<(number | null)[][]> {
  const target: SeriesTarget = key.view === 'job' ? { kind: 'job', job: key.id }
    : key.view === 'group' ? { kind: 'group', name: key.id, hosts: [...(key.hosts ?? [])] }
    : key.view === 'host' ? { kind: 'host', site: key.site!, host: key.host! } : { kind: 'gpu', site: key.site!, host: key.host!, gpu: key.gpu! };
  const wanted: [SeriesMetric, 'mean' | 'max'][] = key.view === 'gpu'
    ? [['power_w', 'mean'], ['power_w', 'max'], ['util_pct', 'mean'], ['temp_c', 'max'], ['sm_clock_mhz', 'mean']]
    : key.view === 'host' ? [['power_w', 'mean'], ['power_w', 'max'], ['util_pct', 'mean']] : [['power_w', 'mean'], ['power_w', 'max']];
  if (key.view === 'group') {
    // The stored series of a group: sums of its hosts' means and peaks; the hosts column is the coverage times their number.
    const [mean, max] = await Promise.all((['mean', 'max'] as const).map((agg) => querySeries(store, { target, metric: 'power_w', agg, from, to, step: 1000 }, now)));
    const keep = mean!.t.map((_, i) => mean!.values[i] !== null);
    const n = key.hosts?.length ?? 0;
    return [mean!.t.filter((_, i) => keep[i]), mean!.values.filter((_, i) => keep[i]), max!.values.filter((_, i) => keep[i]), mean!.coverage.map((c) => Math.round(c * n)).filter((_, i) => keep[i])];
  }
  const step = 1000;
  const series = await Promise.all(wanted.map(([metric, agg]) => querySeries(store, { target, metric, agg, from, to, step }, now)));
  const t = series[0]?.t ?? [];
  // Only buckets with data: an empty second is a gap, not a zero.
  const keep = t.map((_, i) => series.some((s) => s.values[i] !== null));
  return [t.filter((_, i) => keep[i]), ...series.map((s) => s.values.filter((_, i) => keep[i]!))];
}
