/**
 * Job events over REST (issue 6, "Jobs"): POST /api/v1/jobs starts a job,
 * POST /api/v1/jobs/{id}/end ends it, GET /api/v1/jobs/{id} reads it back.
 *
 * A REST call becomes the same job events a collector sends (StoredItem kind
 * 'job', one event per host), stored through the same store, so a job that a
 * collector and a Slurm prolog both report is one job: the store folds the
 * events of a job id per host, and a second start on a host where the job
 * already runs, or an end on a host where it already ended, changes nothing.
 *
 * Durability before the answer: the reply waits until the store has
 * committed the events (the commit hook, CommitWatch), not merely until a
 * flush returned, because a flush that fails keeps its batch and returns.
 */
import { LOCAL, type Principal, seesProject } from './auth/principal.js';
import { randomUUID } from 'node:crypto';
import type { JobEvent } from '../protocol/payloads.js';
import type { StreamKey } from './core/delivery.js';
import type { LiveState } from './core/live-state.js';
import { type FleetIndex, type JobHostPart, type JobStart, parseJobEnd, parseJobStart } from './http/job-body.js';
import { HttpError, JsonReply, type MethodRoute } from './http/http-server.js';
import { type JobsPage, queryJobs } from './store/job-queries.js';
import { type CommitHooks, type HistoryReader, type JobRecord, type MemberSelector, type WindowStore, memberName } from './store/store.js';

/**
 * The delivery stream of REST job events: (site, the job's host, 'job/api',
 * the server's own boot id), seq rising by one per event and host. It is not
 * the collector's 'job' stream, so its seqs can never collide with a
 * collector's in the stored (site, host, boot_id, seq); the boot id is new at
 * every server start, so seqs may restart at 0. The delivery ledger never
 * sees this stream (no collector waits for an _ack of it): the caller of the
 * API is answered instead, and retries on a 503.
 */
export const API_JOB_STREAM = 'job/api';

/** A job still running: its open spans end at this instant (as the store's own job records use). */
const OPEN = Number.MAX_SAFE_INTEGER;

/** Tees the store's commit hooks, so a REST call learns when its events are durable. */
export class CommitWatch implements CommitHooks {
  private readonly waiting = new Map<string, () => void>();

  constructor(private readonly inner: CommitHooks) {}

  private static id(key: StreamKey, seq: number): string {
    return `${key.site}\n${key.host}\n${key.stream}\n${key.bootId}\n${seq}`;
  }

  rowsForCommit(batch: readonly { key: StreamKey; seq: number }[], now: number) {
    return this.inner.rowsForCommit(batch, now);
  }

  committed(batch: readonly { key: StreamKey; seq: number }[]): void {
    this.inner.committed(batch);
    if (this.waiting.size === 0) return;
    for (const { key, seq } of batch) {
      if (key.stream !== API_JOB_STREAM) continue;
      const id = CommitWatch.id(key, seq);
      this.waiting.get(id)?.();
      this.waiting.delete(id);
    }
  }

  /** Resolves when (key, seq) is committed; `forget` drops the wait (refused, or timed out). */
  expect(key: StreamKey, seq: number): Promise<void> {
    return new Promise((resolve) => this.waiting.set(CommitWatch.id(key, seq), resolve));
  }

  forget(key: StreamKey, seq: number): void {
    this.waiting.delete(CommitWatch.id(key, seq));
  }
}

/** Live state's hosts and GPUs as the body parser asks for them; built per call (job events are rare). */
export function fleetIndex(live: LiveState): FleetIndex {
  const hosts = new Map<string, Set<string>>();
  const sites = new Map<string, string[]>();
  const gpuAt = new Map<string, { site: string; host: string }>();
  for (const h of live.allHosts()) {
    const ids = new Set([...h.gpus.keys(), ...h.inventory.keys()]);
    hosts.set(memberName(h.site, h.host), ids);
    sites.set(h.host, [...(sites.get(h.host) ?? []), h.site]);
    for (const g of ids) gpuAt.set(g, { site: h.site, host: h.host });
  }
  return {
    gpusOf: (site, host) => hosts.get(memberName(site, host)),
    sitesOf: (host) => sites.get(host) ?? [],
    hostOfGpu: (gpu) => gpuAt.get(gpu),
  };
}

export interface JobsApiDeps {
  store: WindowStore & HistoryReader;
  live: LiveState;
  commits: CommitWatch;
  now: () => number;
  maxFutureMs: number;
  /** The raw retention: a start older than this would have no windows to account. */
  maxAgeMs: number;
  /** server.sites: a bare host name belongs to the one site named there, if exactly one. */
  sites: readonly string[];
  /** How long a call waits for its events to be committed before it answers 503 (default 10 s). */
  commitTimeoutMs?: number;
  bootId?: string;
  /** With a site file: adds cost and carbon to a job page (server/facility.ts). */
  price?: (page: JobsPage, from: number, to: number) => Promise<JobsPage>;
}

