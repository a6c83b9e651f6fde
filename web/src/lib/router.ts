/**
 * The hash router's pure half: a location hash in, the page to show out, and
 * the reverse for links. Hash routes need nothing from the server (it serves
 * one index.html) and survive a reload; the Svelte shell only listens to
 * `hashchange` and renders what `parseRoute` says.
 *
 *   #/ or empty                   overview
 *   #/jobs?user=&project=&offset= jobs, filters and page kept in the link
 *   #/jobs/<id>                   one job; the id is percent-encoded, since
 *                                 job ids can hold `/` or `+` (Slurm
 *                                 heterogeneous jobs are `1234+0`)
 *   #/hosts                       the GPU grid and the host and GPU table
 *   #/gpu/<site>/<host>/<gpu>     one GPU; each part percent-encoded (a MIG
 *                                 instance's id holds `/`)
 *   #/history?range=&by=&from=&to= energy and efficiency over a range
 *   #/facility                    groups, meters and power sources
 *   #/alerts                      active alerts, silences and history
 *   #/rules?rule=<id>             alert rules; `rule` opens that rule's test panel
 *   #/settings                    sources, groups, meters, the server's version
 */

export interface JobsQuery {
  user: string;
  project: string;
  offset: number;
}

export type HistoryRange = 'today' | '7d' | '30d' | 'custom';
export type HistoryBy = 'user' | 'project' | 'group' | 'day';

export interface HistoryQuery {
  range: HistoryRange;
  by: HistoryBy;
  /** Custom range only: local date-times as a datetime-local field holds them, `2026-11-20T00:00`. */
  from: string;
  to: string;
}

export interface GpuRef {
  site: string;
  host: string;
  gpu: string;
}

export type Route =
  | { page: 'overview' }
  | { page: 'hosts' }
  | ({ page: 'gpu' } & GpuRef)
  | { page: 'history'; query: HistoryQuery }
  | { page: 'settings' }
  | { page: 'jobs'; query: JobsQuery }
  | { page: 'job'; id: string }
  | { page: 'facility' }
  | { page: 'alerts' }
  | { page: 'rules'; rule: string }
  | { page: 'not-found'; path: string };

/** The nav entry a route belongs to; a job's page belongs to Jobs. */
export type Section = 'overview' | 'hosts' | 'jobs' | 'history' | 'facility' | 'alerts' | 'rules' | 'settings';

export const EMPTY_JOBS_QUERY: JobsQuery = { user: '', project: '', offset: 0 };

export const HISTORY_RANGES: readonly HistoryRange[] = ['today', '7d', '30d', 'custom'];
export const HISTORY_BY: readonly HistoryBy[] = ['user', 'project', 'group', 'day'];
export const DEFAULT_HISTORY_QUERY: HistoryQuery = { range: 'today', by: 'project', from: '', to: '' };

/** A datetime-local value, minutes or seconds; anything else is dropped rather than guessed at. */
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

function historyQuery(search: string): HistoryQuery {
  const p = new URLSearchParams(search);
  const range = p.get('range') as HistoryRange | null;
  const by = p.get('by') as HistoryBy | null;
  const date = (name: string) => {
    const v = (p.get(name) ?? '').trim();
    return LOCAL_DATE_TIME.test(v) ? v : '';
  };
  return {
    range: range && HISTORY_RANGES.includes(range) ? range : DEFAULT_HISTORY_QUERY.range,
    by: by && HISTORY_BY.includes(by) ? by : DEFAULT_HISTORY_QUERY.by,
    from: date('from'),
    to: date('to'),
  };
}

function decodeParts(parts: readonly string[]): string[] | null {
  try {
    return parts.map((x) => decodeURIComponent(x));
  } catch {
    return null;
  }
}

