import { describe, expect, it } from 'vitest';
import { isRouteHash, jobHref, jobsHref, parseRoute, rulesHref, sectionOf } from '../../web/src/lib/router.js';

describe('parseRoute', () => {
  it.each(['', '#', '#/', '#//'])('%j is the overview', (hash) => {
    expect(parseRoute(hash)).toEqual({ page: 'overview' });
  });

  it('reads the jobs list with its filters and page', () => {
    expect(parseRoute('#/jobs')).toEqual({ page: 'jobs', query: { user: '', project: '', offset: 0 } });
    expect(parseRoute('#/jobs/?user=ada&project=llm%20pretrain&offset=50')).toEqual({
      page: 'jobs',
      query: { user: 'ada', project: 'llm pretrain', offset: 50 },
    });
  });

  it.each(['-5', '2.5', 'x'])('a bad offset %j shows the first page', (offset) => {
    expect(parseRoute(`#/jobs?offset=${offset}`)).toEqual({ page: 'jobs', query: { user: '', project: '', offset: 0 } });
  });

  it('decodes job ids that hold reserved characters', () => {
    for (const id of ['1234+0', 'a/b', 'sim-0-5986376-2', 'ünï code', '50%']) {
      expect(parseRoute(jobHref(id))).toEqual({ page: 'job', id });
    }
  });

  it('a malformed escape names no job', () => {
    expect(parseRoute('#/jobs/%zz')).toEqual({ page: 'not-found', path: '/jobs/%zz' });
  });

  it('reads the facility and reports anything else as not found', () => {
    expect(parseRoute('#/facility')).toEqual({ page: 'facility' });
    expect(parseRoute('#/history')).toEqual({ page: 'not-found', path: '/history' });
    expect(parseRoute('#/jobs/a/b')).toEqual({ page: 'not-found', path: '/jobs/a/b' });
  });
});

describe('isRouteHash', () => {
  it('owns route hashes and leaves in-page anchors alone', () => {
    expect(isRouteHash('')).toBe(true);
    expect(isRouteHash('#/jobs')).toBe(true);
    expect(isRouteHash('#main')).toBe(false);
  });
});

describe('sectionOf', () => {
  it('puts a job page under Jobs', () => {
    expect(sectionOf({ page: 'job', id: 'x' })).toBe('jobs');
    expect(sectionOf(parseRoute('#/jobs'))).toBe('jobs');
    expect(sectionOf(parseRoute('#/'))).toBe('overview');
    expect(sectionOf(parseRoute('#/facility'))).toBe('facility');
    expect(sectionOf(parseRoute('#/nope'))).toBeNull();
  });
});

describe('jobsHref', () => {
  it('leaves defaults out of the link', () => {
    expect(jobsHref()).toBe('#/jobs');
    expect(jobsHref({ user: ' ', project: '', offset: 0 })).toBe('#/jobs');
  });

  it('round-trips through parseRoute', () => {
    const query = { user: 'ada lovelace', project: 'a&b', offset: 25 };
    expect(parseRoute(jobsHref(query))).toEqual({ page: 'jobs', query });
  });
});

describe('alerts and rules routes', () => {
  it('parses them and places them in the nav', () => {
    expect(parseRoute('#/alerts')).toEqual({ page: 'alerts' });
    expect(parseRoute('#/rules')).toEqual({ page: 'rules', rule: '' });
    expect(sectionOf(parseRoute('#/alerts'))).toBe('alerts');
    expect(sectionOf(parseRoute('#/rules'))).toBe('rules');
  });

  it('a rules link opens one rule for testing', () => {
    for (const id of ['gpu-over-limit', 'a.b_c-1']) expect(parseRoute(rulesHref(id))).toEqual({ page: 'rules', rule: id });
    expect(rulesHref()).toBe('#/rules');
  });
});
