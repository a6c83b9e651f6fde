/**
 * The JSON bodies of POST /api/v1/jobs and POST /api/v1/jobs/{id}/end, read
 * into what the job events need, with every problem listed and each problem
 * naming its field (issue 6: "Bad bodies get a 400 naming the field"). Pure:
 * the fleet's hosts and GPUs, the clock and the limits are passed in.
 *
 * Start: {"id", "user", "project", "partition"?, "hosts": [...], "gpus": [...],
 *         "start"?: ms, "end"?: ms, "labels"?: {...}}
 *   hosts are `host` or `site/host`; gpus are ids of GPUs on those hosts.
 *   `end` records a job that already finished, in one call.
 * End:   {"end"?: ms} (default now), or no body at all.
 */
import type { Parsed } from './job-params.js';

/** What the body parser may know about the fleet: live state's inventory, as an index. */
export interface FleetIndex {
  /** GPU ids reported by a host (windows or `info`); undefined for a host never seen. */
  gpusOf(site: string, host: string): ReadonlySet<string> | undefined;
  /** Sites where a host of this name is known. */
  sitesOf(host: string): readonly string[];
  /** Where a GPU id is known, for a message that says where it really is. */
  hostOfGpu(gpu: string): { site: string; host: string } | undefined;
}

export interface JobBodyLimits {
  now: number;
  /** The clock skew allowed (server.max_future_ms), as for windows. */
  maxFutureMs: number;
  /** How far back a start may lie: the raw retention, as for collector job events. */
  maxAgeMs: number;
  /** The site of a bare host name: server.sites when it names exactly one site. */
  defaultSite?: string;
}

export interface JobHostPart {
  site: string;
  host: string;
  /** The job's GPUs on this host, in the order given. */
  gpus: string[];
}

export interface JobStart {
  id: string;
  user: string;
  project: string;
  partition?: string;
  start: number;
  end?: number;
  labels?: Record<string, string>;
  hosts: JobHostPart[];
}

/** Bounds of the protocol's job event (protocol/validate.ts), so a REST event is one a collector could have sent. */
const MAX_TEXT = 256;
const MAX_LABELS = 64;
const MAX_LIST = 1024;

const START_FIELDS = new Set(['id', 'user', 'project', 'partition', 'hosts', 'gpus', 'start', 'end', 'labels']);
const END_FIELDS = new Set(['end']);

type Obj = Record<string, unknown>;

function objectBody(body: unknown, problems: string[]): Obj | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    problems.push(body === undefined ? 'body is missing: send a JSON object' : 'body must be a JSON object');
    return undefined;
  }
  return body as Obj;
}

/** Unknown fields are refused, so a misspelt "partiton" is not silently dropped. */
function unknownFields(o: Obj, known: ReadonlySet<string>, problems: string[]): void {
  for (const k of Object.keys(o)) if (!known.has(k)) problems.push(`${k} is not a field of this body (fields: ${[...known].join(', ')})`);
}

function text(o: Obj, key: string, required: boolean, problems: string[]): string | undefined {
  const v = o[key];
  if (v === undefined) {
    if (required) problems.push(`${key} is missing`);
    return undefined;
  }
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT) {
    problems.push(`${key} must be a string of 1 to ${MAX_TEXT} characters`);
    return undefined;
  }
  return v;
}

/** A time in ms since the epoch: an integer, not in the future beyond the allowed skew. */
function instant(o: Obj, key: string, lim: JobBodyLimits, problems: string[]): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    problems.push(`${key} must be an integer number of ms since the epoch`);
    return undefined;
  }
  if (v > lim.now + lim.maxFutureMs) {
    problems.push(`${key} is ${Math.round((v - lim.now) / 1000)} s in the future, beyond the allowed clock skew of ${lim.maxFutureMs} ms`);
    return undefined;
  }
  return v;
}

function strings(o: Obj, key: string, problems: string[]): string[] | undefined {
  const v = o[key];
  if (v === undefined) return problems.push(`${key} is missing`), undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_LIST) return problems.push(`${key} must be a list of 1 to ${MAX_LIST} strings`), undefined;
  const bad = v.findIndex((s) => typeof s !== 'string' || s.length === 0 || s.length > MAX_TEXT);
  if (bad >= 0) return problems.push(`${key}[${bad}] must be a string of 1 to ${MAX_TEXT} characters`), undefined;
  const seen = new Set<string>();
  v.forEach((s: string, i) => (seen.has(s) ? problems.push(`${key}[${i}] repeats "${s}"`) : seen.add(s)));
  return v as string[];
}

