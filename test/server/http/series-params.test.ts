/** The query string of GET /api/v1/series, with defaults and every problem listed. */
import { describe, expect, it } from 'vitest';
import { defaultStep, parseDuration, parseInstant, parseSeriesParams } from '../../../server/http/series-params.js';

const NOW = 1_764_000_000_000;
const parse = (q: string) => parseSeriesParams(new URLSearchParams(q), NOW, (site) => [{ site, host: 'n1' }, { site, host: 'n2' }]);

describe('series query parameters', () => {
  it('defaults to the fleet power mean over the last hour at 10 s', () => {
    expect(parse('')).toEqual({ ok: true, query: { target: { kind: 'fleet' }, metric: 'power_w', agg: 'mean', from: NOW - 3_600_000, to: NOW, step: 10_000 } });
  });

  it('reads every target, ISO times and durations', () => {
    expect(parse('target=gpu&site=dc1&host=n1&gpu=GPU-1&agg=max&from=2025-11-24T15:00:00Z&to=2025-11-24T16:00:00Z&step=1m')).toEqual({
      ok: true, query: { target: { kind: 'gpu', site: 'dc1', host: 'n1', gpu: 'GPU-1' }, metric: 'power_w', agg: 'max', from: NOW - 3_600_000, to: NOW, step: 60_000 },
    });
    expect(parse('target=group&site=dc1')).toMatchObject({ ok: true, query: { target: { kind: 'group', name: 'dc1', hosts: [{ site: 'dc1', host: 'n1' }, { site: 'dc1', host: 'n2' }] } } });
    expect(parse('target=job&job=1234&agg=energy&from=0&to=86400000')).toMatchObject({ ok: true, query: { target: { kind: 'job', job: '1234' }, step: 60_000 } });
    expect([parseDuration('10s'), parseDuration('1h'), parseDuration('2500'), parseDuration('1.5s')]).toEqual([10_000, 3_600_000, 2500, undefined]);
    expect([parseInstant('1764000000000'), parseInstant('yesterday')]).toEqual([NOW, undefined]);
    expect([defaultStep(3_600_000), defaultStep(86_400_000), defaultStep(30 * 86_400_000)]).toEqual([10_000, 60_000, 3_600_000]);
  });

  it('lists every problem at once', () => {
    expect(parse('target=host&metric=watts&agg=median&from=later&step=100ms')).toEqual({
      ok: false,
      problems: [
        'site is required for target=host',
        'host is required for target=host',
        'metric must be one of power_w, util_pct, mem_used_mib, temp_c, sm_clock_mhz',
        'agg must be one of mean, max, min, last, energy',
        'from must be ms since the epoch or an ISO 8601 time',
        'step must be a duration of at least 1 s, e.g. 10s, 1m, 1h, or ms',
      ],
    });
    expect(parse('target=rack')).toMatchObject({ ok: false, problems: ['target must be fleet, host, gpu, group or job, not "rack"'] });
    expect(parse('agg=energy&metric=temp_c&from=5&to=5')).toMatchObject({ ok: false, problems: ['agg=energy needs metric=power_w', 'from must be before to'] });
  });
});
