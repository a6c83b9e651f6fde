/** The simulated job mix: reproducible, and each kind draws the load it claims. */
import { describe, expect, it } from 'vitest';
import { JOB_EPOCH_SEGMENTS, SIM_SEGMENT_MS, simJobsAt, simLevel } from '../../collector/sources/sim-jobs.js';
import { SimSource } from '../../collector/sources/sim.js';

const EPOCH_MS = JOB_EPOCH_SEGMENTS * SIM_SEGMENT_MS;

describe('simulated jobs', () => {
  it('are a pure function of (seed, host, time), pair GPUs, and change every epoch', () => {
    const t = 1_795_900_000_000;
    expect(simJobsAt(42, 3, 8, t)).toEqual(simJobsAt(42, 3, 8, t + 1000));
    const kinds = new Set<string>();
    for (let e = 0; e < 200; e++) {
      for (const j of simJobsAt(42, 3, 8, t + e * EPOCH_MS)) {
        kinds.add(j.kind);
        expect(j.gpus).toHaveLength(2);
        expect(j.gpus[1]! - j.gpus[0]!).toBe(1);
      }
    }
    expect([...kinds].sort()).toEqual(['held-idle', 'inference', 'training']);
  });

  it('sets each GPU\'s level from its job: training near the limit with a checkpoint dip, held-idle and no job at 12-15 %', () => {
    for (let segment = 0; segment < 2000; segment++) {
      const epoch = Math.floor(segment / JOB_EPOCH_SEGMENTS);
      const jobs = simJobsAt(42, 1, 8, epoch * EPOCH_MS);
      for (let gpu = 0; gpu < 8; gpu++) {
        const job = jobs.find((j) => j.gpus.includes(gpu));
        const level = simLevel(42, 1, gpu, segment);
        if (!job || job.kind === 'held-idle') expect(level).toBeGreaterThanOrEqual(0.12), expect(level).toBeLessThanOrEqual(0.15);
        else if (job.kind === 'training') expect(level).toBeGreaterThanOrEqual(segment % JOB_EPOCH_SEGMENTS === 2 ? 0.3 : 0.84);
        else expect(level).toBeLessThanOrEqual(0.7);
      }
    }
  });

  it('shows each job as a process on its GPUs and names the jobs of a host for the job stream', () => {
    const source = new SimSource(42, 0, 8, () => 1_795_900_000_000);
    const t = 1_795_900_030_000;
    const samples = source.read(t);
    const jobs = source.jobs(t);
    for (const s of samples) {
      const held = jobs.get(s.id)!;
      expect(s.processes?.map((p) => p.job) ?? []).toEqual(held.map((j) => j.job));
    }
    expect([...jobs.values()].flat().every((j) => j.user && j.project && j.job.startsWith('sim-0-'))).toBe(true);
  });
});
