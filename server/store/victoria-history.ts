/**
 * HistoryReader.memberBuckets on VictoriaMetrics, with DuckDB's semantics
 * (duckdb-history.ts): a window belongs to the bucket [t, t+step) its START
 * falls in, and to a member's range [from, to) when its start does; per
 * member and bucket covered_ms = Σ window_ms, mean = window-weighted mean of
 * window means, min, max, last, energy_j = Σ per-window energy.
 *
 * Whole buckets come from one range query per member group, evaluated at
 * t+step with a step-long lookback: samples are stamped at window end, and a
 * lookback covers (E-step, E], so window ends in (t, t+step] are exactly the
 * windows starting in [t, t+step) when the window length divides the step.
 * The rollup functions give Σ mean and their count, so the mean is exact
 * when the windows in a bucket share one length (min = max of window_ms).
 *
 * Everything else is read as raw samples (/api/v1/export) and bucketed here,
 * so the answer stays exact:
 * - partial buckets at the edges of a member's range (a job starts mid-bucket);
 * - buckets ending less than `clockSkewMs` ago: VictoriaMetrics replaces the
 *   points of its last step with the previous value (its "latency offset"
 *   adjustment), so an open bucket would read as the one before it;
 * - a bucket mixing window lengths (its mean needs each window's weight);
 * - a member whose window length does not divide the step (its window ends
 *   would fall in other buckets than its starts).
 */
import type { MemberBucket, SeriesMetric } from '../core/series.js';
import { type BucketRequest, memberName } from './store.js';
import { GPU_MEASUREMENT, HOST_MEASUREMENT, METRIC_FIELDS, seriesName } from './victoria-lines.js';
import { type Labels, anyOf, exportSeries, queryRange } from './victoria-query.js';
import { type RawWindow, bucketWindows } from './victoria-buckets.js';

interface Target {
  site: string;
  host: string;
  /** Undefined: every GPU of the host (or the host's own row at host level). */
  gpu?: string;
}

/** A target over one range; `all` reads every member. */
interface Piece {
  target: Target | 'all';
  from: number;
  to: number;
}

export interface HistoryOptions {
  /** Buckets per range query; VictoriaMetrics refuses more than -search.maxPointsPerTimeseries (30,000). */
  maxPoints?: number;
  /** The longest window any collector sends: raw reads fetch this far past a range for the window ends. */
  maxWindowMs?: number;
  /** Buckets ending later than now minus this are read raw (clocks may differ by this much). */
  clockSkewMs?: number;
  now?: () => number;
}

type Interval = [number, number];

export class VictoriaHistory {
  private readonly maxPoints: number;
  private readonly maxWindowMs: number;
  private readonly skewMs: number;
  private readonly now: () => number;

  constructor(private readonly url: string, private readonly timeoutMs: number, opts: HistoryOptions = {}) {
    this.maxPoints = opts.maxPoints ?? 10_000;
    this.maxWindowMs = opts.maxWindowMs ?? 60_000;
    this.skewMs = opts.clockSkewMs ?? 5_000;
    this.now = opts.now ?? Date.now;
  }

  async memberBuckets(req: BucketRequest): Promise<MemberBucket[]> {
    const host = req.level === 'host';
    const metric: SeriesMetric = host ? 'power_w' : req.metric; // the host total is power only
    const step = req.step;
    const interior = new Map<string, { from: number; to: number; targets: (Target | 'all')[] }>();
    const exact: Piece[] = [];
    const closedBefore = Math.floor((this.now() - this.skewMs) / step) * step;
    for (const p of pieces(req, host)) {
      const a = Math.ceil(p.from / step) * step;
      const b = Math.min(Math.floor(p.to / step) * step, closedBefore);
      if (a >= b) {
        exact.push(p);
        continue;
      }
      if (p.from < a) exact.push({ ...p, to: a });
      if (b < p.to) exact.push({ ...p, from: b });
      const key = `${a}:${b}`;
      const group = interior.get(key) ?? { from: a, to: b, targets: [] };
      group.targets.push(p.target);
      interior.set(key, group);
    }
    const rows: MemberBucket[] = [];
    for (const g of interior.values()) {
      for (let from = g.from; from < g.to; from += this.maxPoints * step) {
        const to = Math.min(g.to, from + this.maxPoints * step);
        const got = await this.rangeBuckets(metric, host, step, from, to, g.targets);
        rows.push(...got.rows);
        exact.push(...got.raw);
      }
    }
    if (exact.length > 0) rows.push(...(await this.rawBuckets(metric, host, step, exact)));
    return rows;
  }