function labels(o: Obj, problems: string[]): Record<string, string> | undefined {
  const v = o.labels;
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return problems.push('labels must be an object of strings'), undefined;
  const entries = Object.entries(v);
  if (entries.length > MAX_LABELS) problems.push(`labels has ${entries.length} entries, more than ${MAX_LABELS}`);
  for (const [k, s] of entries) if (typeof s !== 'string') problems.push(`labels.${k} must be a string`);
  return { ...(v as Record<string, string>) };
}

/**
 * `site/host` or a bare host: its site from the configuration when it names
 * one site, else from the fleet when exactly one site knows the host.
 */
function resolveHost(entry: string, i: number, fleet: FleetIndex, lim: JobBodyLimits, problems: string[]): { site: string; host: string } | undefined {
  const slash = entry.indexOf('/');
  if (slash >= 0) {
    const site = entry.slice(0, slash);
    const host = entry.slice(slash + 1);
    if (site === '' || host === '') return problems.push(`hosts[${i}] "${entry}" must be host or site/host`), undefined;
    if (!fleet.gpusOf(site, host)) return problems.push(`hosts[${i}]: ${entry} is not a host known to the fleet`), undefined;
    return { site, host };
  }
  if (lim.defaultSite !== undefined) {
    if (!fleet.gpusOf(lim.defaultSite, entry)) return problems.push(`hosts[${i}]: ${lim.defaultSite}/${entry} is not a host known to the fleet`), undefined;
    return { site: lim.defaultSite, host: entry };
  }
  const sites = fleet.sitesOf(entry);
  if (sites.length === 1) return { site: sites[0]!, host: entry };
  problems.push(sites.length === 0
    ? `hosts[${i}]: ${entry} is not a host known to the fleet`
    : `hosts[${i}]: ${entry} is known in several sites (${sites.join(', ')}); write site/host`);
  return undefined;
}

export function parseJobStart(body: unknown, fleet: FleetIndex, lim: JobBodyLimits): Parsed<JobStart> {
  const problems: string[] = [];
  const o = objectBody(body, problems);
  if (!o) return { ok: false, problems };
  unknownFields(o, START_FIELDS, problems);
  const id = text(o, 'id', true, problems);
  const user = text(o, 'user', true, problems);
  const project = text(o, 'project', true, problems);
  const partition = text(o, 'partition', false, problems);
  const start = instant(o, 'start', lim, problems) ?? (o.start === undefined ? lim.now : undefined);
  if (start !== undefined && start < lim.now - lim.maxAgeMs) {
    problems.push(`start is ${Math.round((lim.now - start) / 86_400_000)} days ago, older than the ${Math.round(lim.maxAgeMs / 86_400_000)} days the store keeps`);
  }
  const end = instant(o, 'end', lim, problems);
  if (start !== undefined && end !== undefined && end <= start) problems.push(`end ${end} must be after start ${start}`);
  const lab = labels(o, problems);

  const hostEntries = strings(o, 'hosts', problems) ?? [];
  const parts: JobHostPart[] = [];
  hostEntries.forEach((entry, i) => {
    const at = resolveHost(entry, i, fleet, lim, problems);
    if (!at) return;
    if (parts.some((p) => p.site === at.site && p.host === at.host)) problems.push(`hosts[${i}]: ${at.site}/${at.host} is listed twice`);
    else parts.push({ ...at, gpus: [] });
  });
  const gpus = strings(o, 'gpus', problems) ?? [];
  gpus.forEach((gpu, i) => {
    const part = parts.find((p) => fleet.gpusOf(p.site, p.host)?.has(gpu));
    if (part) return void part.gpus.push(gpu);
    const elsewhere = fleet.hostOfGpu(gpu);
    problems.push(elsewhere
      ? `gpus[${i}]: ${gpu} is on ${elsewhere.site}/${elsewhere.host}, which is not in hosts`
      : `gpus[${i}]: ${gpu} is not a GPU known to the fleet`);
  });
  // A start event without GPUs holds nothing, so the host would not count as part of the job.
  if (gpus.length > 0) {
    for (const p of parts) if (p.gpus.length === 0) problems.push(`hosts: none of gpus is on ${p.site}/${p.host}`);
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      id: id!, user: user!, project: project!, start: start!, hosts: parts,
      ...(partition !== undefined && { partition }),
      ...(end !== undefined && { end }),
      ...(lab !== undefined && { labels: lab }),
    },
  };
}

/** The end body; its time is checked against the job's start by the caller, who knows the job. */
export function parseJobEnd(body: unknown, lim: Pick<JobBodyLimits, 'now' | 'maxFutureMs'>): Parsed<{ end: number }> {
  if (body === undefined) return { ok: true, value: { end: lim.now } };
  const problems: string[] = [];
  const o = objectBody(body, problems);
  if (!o) return { ok: false, problems };
  unknownFields(o, END_FIELDS, problems);
  const end = instant(o, 'end', { ...lim, maxAgeMs: Infinity }, problems);
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, value: { end: end ?? lim.now } };
}
