import { describe, expect, it } from 'vitest';
import { MAX_POINTS, chooseStep, jobSeriesUrl, jobSeriesWindow, seriesCoverage, toPlotData } from '../../web/src/lib/job-series.js';

const MIN = 60_000;
const H = 60 * MIN;

describe('chooseStep', () => {
  it.each([
    [30_000, 10_000],
    [MAX_POINTS * 10_000, 10_000],
    [2 * H, 30_000],
    [8 * H, 60_000],
    [2 * 24 * H, 300_000],
    [20 * 24 * H, 3_600_000],
    [30 * 24 * H, 6 * H],
    [365 * 24 * H, 86_400_000],
  ])('%s ms of job -> %s ms buckets', (range, step) => {
    expect(chooseStep(range)).toBe(step);
  });

  it('never asks for more than MAX_POINTS buckets, even for a decade', () => {
    for (const range of [1000, 7 * H, 100 * 24 * H, 3650 * 24 * H]) {
      expect(range / chooseStep(range)).toBeLessThanOrEqual(MAX_POINTS);
      expect(chooseStep(range)).toBeGreaterThanOrEqual(10_000);
    }
  });
});

describe('jobSeriesWindow', () => {
  it('spans start to end for a finished job, whatever now is', () => {
    expect(jobSeriesWindow(1000, 5 * MIN, 99 * H)).toEqual({ from: 1000, to: 5 * MIN, step: 10_000 });
  });

  it('spans start to now for a running job', () => {
    expect(jobSeriesWindow(0, undefined, 3 * H)).toEqual({ from: 0, to: 3 * H, step: 30_000 });
  });

  it('is never empty, even for a job that just started', () => {
    const w = jobSeriesWindow(5000, null, 5000);
    expect(w.to).toBeGreaterThan(w.from);
  });
});

describe('jobSeriesUrl', () => {
  it('asks the job target for mean power, encoding the id', () => {
    const url = jobSeriesUrl('1234+0', { from: 1, to: 2, step: 10_000 });
    expect(url.startsWith('api/v1/series?')).toBe(true);
    const p = new URLSearchParams(url.slice(url.indexOf('?') + 1));
    expect(Object.fromEntries(p)).toEqual({ target: 'job', job: '1234+0', metric: 'power_w', agg: 'mean', from: '1', to: '2', step: '10000' });
  });
});

describe('toPlotData', () => {
  it('seconds on x, gaps stay null', () => {
    expect(toPlotData({ t: [10_000, 20_000, 30_000], values: [5, null, 7] })).toEqual([
      [10, 20, 30],
      [5, null, 7],
    ]);
  });
});

describe('seriesCoverage', () => {
  it('ignores the partial first and last buckets', () => {
    expect(seriesCoverage({ values: [1, 2, 3, null], coverage: [0.4, 1, 0.9, 0] })).toEqual({ points: 4, gaps: 0, lowest: 0.9 });
  });

  it('counts inner gaps', () => {
    expect(seriesCoverage({ values: [1, null, null, 4, 5], coverage: [1, 0, 0, 1, 1] })).toEqual({ points: 5, gaps: 2, lowest: 0 });
  });

  it('two points or fewer have no inner points', () => {
    expect(seriesCoverage({ values: [1, null], coverage: [0.5, 0] })).toEqual({ points: 2, gaps: 0, lowest: null });
    expect(seriesCoverage({ values: [], coverage: [] })).toEqual({ points: 0, gaps: 0, lowest: null });
  });
});
