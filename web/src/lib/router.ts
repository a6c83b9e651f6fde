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
 *   #/facility                    groups, meters and power sources
 *   #/alerts                      active alerts, silences and history
 *   #/rules?rule=<id>             alert rules; `rule` opens that rule's test panel
 */

export interface JobsQuery {
  user: string;
  project: string;
  offset: number;
}

export type Route =
  | { page: 'overview' }
  | { page: 'jobs'; query: JobsQuery }
  | { page: 'job'; id: string }
  | { page: 'facility' }
  | { page: 'alerts' }
  | { page: 'rules'; rule: string }
  | { page: 'not-found'; path: string };

/** The nav entry a route belongs to; a job's page belongs to Jobs. */
export type Section = 'overview' | 'jobs' | 'facility' | 'alerts' | 'rules';

export const EMPTY_JOBS_QUERY: JobsQuery = { user: '', project: '', offset: 0 };

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
  return { page: 'not-found', path };
}

export function sectionOf(route: Route): Section | null {
  switch (route.page) {
    case 'overview':
      return 'overview';
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