  /** Whole buckets of [from, to) from one range query; what it cannot answer exactly comes back as raw pieces. */
  private async rangeBuckets(metric: SeriesMetric, host: boolean, step: number, from: number, to: number, targets: (Target | 'all')[]) {
    const f = METRIC_FIELDS[metric];
    const { filter, keep } = selection(targets, host);
    const m = host ? HOST_MEASUREMENT : GPU_MEASUREMENT;
    const over = (fn: string, field: string, name: string) => `label_set(${fn}(${seriesName(m, field)}${filter}[${step}ms]), "kw_q", "${name}")`;
    const parts = [
      over('sum_over_time', f.mean, 'sum'), over('count_over_time', f.mean, 'n'), over('min_over_time', f.min, 'min'),
      over('max_over_time', f.max, 'max'), over('last_over_time', f.last, 'last'), over('sum_over_time', 'window_ms', 'covered'),
      over('min_over_time', 'window_ms', 'lmin'), over('max_over_time', 'window_ms', 'lmax'),
    ];
    if (!host) parts.push(over('sum_over_time', 'energy_j', 'energy'));
    const series = await queryRange(this.url, `union(${parts.join(', ')})`, from + step, to, step, this.timeoutMs);
    const acc = new Map<string, { labels: Labels; at: Map<number, Record<string, number>> }>();
    for (const s of series) {
      if (!keep(s.labels)) continue;
      const member = memberOf(s.labels, host);
      let a = acc.get(member);
      if (!a) acc.set(member, (a = { labels: s.labels, at: new Map() }));
      for (const [e, v] of s.points) {
        const t = e - step; // evaluated at the bucket's end
        const r = a.at.get(t) ?? {};
        r[s.labels.kw_q ?? ''] = v;
        a.at.set(t, r);
      }
    }
    const rows: MemberBucket[] = [];
    const raw: Piece[] = [];
    for (const [member, { labels, at }] of acc) {
      const target: Target = { site: labels.site ?? '', host: labels.host ?? '', ...(!host && { gpu: labels.gpu ?? '' }) };
      if ([...at.values()].some((r) => step % (r.lmin ?? step) !== 0 || step % (r.lmax ?? step) !== 0)) {
        raw.push({ target, from, to }); // its window ends fall in other buckets than its starts
        continue;
      }
      for (const [t, r] of at) {
        if (r.covered === undefined) continue;
        if (r.lmin !== r.lmax) {
          raw.push({ target, from: t, to: t + step });
          continue;
        }
        const b: MemberBucket = { member, t, covered_ms: r.covered };
        if (r.n && r.sum !== undefined) b.mean = r.sum / r.n;
        if (r.min !== undefined) b.min = r.min;
        if (r.max !== undefined) b.max = r.max;
        if (r.last !== undefined) b.last = r.last;
        if (r.energy !== undefined) b.energy_j = r.energy;
        rows.push(b);
      }
    }
    return { rows, raw };
  }

