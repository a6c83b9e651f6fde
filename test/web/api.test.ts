import { describe, expect, it } from 'vitest';
import { ACK_URL, RULES_URL, SILENCES_URL, alertsUrl, facilityUrl, jobUrl, jobsUrl, ruleUrl, silenceUrl } from '../../web/src/lib/api.js';

describe('API URLs', () => {
  it('are relative to the page, so the UI only talks to its own server', () => {
    for (const url of [jobsUrl({ limit: 1 }), jobUrl('x'), facilityUrl()]) expect(url).toMatch(/^api\/v1\//);
  });

  it('jobs: filters only when set, page always', () => {
    expect(jobsUrl({ limit: 25 })).toBe('api/v1/jobs?offset=0&limit=25');
    expect(jobsUrl({ user: 'ada', project: 'a&b', offset: 50, limit: 25 })).toBe('api/v1/jobs?user=ada&project=a%26b&offset=50&limit=25');
    expect(jobsUrl({ limit: 500, from: 1, to: 2 })).toBe('api/v1/jobs?from=1&to=2&offset=0&limit=500');
  });

  it('a job id is one encoded path segment', () => {
    expect(jobUrl('1234+0')).toBe('api/v1/jobs/1234%2B0');
    expect(jobUrl('a/b')).toBe('api/v1/jobs/a%2Fb');
  });

  it('facility with and without a range', () => {
    expect(facilityUrl()).toBe('api/v1/facility');
    expect(facilityUrl({ from: 1, to: 2 })).toBe('api/v1/facility?from=1&to=2');
  });
});

describe('alert API URLs', () => {
  it('are relative and encode ids as one segment', () => {
    expect(alertsUrl(200)).toBe('api/v1/alerts?history=200');
    expect(silenceUrl('s-1/2')).toBe('api/v1/silences/s-1%2F2');
    expect(ruleUrl('gpu-over-limit')).toBe('api/v1/rules/gpu-over-limit');
    for (const url of [ACK_URL, SILENCES_URL, RULES_URL]) expect(url).toMatch(/^api\/v1\//);
  });
});
