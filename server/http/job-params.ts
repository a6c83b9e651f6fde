/**
 * GET /api/v1/jobs and /api/v1/efficiency: the query string read into a job
 * filter, a page and a grouping, with every problem listed. Pure.
 *
 *   from, to (default the last 24 h), user, project, site
 *   jobs:       offset (default 0), limit (1..500, default 50)
 *   efficiency: by=user|project|group|day (default project)
 */
import type { EfficiencyGroup } from '../store/job-queries.js';
import type { JobFilter } from '../store/store.js';
import { parseInstant } from './series-params.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string[] };

function filter(p: URLSearchParams, now: number, problems: string[]): JobFilter {
  const to = p.has('to') ? parseInstant(p.get('to')!) : now;
  const from = p.has('from') ? parseInstant(p.get('from')!) : (to ?? now) - 86_400_000;
  if (to === undefined) problems.push('to must be ms since the epoch or an ISO 8601 time');
  if (from === undefined) problems.push('from must be ms since the epoch or an ISO 8601 time');
  if (from !== undefined && to !== undefined && from >= to) problems.push('from must be before to');
  const f: JobFilter = { from: from ?? 0, to: to ?? 0 };
  for (const k of ['user', 'project', 'site'] as const) {
    const v = p.get(k);
    if (v) f[k] = v;
  }
  return f;
}

function count(p: URLSearchParams, name: string, dflt: number, min: number, max: number, problems: string[]): number {
  if (!p.has(name)) return dflt;
  const n = Number(p.get(name));
  if (!Number.isInteger(n) || n < min || n > max) problems.push(`${name} must be an integer from ${min} to ${max}`);
  return n;
}

export function parseJobsParams(p: URLSearchParams, now: number): Parsed<{ filter: JobFilter; offset: number; limit: number }> {
  const problems: string[] = [];
  const f = filter(p, now, problems);
  const offset = count(p, 'offset', 0, 0, Number.MAX_SAFE_INTEGER, problems);
  const limit = count(p, 'limit', 50, 1, 500, problems);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { filter: f, offset, limit } };
}

const GROUPS: readonly EfficiencyGroup[] = ['user', 'project', 'group', 'day'];

export function parseEfficiencyParams(p: URLSearchParams, now: number): Parsed<{ filter: JobFilter; by: EfficiencyGroup }> {
  const problems: string[] = [];
  const f = filter(p, now, problems);
  const by = (p.get('by') ?? 'project') as EfficiencyGroup;
  if (!GROUPS.includes(by)) problems.push(`by must be one of ${GROUPS.join(', ')}`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: { filter: f, by } };
}
