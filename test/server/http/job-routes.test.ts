/**
 * The job routes over a real DuckDB store: REST events are stored as job
 * events, merged with a collector's events of the same job, durable before
 * the answer, and refused with 503 when the store cannot take them.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryLedger } from '../../../server/core/delivery.js';
import { LiveState } from '../../../server/core/live-state.js';
import { HttpError, HttpServer } from '../../../server/http/http-server.js';
import { CommitWatch, JobsApi } from '../../../server/rest-jobs.js';
import { DuckDbStore } from '../../../server/store/duckdb-store.js';
import { tempDir } from '../../helpers/kilowatch-process.js';
import { info } from '../../helpers/windows.js';

const DAY = 86_400_000;
const gpu = (id: string) => ({ id, supports: { energy_counter: true, instant_power: true } });
let dataDir: string;
let store: DuckDbStore;
let commits: CommitWatch;
let live: LiveState;
let http: HttpServer;
let base: string;

const apiWith = (over: Partial<ConstructorParameters<typeof JobsApi>[0]> = {}) =>
  new JobsApi({ store, live, commits, now: Date.now, maxFutureMs: 5000, maxAgeMs: 7 * DAY, sites: ['dc'], ...over });

beforeAll(async () => {
  dataDir = tempDir('jobs-api');
  commits = new CommitWatch(new DeliveryLedger());
  // Flushes only when asked, so the tests see that an answer waited for its commit.
  store = new DuckDbStore({ dataDir, flushMs: 60_000, maxPendingRows: 1000, memoryLimit: '256MB', now: Date.now, hooks: commits });
  await store.start();
  live = new LiveState(60);
  live.applyInfo('dc', 'n1', info({ gpus: [gpu('GPU-a0'), gpu('GPU-a1')] }));
  live.applyInfo('dc', 'n2', info({ gpus: [gpu('GPU-b0')] }));
  http = new HttpServer({ host: '127.0.0.1', port: 0, webDir: dataDir, routes: {}, methodRoutes: apiWith().routes(), onUpgrade: (_r, s) => s.destroy() });
  base = await http.start();
});

afterAll(async () => {
  await http.stop();
  await store.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The store with one method replaced (the rest bound to the real store). */
