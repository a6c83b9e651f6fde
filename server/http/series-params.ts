/**
 * GET /api/v1/series: the query string read into a SeriesQuery, with every
 * problem listed at once. Pure.
 *
 *   target=fleet | host&site=&host= | gpu&site=&host=&gpu= | group&site= | job&job=
 *   metric=power_w|util_pct|mem_used_mib|temp_c|sm_clock_mhz   (default power_w)
 *   agg=mean|max|min|last|energy                                (default mean)
 *   from, to: ms since the epoch or ISO 8601                    (default the last hour)
 *   step: ms or a duration such as 10s, 1m, 1h                  (default by range)
 *
 * A group is a site's hosts; named groups (racks, rows) come with the energy
 * accounting configuration.
 */
import { AGGREGATES, type Aggregate, type HostRef, SERIES_METRICS, type SeriesMetric, type SeriesQuery, type SeriesTarget } from '../core/series.js';

export type SeriesParams = { ok: true; query: SeriesQuery } | { ok: false; problems: string[] };

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(raw: string): number | undefined {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(raw.trim());
  return m ? Number(m[1]) * UNITS[m[2] ?? 'ms']! : undefined;
}

export function parseInstant(raw: string): number | undefined {
  if (/^\d+$/.test(raw)) return Number(raw);
  const ms = Date.parse(raw);
  return Number.isFinite(ms) && /^\d{4}-\d{2}-\d{2}/.test(raw) ? ms : undefined;
}

/** About 360 to 1,440 buckets for the usual ranges: enough for a chart's width, cheap to send. */
export function defaultStep(rangeMs: number): number {
  if (rangeMs <= 2 * 3_600_000) return 10_000;
  if (rangeMs <= 2 * 86_400_000) return 60_000;
  return 3_600_000;
}

export function parseSeriesParams(p: URLSearchParams, now: number, hostsOfSite: (site: string) => HostRef[]): SeriesParams {
  const problems: string[] = [];
  const need = (name: string) => {
    const v = p.get(name);
    if (!v) problems.push(`${name} is required for target=${p.get('target')}`);
    return v ?? '';
  };
  let target: SeriesTarget | undefined;
  switch (p.get('target') ?? 'fleet') {
    case 'fleet':
      target = { kind: 'fleet' };
      break;
    case 'host':
      target = { kind: 'host', site: need('site'), host: need('host') };
      break;
    case 'gpu':
      target = { kind: 'gpu', site: need('site'), host: need('host'), gpu: need('gpu') };
      break;
    case 'group': {
      const site = need('site');
      target = { kind: 'group', name: site, hosts: site ? hostsOfSite(site) : [] };
      break;
    }
    case 'job':
      target = { kind: 'job', job: need('job') };
      break;
    default:
      problems.push(`target must be fleet, host, gpu, group or job, not ${JSON.stringify(p.get('target'))}`);
  }
  const metric = (p.get('metric') ?? 'power_w') as SeriesMetric;
  if (!SERIES_METRICS.includes(metric)) problems.push(`metric must be one of ${SERIES_METRICS.join(', ')}`);
  const agg = (p.get('agg') ?? 'mean') as Aggregate;
  if (!AGGREGATES.includes(agg)) problems.push(`agg must be one of ${AGGREGATES.join(', ')}`);
  if (agg === 'energy' && metric !== 'power_w') problems.push('agg=energy needs metric=power_w');
  const to = p.has('to') ? parseInstant(p.get('to')!) : now;
  if (to === undefined) problems.push('to must be ms since the epoch or an ISO 8601 time');
  const from = p.has('from') ? parseInstant(p.get('from')!) : to === undefined ? undefined : to - 3_600_000;
  if (from === undefined) problems.push('from must be ms since the epoch or an ISO 8601 time');
  if (from !== undefined && to !== undefined && from >= to) problems.push('from must be before to');
  const step = p.has('step') ? parseDuration(p.get('step')!) : from !== undefined && to !== undefined ? defaultStep(to - from) : undefined;
  if (step === undefined || step < 1000) problems.push('step must be a duration of at least 1 s, e.g. 10s, 1m, 1h, or ms');
  if (problems.length > 0 || !target) return { ok: false, problems };
  return { ok: true, query: { target, metric, agg, from: from!, to: to!, step: step! } };
}
