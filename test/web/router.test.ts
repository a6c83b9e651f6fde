import { describe, expect, it } from 'vitest';
import { gpuHref, historyHref, isRouteHash, jobHref, jobsHref, parseRoute, rulesHref, sectionOf } from '../../web/src/lib/router.js';

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
    expect(parseRoute('#/nowhere')).toEqual({ page: 'not-found', path: '/nowhere' });
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

describe('hosts and GPU routes', () => {
  it('puts a GPU page under Hosts', () => {
    expect(parseRoute('#/hosts')).toEqual({ page: 'hosts' });
    expect(sectionOf(parseRoute('#/hosts'))).toBe('hosts');
    expect(sectionOf(parseRoute('#/gpu/local/sim-00/GPU-1'))).toBe('hosts');
  });

  it('round-trips ids that hold reserved characters, a MIG instance\'s slash included', () => {
    for (const ref of [
      { site: 'local', host: 'sim-00', gpu: 'GPU-3df5befe-7d8e-4a13-af3f-aced24f068df' },
      { site: 'dc 1', host: 'node#1', gpu: 'GPU-abc/1' },
      { site: 'ü', host: '50%', gpu: 'a?b' },
    ]) {
      expect(parseRoute(gpuHref(ref))).toEqual({ page: 'gpu', ...ref });
    }
  });

  it('a GPU link needs all three parts, each well encoded', () => {
    expect(parseRoute('#/gpu/local/sim-00').page).toBe('not-found');
    expect(parseRoute('#/gpu/local/sim-00/%zz').page).toBe('not-found');
  });
});

describe('history route', () => {
  it('defaults to today by project', () => {
    expect(parseRoute('#/history')).toEqual({ page: 'history', query: { range: 'today', by: 'project', from: '', to: '' } });
    expect(historyHref()).toBe('#/history');
    expect(sectionOf(parseRoute('#/history'))).toBe('history');
  });

  it('keeps a custom range and the grouping in the link', () => {
    const query = { range: 'custom' as const, by: 'day' as const, from: '2026-11-20T00:00', to: '2026-11-27T12:30' };
    expect(parseRoute(historyHref(query))).toEqual({ page: 'history', query });
  });

  it('drops from and to for a preset, and values it does not know', () => {
    expect(historyHref({ range: '7d', by: 'user', from: '2026-11-20T00:00' })).toBe('#/history?range=7d&by=user');
    expect(parseRoute('#/history?range=year&by=gpu&from=yesterday')).toEqual({
      page: 'history',
      query: { range: 'today', by: 'project', from: '', to: '' },
    });
  });
});

describe('settings route', () => {
  it('parses', () => {
    expect(parseRoute('#/settings')).toEqual({ page: 'settings' });
    expect(sectionOf(parseRoute('#/settings'))).toBe('settings');
  });
});