function jobsQuery(search: string): JobsQuery {
  const p = new URLSearchParams(search);
  const offset = Number(p.get('offset') ?? '0');
  return {
    user: (p.get('user') ?? '').trim(),
    project: (p.get('project') ?? '').trim(),
    // A hand-edited link with a bad offset shows the first page rather than an error.
    offset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

/**
 * True for a hash the router owns. Others (`#main`, the skip link's target)
 * are in-page anchors: they must not turn the page into "not found".
 */
export function isRouteHash(hash: string): boolean {
  return hash === '' || hash === '#' || hash.startsWith('#/');
}

export function parseRoute(hash: string): Route {
  const raw = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = raw.indexOf('?');
  const path = (q >= 0 ? raw.slice(0, q) : raw).replace(/\/+$/, '');
  const search = q >= 0 ? raw.slice(q + 1) : '';
  if (path === '' || path === '/') return { page: 'overview' };
  if (path === '/jobs') return { page: 'jobs', query: jobsQuery(search) };
  if (path === '/hosts') return { page: 'hosts' };
  if (path === '/history') return { page: 'history', query: historyQuery(search) };
  if (path === '/settings') return { page: 'settings' };
  if (path === '/facility') return { page: 'facility' };
  if (path === '/alerts') return { page: 'alerts' };
  if (path === '/rules') return { page: 'rules', rule: (new URLSearchParams(search).get('rule') ?? '').trim() };
  const job = /^\/jobs\/([^/]+)$/.exec(path);
  if (job) {
    try {
      return { page: 'job', id: decodeURIComponent(job[1] as string) };
    } catch {
      // A malformed escape (`%zz`) names no job.
    }
  }
  const gpu = /^\/gpu\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(path);
  if (gpu) {
    const parts = decodeParts(gpu.slice(1) as string[]);
    if (parts) return { page: 'gpu', site: parts[0] as string, host: parts[1] as string, gpu: parts[2] as string };
  }
  return { page: 'not-found', path };
}

export function sectionOf(route: Route): Section | null {
  switch (route.page) {
    case 'overview':
      return 'overview';
    case 'hosts':
    case 'gpu':
      return 'hosts';
    case 'history':
      return 'history';
    case 'settings':
      return 'settings';
    case 'jobs':
    case 'job':
      return 'jobs';
    case 'facility':
      return 'facility';
    case 'alerts':
      return 'alerts';
    case 'rules':
      return 'rules';
    default:
      return null;
  }
}

export function jobHref(id: string): string {
  return `#/jobs/${encodeURIComponent(id)}`;
}

/** Only non-default values go into the link, so the plain Jobs link is `#/jobs`. */
export function jobsHref(query: Partial<JobsQuery> = {}): string {
  const p = new URLSearchParams();
  if (query.user?.trim()) p.set('user', query.user.trim());
  if (query.project?.trim()) p.set('project', query.project.trim());
  if (query.offset && query.offset > 0) p.set('offset', String(query.offset));
  const s = p.toString();
  return s ? `#/jobs?${s}` : '#/jobs';
}

/** The rules page, with one rule's test panel open when `rule` is given. */
export function rulesHref(rule = ''): string {
  return rule ? `#/rules?${new URLSearchParams({ rule })}` : '#/rules';
}

/** One GPU's page; each part is one encoded segment, so `/` inside a MIG id survives. */
export function gpuHref(ref: GpuRef): string {
  return `#/gpu/${encodeURIComponent(ref.site)}/${encodeURIComponent(ref.host)}/${encodeURIComponent(ref.gpu)}`;
}

/** Only non-default values go into the link; from and to only for a custom range. */
export function historyHref(query: Partial<HistoryQuery> = {}): string {
  const p = new URLSearchParams();
  const range = query.range ?? DEFAULT_HISTORY_QUERY.range;
  if (range !== DEFAULT_HISTORY_QUERY.range) p.set('range', range);
  if (query.by && query.by !== DEFAULT_HISTORY_QUERY.by) p.set('by', query.by);
  if (range === 'custom') {
    if (query.from) p.set('from', query.from);
    if (query.to) p.set('to', query.to);
  }
  const s = p.toString();
  return s ? `#/history?${s}` : '#/history';
}
