/** The bodies of POST /api/v1/jobs and /api/v1/jobs/{id}/end: every problem listed, each naming its field. */
import { describe, expect, it } from 'vitest';
import { validateJobEvent } from '../../../protocol/validate.js';
import { type FleetIndex, parseJobEnd, parseJobStart } from '../../../server/http/job-body.js';

const NOW = 1_764_000_000_000;
const DAY = 86_400_000;
const A = ['GPU-a0', 'GPU-a1'];
const B = ['GPU-b0', 'GPU-b1'];

/** Two hosts in site dc1, and a host of the same name as one of them in dc2. */
const HOSTS: Record<string, string[]> = { 'dc1/n1': A, 'dc1/n2': B, 'dc2/n2': ['GPU-c0'] };
const fleet: FleetIndex = {
  gpusOf: (site, host) => (HOSTS[`${site}/${host}`] ? new Set(HOSTS[`${site}/${host}`]) : undefined),
  sitesOf: (host) => Object.keys(HOSTS).filter((k) => k.endsWith(`/${host}`)).map((k) => k.split('/')[0]!),
  hostOfGpu: (gpu) => {
    const k = Object.keys(HOSTS).find((h) => HOSTS[h]!.includes(gpu));
    return k ? { site: k.split('/')[0]!, host: k.split('/')[1]! } : undefined;
  },
};
const limits = { now: NOW, maxFutureMs: 5000, maxAgeMs: 7 * DAY };
const body = (over: Record<string, unknown> = {}) => ({ id: '1234+0', user: 'ada', project: 'climate', hosts: ['n1'], gpus: ['GPU-a1'], ...over });
const problems = (b: unknown, lim: Parameters<typeof parseJobStart>[2] = limits) => {
  const r = parseJobStart(b, fleet, lim);
  return r.ok ? [] : r.problems;
};