function replacing<K extends keyof DuckDbStore>(target: DuckDbStore, name: K, fn: DuckDbStore[K]): DuckDbStore {
  return new Proxy(target, {
    get: (t, k) => {
      if (k === name) return fn;
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
}

async function call(method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, { method, ...(body !== undefined && { body: JSON.stringify(body) }) });
  return { status: res.status, body: (await res.json()) as any };
}

describe('job routes', () => {
  const start = Date.now() - 60_000;
  const job = { id: '1234+0', user: 'ada', project: 'climate', partition: 'gpu', hosts: ['n1', 'dc/n2'], gpus: ['GPU-a0', 'GPU-b0'], start };

  it('starts a job (201) as stored job events, one per host, readable at once', async () => {
    const created = await call('POST', '/api/v1/jobs', job);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      job: '1234+0', user: 'ada', project: 'climate', partition: 'gpu', hosts: [{ site: 'dc', host: 'n1' }, { site: 'dc', host: 'n2' }], gpus: 2, start, energy_j: 0,
    });
    expect(created.body.end).toBeUndefined();
    expect(created.body.assignments).toEqual([
      { site: 'dc', host: 'n1', gpu: 'GPU-a0', from: start, to: null },
      { site: 'dc', host: 'n2', gpu: 'GPU-b0', from: start, to: null },
    ]);
    expect(store.stats(Date.now()).pending_rows).toBe(0); // committed before the answer
    expect(await call('GET', `/api/v1/jobs/${encodeURIComponent('1234+0')}`)).toEqual({ status: 200, body: created.body });
  });

  it('answers a repeated start with the job as it is (200), storing nothing twice', async () => {
    const written = store.stats(Date.now()).written_rows;
    const again = await call('POST', '/api/v1/jobs', { ...job, start: start + 5000 });
    expect([again.status, again.body.start, again.body.gpus]).toEqual([200, start, 2]);
    expect(store.stats(Date.now()).written_rows).toBe(written);
  });

  it('merges a job a collector already reported: one job, with the hosts of both', async () => {
    const key = { site: 'dc', host: 'n1', stream: 'job', bootId: 'collector-boot' };
    const event = { v: 1 as const, boot_id: 'collector-boot', seq: 0, first_seq: 0, ts: start, event: 'start' as const, job: 'c1', user: 'bob', project: 'p', gpus: ['GPU-a1'] };
    store.enqueue({ kind: 'job', key, event, receivedAt: Date.now() });
    await store.flush();
    const merged = await call('POST', '/api/v1/jobs', { id: 'c1', user: 'bob', project: 'p', hosts: ['n1', 'n2'], gpus: ['GPU-a1', 'GPU-b0'], start: start + 1000 });
    expect(merged.status).toBe(200);
    expect(merged.body).toMatchObject({ job: 'c1', gpus: 2, start, hosts: [{ host: 'n1' }, { host: 'n2' }] });
    const jobs = await store.jobs({ from: start - 1, to: Date.now() + 1 });
    expect(jobs.filter((j) => j.job === 'c1')).toHaveLength(1);
  });

  it('ends a job (200) on every host, and ending it again answers the same record', async () => {
    const end = start + 30_000;
    const ended = await call('POST', `/api/v1/jobs/${encodeURIComponent('1234+0')}/end`, { end });
    expect([ended.status, ended.body.end]).toEqual([200, end]);
    expect(ended.body.assignments.map((a: any) => a.to)).toEqual([end, end]);
    const twice = await call('POST', `/api/v1/jobs/${encodeURIComponent('1234+0')}/end`);
    expect(twice).toEqual({ status: 200, body: ended.body });
  });

  it('says 404 for a job never started, and 400 naming end for an end before the start', async () => {
    expect(await call('POST', '/api/v1/jobs/nope/end', {})).toMatchObject({ status: 404, body: { error: 'no job "nope": it was never started' } });
    expect(await call('GET', '/api/v1/jobs/nope')).toMatchObject({ status: 404 });
    const early = await call('POST', '/api/v1/jobs/c1/end', { end: start - 1 });
    expect(early).toEqual({ status: 400, body: { error: 'bad job end', problems: [`end ${start - 1} must be after the job's start ${start} on dc/n1`, `end ${start - 1} must be after the job's start ${start + 1000} on dc/n2`] } });
    const missing = await call('POST', '/api/v1/jobs', { ...job, id: undefined, gpus: ['GPU-a0', 'GPU-b0', 'GPU-zz'] });
    expect(missing).toMatchObject({ status: 400, body: { error: 'bad job start', problems: ['id is missing', 'gpus[2]: GPU-zz is not a GPU known to the fleet'] } });
  });

  it('answers 503 when the store refuses the event, or has not stored it in time', async () => {
    const full = apiWith({ store: replacing(store, 'enqueue', () => false) });
    await expect(full.start({ ...job, id: 'j-full' })).rejects.toMatchObject({ status: 503, message: 'the store refused the job event: its write buffer is full' });
    // A store that never flushes on request: the event waits in the buffer past the timeout.
    const slow = apiWith({ commitTimeoutMs: 100, store: replacing(store, 'flush', async () => undefined) });
    const err = await slow.start({ ...job, id: 'j-slow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpError);
    expect(err).toMatchObject({ status: 503, message: 'the job event was not stored within 0.1 s' });
    // It stays buffered, and the next flush stores it.
    await store.flush();
    expect(await call('GET', '/api/v1/jobs/j-slow')).toMatchObject({ status: 200, body: { job: 'j-slow' } });
  });
});
