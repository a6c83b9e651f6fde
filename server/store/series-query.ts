/**
 * `querySeries`: resolves a series target into the members an engine reads
 * (a GPU, a host's GPUs, a group's hosts, a job's GPUs over its life, or
 * everything), asks the engine for member buckets, and combines them with
 * the engine-independent rules of server/core/series.ts.
 */
import { type SeriesQuery, type SeriesResult, combineBuckets } from '../core/series.js';
import type { BucketRequest, HistoryReader, MemberSelector } from './store.js';

/** The most buckets one query may ask for: a year at 1 h is 8,760, a day at 10 s is 8,640. */
export const MAX_BUCKETS = 10_000;

/**
 * Power peaks of a host come from its host total (the edge sums its GPUs per
 * sample, so the peak is true); a group's peak is then the sum of its hosts'
 * peaks. A job's GPUs are a part of their hosts, so its peak sums GPU peaks.
 */
function level(q: SeriesQuery): BucketRequest['level'] {
  const peak = q.agg === 'max' && q.metric === 'power_w';
  return peak && (q.target.kind === 'host' || q.target.kind === 'group' || q.target.kind === 'fleet') ? 'host' : 'gpu';
}

async function selection(reader: HistoryReader, q: SeriesQuery, now: number): Promise<MemberSelector[] | undefined> {
  const { from, to } = q;
  const t = q.target;
  switch (t.kind) {
    case 'gpu':
      return [{ site: t.site, host: t.host, gpu: t.gpu, from, to }];
    case 'host':
      return [{ site: t.site, host: t.host, from, to }];
    case 'group':
      return t.hosts.map((h) => ({ ...h, from, to }));
    case 'job':
      // Each GPU over the part of the job's life inside the range.
      return (await reader.jobGpus(t.job, now))
        .map((s) => ({ ...s, from: Math.max(s.from, from), to: Math.min(s.to, to) }))
        .filter((s) => s.from < s.to);
    case 'fleet':
      return undefined;
  }
}

export async function querySeries(reader: HistoryReader, query: SeriesQuery, now: number): Promise<SeriesResult> {
  const q = { ...query, from: Math.floor(query.from / query.step) * query.step };
  const buckets = Math.ceil((q.to - q.from) / q.step);
  if (buckets > MAX_BUCKETS) throw new RangeError(`${buckets} buckets asked for; at most ${MAX_BUCKETS}: use a longer step`);
  const select = await selection(reader, q, now);
  const rows = select && select.length === 0 ? [] : await reader.memberBuckets({ metric: q.metric, from: q.from, to: q.to, step: q.step, level: level(q), ...(select && { select }) });
  const members = new Set(rows.map((r) => r.member)).size;
  return combineBuckets(q, rows, members);
}