interface Found {
  record: JobRecord;
  /** Per GPU and host: [from, to), `to` OPEN while it runs there. */
  spans: MemberSelector[];
}

export class JobsApi {
  private readonly bootId: string;
  private readonly seqs = new Map<string, number>();
  /** Calls for one job id run one at a time, so two ends cannot both see the job running. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(private readonly deps: JobsApiDeps) {
    this.bootId = deps.bootId ?? randomUUID();
  }

  routes(): MethodRoute[] {
    return [
      { method: 'POST', path: '/api/v1/jobs', handle: ({ body }) => this.start(body) },
      { method: 'POST', path: '/api/v1/jobs/{id}/end', handle: ({ params, body }) => this.end(params.id!, body) },
      { method: 'GET', path: '/api/v1/jobs/{id}', handle: ({ params, principal }) => this.get(params.id!, principal) },
    ];
  }

  async start(body: unknown): Promise<JsonReply> {
    const d = this.deps;
    const real = d.sites.filter((s) => s !== '+');
    const parsed = parseJobStart(body, fleetIndex(d.live), {
      now: d.now(), maxFutureMs: d.maxFutureMs, maxAgeMs: d.maxAgeMs, ...(real.length === 1 && { defaultSite: real[0] }),
    });
    if (!parsed.ok) throw new HttpError(400, 'bad job start', parsed.problems);
    const job = parsed.value;
    return this.serial(job.id, async () => {
      const before = await this.find(job.id);
      const runningFrom = before ? openStarts(before.spans) : new Map<string, number>();
      // A host where the job already runs (reported by a collector, or a retried prolog) gets no second start.
      const events = job.hosts.filter((h) => !runningFrom.has(memberName(h.site, h.host))).map((h) => this.event(h, 'start', job.start, job));
      if (job.end !== undefined) {
        const problems = job.hosts.flatMap((h) => {
          const from = runningFrom.get(memberName(h.site, h.host)) ?? job.start;
          return job.end! > from ? [] : [`end ${job.end} must be after the job's start ${from} on ${h.site}/${h.host}`];
        });
        if (problems.length > 0) throw new HttpError(400, 'bad job start', problems);
        events.push(...job.hosts.map((h) => this.event(h, 'end', job.end!, job)));
      }
      await this.write(events);
      return new JsonReply(before ? 200 : 201, await this.detail(job.id));
    });
  }

  async end(id: string, body: unknown): Promise<JsonReply> {
    const d = this.deps;
    const parsed = parseJobEnd(body, { now: d.now(), maxFutureMs: d.maxFutureMs });
    if (!parsed.ok) throw new HttpError(400, 'bad job end', parsed.problems);
    const { end } = parsed.value;
    return this.serial(id, async () => {
      const found = await this.find(id);
      if (!found) throw new HttpError(404, `no job "${id}": it was never started`);
      // Ending twice is not an error: the second call answers the record as the first left it.
      if (found.record.end !== undefined) return new JsonReply(200, await this.detail(id, found));
      const open = [...openStarts(found.spans)];
      const problems = open.filter(([, from]) => end <= from).map(([member, from]) => `end ${end} must be after the job's start ${from} on ${decodeMember(member)}`);
      if (problems.length > 0) throw new HttpError(400, 'bad job end', problems);
      await this.write(open.map(([member]) => {
        const [site, host] = member.split('/').map(decodeURIComponent) as [string, string];
        const gpus = found.spans.filter((s) => s.to === OPEN && s.site === site && s.host === host).map((s) => s.gpu!);
        return this.event({ site, host, gpus }, 'end', end, { id });
      }));
      return new JsonReply(200, await this.detail(id));
    });
  }

  /** Another project's job is as absent to a scoped viewer as one that never ran: the same 404. */
  async get(id: string, principal: Principal = LOCAL): Promise<unknown> {
    const found = await this.find(id);
    if (!found || !seesProject(principal, found.record.project)) throw new HttpError(404, `no job "${id}"`);
    return this.detail(id, found);
  }

  /** Whether a job exists and the principal may see it (series of a job). */
  async visible(id: string, principal: Principal): Promise<boolean> {
    if (principal.projects === undefined) return true;
    const found = await this.find(id);
    return found !== undefined && seesProject(principal, found.record.project);
  }

  private serial<T>(id: string, work: () => Promise<T>): Promise<T> {
    const run = (this.locks.get(id) ?? Promise.resolve()).then(work, work);
    const tail = run.catch(() => undefined);
    this.locks.set(id, tail);
    void tail.then(() => this.locks.get(id) === tail && this.locks.delete(id));
    return run;
  }

