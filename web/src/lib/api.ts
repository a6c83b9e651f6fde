/**
 * The HTTP API as the history views read it: the JSON shapes they use and
 * the URLs they ask, always relative to the page, so the UI talks to its own
 * server and nothing else. The shapes are written down here rather than
 * imported from server/, which is Node code; fields the views do not use are
 * left out, and anything the server may omit is optional.
 */
import type { WsAlert, WsAlertEvent } from '../../../protocol/ws.js';
import type { EnergyMethod } from './format-energy.js';

export interface JobRow {
  job: string;
  user?: string;
  project?: string;
  partition?: string;
  hosts: { site: string; host: string }[];
  gpus: number;
  start: number;
  /** Absent while the job runs. */
  end?: number;
  energy_j: number;
  /** Null until the ledger holds a window for the job. */
  method: EnergyMethod | null;
  coverage: number;
  allocated_idle_j: number;
  allocated_idle_share: number;
  gpu_hours: number;
  mean_power_w: number | null;
  /** An upper bound: the highest quarter-hour sum of its GPUs' window maxima. */
  peak_power_w: number | null;
  mean_util_pct: number | null;
  work: Record<string, number>;
  j_per_unit: Record<string, number>;
  /** Present when the server runs with a site file. */
  cost?: number;
  carbon_g?: number;
}

export interface JobsPage {
  total: number;
  offset: number;
  limit: number;
  jobs: JobRow[];
  currency?: string;
}

export interface JobDetail extends JobRow {
  assignments: { site: string; host: string; gpu: string; from: number; to: number | null }[];
}

export interface GroupRow {
  name: string;
  kind: string;
  parent: string | null;
  hosts: number;
  gpu_energy_j: number;
  meter_energy_j: number | null;
  overhead_j: number | null;
  meter_to_gpu: number | null;
  /** How the GPU energy was measured, and the share of GPU-time and meter-time in the range with data. */
  gpu_method: EnergyMethod | null;
  gpu_coverage: number;
  meter_coverage: number | null;
}

export interface SourceTotals {
  energy_j: number;
  cost: number;
  carbon_g: number;
  /** Not sent by the server yet (the site file has it); read when present. */
  capacity_kw?: number;
}

/** A power source as the site file declares it; the facility report may list them as `sources`. */
export interface SourceInfo {
  name: string;
  kind?: string;
  capacity_kw?: number;
  /** The meter stream that measures it, `host/meter`. */
  meter?: string;
}

export type FacilityReport =
  | { configured: false; reason?: string }
  | {
      configured: true;
      time_zone: string;
      from: number;
      to: number;
      groups: GroupRow[];
      energy_j: number;
      currency: string;
      cost: number;
      carbon_g: number;
      by_source: Record<string, SourceTotals>;
      peaks: { month: string; peak_kw: number; at: number }[];
      peak_basis: string;
      /** The declared sources with capacity and meter, when the server lists them. */
      sources?: SourceInfo[];
    };

/** GET /api/v1/efficiency: the ledger summed per user, project, site (`group`) or local day. */
export interface EfficiencyRow {
  key: string;
  jobs: number;
  energy_j: number;
  kwh: number;
  gpu_hours: number;
  w_per_gpu: number | null;
  allocated_idle_j: number;
  method: EnergyMethod | null;
  mean_util_pct: number | null;
  j_per_unit: Record<string, number>;
  /** Not sent by the server yet; shown when present. */
  cost?: number;
  carbon_g?: number;
}

export interface EfficiencyReport {
  by: 'user' | 'project' | 'group' | 'day';
  time_zone: string;
  rows: EfficiencyRow[];
  /** Energy of GPUs no job held, and energy a gap kept from being split, over the range. */
  idle_j: number;
  unattributed_j: number;
  currency?: string;
}

/** Min, max, mean and last of a window's samples; n of them. */
export interface Stat {
  min: number;
  max: number;
  mean: number;
  last: number;
  n: number;
}