  /** Raw windows of the pieces, bucketed by their start exactly as DuckDB groups rows. */
  private async rawBuckets(metric: SeriesMetric, host: boolean, step: number, raw: Piece[]): Promise<MemberBucket[]> {
    const f = METRIC_FIELDS[metric];
    const m = host ? HOST_MEASUREMENT : GPU_MEASUREMENT;
    const fields = [...new Set([f.mean, f.min, f.max, f.last, 'window_ms', ...(host ? [] : ['energy_j'])])];
    const names = anyOf(fields.map((x) => seriesName(m, x)));
    const windows = new Map<string, Map<number, RawWindow>>();
    const byRange = new Map<string, Piece[]>();
    for (const p of raw) byRange.set(`${p.from}:${p.to}`, [...(byRange.get(`${p.from}:${p.to}`) ?? []), p]);
    for (const group of byRange.values()) {
      const { from, to } = group[0]!;
      const { filter, keep } = selection(group.map((p) => p.target), host);
      const match = filter ? `{__name__=~${names},${filter.slice(1)}` : `{__name__=~${names}}`;
      // A window starting in [from, to) ends in (from, to + its length]: fetch that far, keep by start below.
      const series = await exportSeries(this.url, match, from + 1, to + this.maxWindowMs, this.timeoutMs);
      const fetched = new Map<string, Map<number, Record<string, number>>>();
      for (const s of series) {
        if (!keep(s.labels)) continue;
        const member = memberOf(s.labels, host);
        const field = (s.labels.__name__ ?? '').slice(m.length + 1);
        const at = fetched.get(member) ?? new Map<number, Record<string, number>>();
        fetched.set(member, at);
        for (const [stamp, v] of s.samples) at.set(stamp, { ...at.get(stamp), [field]: v });
      }
      for (const [member, at] of fetched) {
        const mine = windows.get(member) ?? new Map<number, RawWindow>();
        windows.set(member, mine);
        for (const [stamp, v] of at) {
          const len = v.window_ms;
          if (len === undefined || stamp - len < from || stamp - len >= to) continue;
          mine.set(stamp, { member, ts: stamp - len, window_ms: len, mean: v[f.mean], min: v[f.min], max: v[f.max], last: v[f.last], energy_j: v.energy_j });
        }
      }
    }
    return bucketWindows([...windows.values()].flatMap((w) => [...w.values()]), step);
  }
}

function memberOf(l: Labels, host: boolean): string {
  return memberName(l.site ?? '', l.host ?? '', host ? undefined : (l.gpu ?? ''));
}

/** A series filter (to splice into a selector) for the targets, and the exact test the filter may be looser than. */
function selection(targets: readonly (Target | 'all')[], host: boolean): { filter: string; keep: (l: Labels) => boolean } {
  if (targets.includes('all')) return { filter: '', keep: () => true };
  const ts = targets as Target[];
  const gpus = !host && ts.every((t) => t.gpu !== undefined) ? `,gpu=~${anyOf(ts.map((t) => t.gpu!))}` : '';
  const filter = `{site=~${anyOf(ts.map((t) => t.site))},host=~${anyOf(ts.map((t) => t.host))}${gpus}}`;
  const keep = (l: Labels) => ts.some((t) => t.site === l.site && t.host === l.host && (host || t.gpu === undefined || t.gpu === l.gpu));
  return { filter, keep };
}

/**
 * The request as disjoint pieces: each selector clipped to the request's
 * range, overlapping ranges of one member merged, and a GPU's own ranges
 * cut where its host is selected as a whole, so no window is read twice
 * (DuckDB ORs the selectors: a window matching two is one row).
 */
function pieces(req: BucketRequest, host: boolean): Piece[] {
  if (!req.select) return req.from < req.to ? [{ target: 'all', from: req.from, to: req.to }] : [];
  const ranges = new Map<string, { target: Target; ranges: Interval[] }>();
  for (const s of req.select) {
    const from = Math.max(s.from, req.from);
    const to = Math.min(s.to, req.to);
    if (from >= to) continue;
    const target: Target = host || s.gpu === undefined ? { site: s.site, host: s.host } : { site: s.site, host: s.host, gpu: s.gpu };
    const key = JSON.stringify([target.site, target.host, target.gpu ?? null]);
    const entry = ranges.get(key) ?? { target, ranges: [] };
    entry.ranges.push([from, to]);
    ranges.set(key, entry);
  }
  const out: Piece[] = [];
  for (const { target, ranges: rs } of ranges.values()) {
    let merged = union(rs);
    if (target.gpu !== undefined) {
      const whole = ranges.get(JSON.stringify([target.site, target.host, null]));
      if (whole) merged = subtract(merged, union(whole.ranges));
    }
    for (const [from, to] of merged) out.push({ target, from, to });
  }
  return out;
}

function union(rs: Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [a, b] of [...rs].sort((x, y) => x[0] - y[0])) {
    const last = out.at(-1);
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

function subtract(rs: Interval[], cut: Interval[]): Interval[] {
  let out = rs;
  for (const [c, d] of cut) out = out.flatMap(([a, b]): Interval[] => (d <= a || b <= c ? [[a, b]] : [...(a < c ? [[a, c] as Interval] : []), ...(d < b ? [[d, b] as Interval] : [])]));
  return out;
}