describe('POST /api/v1/jobs body', () => {
  it('reads a start, placing each GPU on its host; the start defaults to now', () => {
    expect(parseJobStart(body({ partition: 'gpu', labels: { qos: 'high' }, hosts: ['n1', 'dc1/n2'], gpus: ['GPU-b0', 'GPU-a0', 'GPU-a1'] }), fleet, limits)).toEqual({
      ok: true,
      value: {
        id: '1234+0', user: 'ada', project: 'climate', partition: 'gpu', start: NOW, labels: { qos: 'high' },
        hosts: [{ site: 'dc1', host: 'n1', gpus: ['GPU-a0', 'GPU-a1'] }, { site: 'dc1', host: 'n2', gpus: ['GPU-b0'] }],
      },
    });
    expect(parseJobStart(body({ start: NOW - 60_000, end: NOW - 1000 }), fleet, limits)).toMatchObject({ ok: true, value: { start: NOW - 60_000, end: NOW - 1000 } });
  });

  it('takes a bare host name in the configured site, else in the one site that knows it', () => {
    expect(parseJobStart(body({ hosts: ['n2'], gpus: ['GPU-c0'] }), fleet, { ...limits, defaultSite: 'dc2' })).toMatchObject({ ok: true, value: { hosts: [{ site: 'dc2', host: 'n2' }] } });
    expect(problems(body({ hosts: ['n2'], gpus: ['GPU-b0'] }))).toEqual([
      'hosts[0]: n2 is known in several sites (dc1, dc2); write site/host', 'gpus[0]: GPU-b0 is on dc1/n2, which is not in hosts',
    ]);
    expect(problems(body(), { ...limits, defaultSite: 'dc2' })).toEqual(['hosts[0]: dc2/n1 is not a host known to the fleet', 'gpus[0]: GPU-a1 is on dc1/n1, which is not in hosts']);
  });

  it('names the missing id, and every other problem, at once', () => {
    expect(problems({ ...body(), id: undefined, user: 7, extra: true })).toEqual([
      'extra is not a field of this body (fields: id, user, project, partition, hosts, gpus, start, end, labels)',
      'id is missing',
      'user must be a string of 1 to 256 characters',
    ]);
    expect(problems(undefined)).toEqual(['body is missing: send a JSON object']);
    expect(problems([body()])).toEqual(['body must be a JSON object']);
  });

  it('refuses a GPU unknown to the fleet, one on a host not listed, and a host holding none of the GPUs', () => {
    expect(problems(body({ gpus: ['GPU-a1', 'GPU-zz'] }))).toEqual(['gpus[1]: GPU-zz is not a GPU known to the fleet']);
    expect(problems(body({ gpus: ['GPU-b1'] }))).toEqual(['gpus[0]: GPU-b1 is on dc1/n2, which is not in hosts', 'hosts: none of gpus is on dc1/n1']);
    expect(problems(body({ hosts: ['n1', 'dc1/n2'], gpus: ['GPU-a0'] }))).toEqual(['hosts: none of gpus is on dc1/n2']);
    expect(problems(body({ hosts: ['nx', 'n1', 'dc1/n1'], gpus: ['GPU-a0', 'GPU-a0'] }))).toEqual([
      'hosts[0]: nx is not a host known to the fleet', 'hosts[2]: dc1/n1 is listed twice', 'gpus[1] repeats "GPU-a0"',
    ]);
    expect(problems(body({ hosts: [], gpus: 'GPU-a0' }))).toEqual(['hosts must be a list of 1 to 1024 strings', 'gpus must be a list of 1 to 1024 strings']);
    expect(problems(body({ hosts: ['/n1'] }))).toContain('hosts[0] "/n1" must be host or site/host');
  });

  it('refuses an end before the start, a start in the future beyond the clock skew, and one older than the store keeps', () => {
    expect(problems(body({ start: NOW - 1000, end: NOW - 2000 }))).toEqual([`end ${NOW - 2000} must be after start ${NOW - 1000}`]);
    expect(problems(body({ start: NOW, end: NOW }))).toEqual([`end ${NOW} must be after start ${NOW}`]);
    expect(problems(body({ start: NOW + 5000 }))).toEqual([]); // within the allowed skew
    expect(problems(body({ start: NOW + 60_000 }))).toEqual(['start is 60 s in the future, beyond the allowed clock skew of 5000 ms']);
    expect(problems(body({ start: NOW - 8 * DAY }))).toEqual(['start is 8 days ago, older than the 7 days the store keeps']);
    expect(problems(body({ start: '2025-11-24T00:00:00Z', end: 1.5 }))).toEqual([
      'start must be an integer number of ms since the epoch', 'end must be an integer number of ms since the epoch',
    ]);
  });

  it('checks labels as the protocol does', () => {
    expect(problems(body({ labels: { a: 1 } }))).toEqual(['labels.a must be a string']);
    expect(problems(body({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }))).toEqual(['labels has 65 entries, more than 64']);
    expect(problems(body({ labels: ['x'] }))).toEqual(['labels must be an object of strings']);
  });

  it('gives values a collector job event could carry', () => {
    const r = parseJobStart(body({ partition: 'p', labels: { k: 'v' } }), fleet, limits);
    if (!r.ok) throw new Error(r.problems.join('; '));
    const { id, hosts, start, end: _end, ...rest } = r.value;
    const event = { v: 1, boot_id: 'b', seq: 0, first_seq: 0, ts: start, event: 'start', job: id, gpus: hosts[0]!.gpus, ...rest };
    expect(validateJobEvent(event)).toMatchObject({ ok: true });
  });
});

describe('POST /api/v1/jobs/{id}/end body', () => {
  it('ends now without a body, or at the time given', () => {
    expect(parseJobEnd(undefined, limits)).toEqual({ ok: true, value: { end: NOW } });
    expect(parseJobEnd({}, limits)).toEqual({ ok: true, value: { end: NOW } });
    expect(parseJobEnd({ end: NOW - 5 }, limits)).toEqual({ ok: true, value: { end: NOW - 5 } });
  });

  it('names a bad, future or unknown field', () => {
    expect(parseJobEnd({ end: NOW + 3_600_000 }, limits)).toEqual({ ok: false, problems: ['end is 3600 s in the future, beyond the allowed clock skew of 5000 ms'] });
    expect(parseJobEnd({ end: 'now', reason: 'x' }, limits)).toEqual({ ok: false, problems: ['reason is not a field of this body (fields: end)', 'end must be an integer number of ms since the epoch'] });
    expect(parseJobEnd('end', limits)).toEqual({ ok: false, problems: ['body must be a JSON object'] });
  });
});