export interface FleetGpu {
  id: string;
  name: string | null;
  power_w: Stat | null;
  energy_mj: number | null;
  util_pct: Stat | null;
  mem_used_mib: Stat | null;
  temp_c: Stat | null;
  sm_clock_mhz: Stat | null;
  power_limit_w: number | null;
}

export interface FleetMeter {
  id: string;
  kind: string | null;
  name: string | null;
  last_window_ts: number | null;
  power_w: Stat | null;
  energy_import_wh: number | null;
  energy_export_wh: number | null;
  voltage_v: number | null;
  current_a: number | null;
  pf: number | null;
}

export interface FleetHost {
  site: string;
  host: string;
  state: string;
  stale: boolean;
  simulated: boolean;
  boot_id: string | null;
  version: string | null;
  sources: string[];
  last_window_ts: number | null;
  window_ms: number | null;
  power_w: Stat | null;
  windows: number;
  late_windows: number;
  gpus: FleetGpu[];
  /** Absent on hosts without meters in some answers. */
  meters?: FleetMeter[];
}

/** GET /api/v1/fleet: every host and GPU with its latest window. */
export interface FleetView {
  ts: number;
  simulated: boolean;
  summary: { power_w: number; hosts: number; online_hosts: number; gpus: number; simulated: boolean; ts: number | null };
  hosts: FleetHost[];
}

/** GET /api/v1/health, the fields the settings page shows. */
export interface HealthView {
  status: string;
  version: string;
  uptime_s: number;
  mqtt?: { url: string; embedded: boolean; connected: boolean };
  [field: string]: unknown;
}

export interface SeriesResult {
  unit: string;
  t: number[];
  values: (number | null)[];
  coverage: number[];
  /** Set when the values are bounds rather than measurements (e.g. summed maxima). */
  bound: string | null;
  /** How the values were derived, in words. */
  derived: string;
  members?: number;
}

/** An answer other than 2xx, with the server's reason and the problems it listed. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly problems: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Told about every 401 from the API: the session expired or was revoked.
 * Set once by the composition root (main.ts), which shows the login screen;
 * a module variable rather than a parameter so every page's requests report
 * it without each passing it along.
 */
let onUnauthorized: (() => void) | null = null;

export function setUnauthorizedHandler(handler: (() => void) | null): void {
  onUnauthorized = handler;
}

export async function fetchJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, { signal, headers: { accept: 'application/json' } });
  return readAnswer<T>(res);
}

/** The JSON body of a 2xx answer, or an ApiError with the server's reason and problems. */
async function readAnswer<T>(res: Response): Promise<T> {
  const body: unknown = await res.json().catch(() => null);
  if (res.status === 401) onUnauthorized?.();
  if (!res.ok) {
    const b = (body ?? {}) as { error?: unknown; problems?: unknown };
    const problems = Array.isArray(b.problems) ? b.problems.map(String) : [];
    throw new ApiError(res.status, typeof b.error === 'string' ? b.error : `HTTP ${res.status}`, problems);
  }
  if (body === null || typeof body !== 'object') throw new ApiError(res.status, 'the server answered something that is not JSON');
  return body as T;
}

/**
 * A write: POST, PUT or DELETE with an optional JSON body. A 4xx answer
 * throws an ApiError carrying the server's `problems`, which name the field
 * (a rule's 400), so a form can show them next to itself.
 */
