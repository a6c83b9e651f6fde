import { describe, expect, it } from 'vitest';
import type { JobDetail, JobRow, SeriesResult } from '../../web/src/lib/api.js';
import { gpuUse, holdsOf, joinSeries, jobsOnHost, seriesSpan } from '../../web/src/lib/gpu-view.js';

const series = (t: number[], values: (number | null)[]): SeriesResult => ({ unit: 'W', t, values, coverage: t.map(() => 1), bound: null, derived: '' });

describe('seriesSpan', () => {
  it('ends now and starts on a step boundary', () => {
    expect(seriesSpan(1_000_003_000, 60_000, 5_000)).toEqual({ from: 999_940_000, to: 1_000_003_000, step: 5_000 });
  });
});

describe('joinSeries', () => {
  it('joins on bucket times, in seconds, with gaps as null', () => {
    expect(joinSeries([series([1000, 2000], [5, null]), series([2000, 3000], [7, 8])])).toEqual([
      [1, 2, 3],
      [5, null, null],
      [null, 7, 8],
    ]);
    expect(joinSeries([null])).toEqual([[], []]);
  });
});

const job = (id: string, start: number, end?: number, host = 'n1'): JobRow => ({
  job: id,
  hosts: [{ site: 'dc', host }],
  gpus: 1,
  start,
  ...(end !== undefined && { end }),
  energy_j: 0,
  method: null,
  coverage: 0,
  allocated_idle_j: 0,
  allocated_idle_share: 0,
  gpu_hours: 0,
  mean_power_w: null,
  peak_power_w: null,
  mean_util_pct: null,
  work: {},
  j_per_unit: {},
});

describe('jobs on a GPU', () => {
  it('lists the host\'s jobs, running first, then newest', () => {
    const list = jobsOnHost([job('old', 1, 2), job('other', 5, undefined, 'n2'), job('run', 3), job('new', 4, 6)], 'dc', 'n1');
    expect(list.map((j) => j.job)).toEqual(['run', 'new', 'old']);
  });

  it('reads the spans a job held this GPU', () => {
    const d: JobDetail = {
      ...job('j', 1),
      assignments: [
        { site: 'dc', host: 'n1', gpu: 'GPU-a', from: 1, to: null },
        { site: 'dc', host: 'n1', gpu: 'GPU-b', from: 1, to: null },
      ],
    };
    expect(holdsOf(d, 'dc', 'n1', 'GPU-a')).toEqual([{ job: 'j', from: 1, to: null }]);
    expect(holdsOf(d, 'dc', 'n1', 'GPU-c')).toEqual([]);
  });

  it('a busy GPU with no visible job is in use, never idle', () => {
    expect(gpuUse(['j'], 90, false)).toEqual({ kind: 'job', jobs: ['j'] });
    expect(gpuUse([], 90, true)).toEqual({ kind: 'in-use', scoped: true });
    expect(gpuUse([], 1, true)).toEqual({ kind: 'idle' });
    expect(gpuUse([], null, false)).toEqual({ kind: 'idle' });
  });
});