  private event(h: JobHostPart, kind: 'start' | 'end', ts: number, job: Pick<JobStart, 'id'> & Partial<JobStart>): { key: StreamKey; event: JobEvent } {
    const key = { site: h.site, host: h.host, stream: API_JOB_STREAM, bootId: this.bootId };
    const member = memberName(h.site, h.host);
    const seq = this.seqs.get(member) ?? 0;
    this.seqs.set(member, seq + 1);
    // first_seq = seq: the server keeps no spool for this stream; a lost event is the caller's to resend.
    const event: JobEvent = { v: 1, boot_id: this.bootId, seq, first_seq: seq, ts, event: kind, job: job.id, gpus: h.gpus };
    if (kind === 'start') {
      if (job.user !== undefined) event.user = job.user;
      if (job.project !== undefined) event.project = job.project;
      if (job.partition !== undefined) event.partition = job.partition;
      if (job.labels !== undefined) event.labels = job.labels;
    }
    return { key, event };
  }

  /** Buffers the events, then waits until the store has committed every one of them. */
  private async write(events: { key: StreamKey; event: JobEvent }[]): Promise<void> {
    const { store, commits, now } = this.deps;
    const done: Promise<void>[] = [];
    for (const { key, event } of events) {
      done.push(commits.expect(key, event.seq));
      if (store.enqueue({ kind: 'job', key, event, receivedAt: now() })) continue;
      for (const e of events) commits.forget(e.key, e.event.seq);
      const st = store.stats(now());
      throw new HttpError(503, 'the store refused the job event: its write buffer is full', [
        `${st.pending_rows} rows wait to be written${st.last_error ? `; the store reports: ${st.last_error}` : ''}`,
        'retry later; events already taken are kept, and a retried start or end is merged with them',
      ]);
    }
    if (done.length === 0) return;
    // Not awaited: with VictoriaMetrics a flush also waits out its 15 s durability delay for GPU windows.
    void store.flush().catch(() => undefined);
    const timeoutMs = this.deps.commitTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      Promise.all(done).then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (inTime) return;
    for (const e of events) commits.forget(e.key, e.event.seq);
    const st = store.stats(now());
    throw new HttpError(503, `the job event was not stored within ${timeoutMs / 1000} s`, [
      `store: ${st.last_error ?? 'no error reported; it is slow'}`,
      'the event stays buffered and is written when the store recovers; retrying is safe',
    ]);
  }

  /** The job's GPUs and record, from the store's events (reported by any source), or undefined when it was never started. */
  private async find(id: string): Promise<Found | undefined> {
    const { store, now } = this.deps;
    const spans = await store.jobGpus(id, OPEN);
    if (spans.length === 0) return undefined;
    const from = Math.min(...spans.map((s) => s.from));
    const to = Math.max(now(), ...spans.map((s) => (s.to === OPEN ? s.from : s.to))) + 1;
    const record = (await store.jobs({ from, to })).find((j) => j.job === id);
    return record && { record, spans };
  }

  /** The job as GET /api/v1/jobs lists it (energy and coverage so far), plus which GPUs it holds on which host and when. */
  private async detail(id: string, found?: Found): Promise<unknown> {
    const f = found ?? (await this.find(id));
    if (!f) throw new HttpError(500, `job "${id}" was stored but cannot be read back`);
    const now = this.deps.now();
    const from = f.record.start; // the ledger's reads include the quarter hour that holds it
    const to = Math.max(now, f.record.end ?? now) + 1;
    const listed = await queryJobs(onlyJob(this.deps.store, f.record), { from, to }, { offset: 0, limit: 1 }, now);
    const page = this.deps.price ? await this.deps.price(listed, from, to) : listed;
    return {
      ...page.jobs[0],
      assignments: f.spans.map((s) => ({ site: s.site, host: s.host, gpu: s.gpu, from: s.from, to: s.to === OPEN ? null : s.to })),
    };
  }
}

/** Hosts (member names) where the job runs now, with the start of that run. */
function openStarts(spans: readonly MemberSelector[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of spans) if (s.to === OPEN) out.set(memberName(s.site, s.host), s.from);
  return out;
}

function decodeMember(member: string): string {
  return member.split('/').map(decodeURIComponent).join('/');
}

/**
 * The store's reader with `jobs` answering only this record, so queryJobs
 * reads the energy of one job, not of every job overlapping its life.
 * A proxy rather than an object literal, so it follows HistoryReader as it grows.
 */
function onlyJob(reader: HistoryReader, record: JobRecord): HistoryReader {
  return new Proxy(reader, {
    get(target, key) {
      if (key === 'jobs') return async () => [record];
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