export async function sendJson<T>(method: 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const res = await fetch(path, {
    method,
    signal,
    headers: { accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return readAnswer<T>(res);
}

export const postJson = <T>(path: string, body: unknown, signal?: AbortSignal) => sendJson<T>('POST', path, body, signal);
export const putJson = <T>(path: string, body: unknown, signal?: AbortSignal) => sendJson<T>('PUT', path, body, signal);
export const deleteJson = <T>(path: string, signal?: AbortSignal) => sendJson<T>('DELETE', path, undefined, signal);

// Sign-in (server/http/http-server.ts): whoami answers 401 with `auth: true`
// when a session is needed; login trades an API token for an HttpOnly cookie.
export const WHOAMI_URL = 'api/v1/whoami';
export const LOGIN_URL = 'api/v1/login';
export const LOGOUT_URL = 'api/v1/logout';
export const HEALTH_URL = 'api/v1/health';
export const FLEET_URL = 'api/v1/fleet';

/** Relative (no leading slash), so the UI also works behind a proxy under a path prefix. */
export function jobsUrl(q: { user?: string; project?: string; offset?: number; limit: number; from?: number; to?: number }): string {
  const p = new URLSearchParams();
  // Without a range the server answers the jobs of the last 24 h.
  if (q.from !== undefined) p.set('from', String(q.from));
  if (q.to !== undefined) p.set('to', String(q.to));
  if (q.user) p.set('user', q.user);
  if (q.project) p.set('project', q.project);
  p.set('offset', String(q.offset ?? 0));
  p.set('limit', String(q.limit));
  return `api/v1/jobs?${p}`;
}

export function jobUrl(id: string): string {
  return `api/v1/jobs/${encodeURIComponent(id)}`;
}

export function facilityUrl(range?: { from: number; to?: number }): string {
  if (!range) return 'api/v1/facility';
  return range.to === undefined ? `api/v1/facility?from=${range.from}` : `api/v1/facility?from=${range.from}&to=${range.to}`;
}

export function efficiencyUrl(q: { by: EfficiencyReport['by']; from: number; to?: number }): string {
  const p = new URLSearchParams({ by: q.by, from: String(q.from) });
  if (q.to !== undefined) p.set('to', String(q.to));
  return `api/v1/efficiency?${p}`;
}

export type SeriesMetric = 'power_w' | 'util_pct' | 'mem_used_mib' | 'temp_c' | 'sm_clock_mhz';

/** GET /api/v1/series for one GPU (server/http/series-params.ts). */
export function gpuSeriesUrl(q: { site: string; host: string; gpu: string; metric: SeriesMetric; agg: 'mean' | 'max'; from: number; to: number; step: number }): string {
  const p = new URLSearchParams({
    target: 'gpu',
    site: q.site,
    host: q.host,
    gpu: q.gpu,
    metric: q.metric,
    agg: q.agg,
    from: String(q.from),
    to: String(q.to),
    step: String(q.step),
  });
  return `api/v1/series?${p}`;
}

// Alerts (server/alerts/alert-routes.ts). Active alerts and transitions have
// the WebSocket's shapes (protocol/ws.ts); silences and rules are written
// down here.

/** One transition as the history stores it: the WebSocket's event shape. */
export type AlertHistoryEntry = WsAlertEvent;

export interface Silence {
  id: string;
  /** Exact rule id; absent: any rule. */
  rule?: string;
  /** A glob over target labels (`gpu:dc/node-1/*`); absent: any target. */
  target?: string;
  until: number;
  reason: string;
  by: string;
  created: number;
}

export interface RuleTarget {
  kind: string;
  site?: string;
  host?: string;
  gpu?: string;
  group?: string;
  source?: string;
}

/**
 * A rule as GET /api/v1/rules lists it. The type-specific fields (above,
 * rise_w, after_s...) are read by name through the index signature, so a
 * rule type this UI does not know yet still shows and edits as JSON.
 */
export interface RuleJson {
  id: string;
  type: string;
  target: RuleTarget;
  severity: WsAlert['severity'];
  for_s: number;
  origin: 'config' | 'api';
  description?: string;
  /** Set when the rule threw at run time: it is skipped, the others go on. */
  broken?: string;
  [field: string]: unknown;
}

export interface AlertsReport {
  active: WsAlert[];
  silences: Silence[];
  rules: RuleJson[];
  /** The latest transitions, newest first. */
  history: AlertHistoryEntry[];
}

export function alertsUrl(history: number): string {
  return `api/v1/alerts?history=${history}`;
}

export const ACK_URL = 'api/v1/alerts/ack';
export const SILENCES_URL = 'api/v1/silences';
export const RULES_URL = 'api/v1/rules';

export function silenceUrl(id: string): string {
  return `api/v1/silences/${encodeURIComponent(id)}`;
}

export function ruleUrl(id: string): string {
  return `api/v1/rules/${encodeURIComponent(id)}`;
}
