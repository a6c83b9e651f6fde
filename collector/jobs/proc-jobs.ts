/**
 * Maps the compute processes a GPU source reports to jobs by reading
 * /proc/<pid>/cgroup (and /proc/<pid>/environ where permitted), then feeds the
 * tracker, whose changes become job events on the host's spooled `job`
 * stream. Runs at 1 Hz: processes are slow fields (§8).
 */
import { readFileSync } from 'node:fs';
import type { GpuSample } from '../window.js';
import { type JobChange, JobTracker } from './job-tracker.js';
import { type ProcJob, jobFromCgroup, slurmFromEnviron } from './parse-proc.js';

export type ReadProc = (pid: number, file: 'cgroup' | 'environ') => string | undefined;

/** Reads /proc; a file that is gone (the process ended) or not permitted (environ of another user) is undefined. */
export const readProc: ReadProc = (pid, file) => {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch {
    return undefined;
  }
};

export function jobOfProcess(pid: number, read: ReadProc, custom?: RegExp): ProcJob | undefined {
  const cgroup = read(pid, 'cgroup');
  const fromCgroup = cgroup === undefined ? undefined : jobFromCgroup(cgroup, custom);
  const environ = read(pid, 'environ');
  const fromEnv = environ === undefined ? {} : slurmFromEnviron(environ);
  if (fromCgroup) return { ...fromEnv, ...fromCgroup, job: fromCgroup.job };
  // No cgroup evidence: a Slurm job id in the environment still places the process.
  return fromEnv.job ? { ...fromEnv, job: fromEnv.job, kind: 'slurm' } : undefined;
}

export class ProcJobDetector {
  private readonly tracker = new JobTracker();

  constructor(
    private readonly read: ReadProc = readProc,
    private readonly custom?: RegExp,
  ) {}

  /** One pass over the latest samples: the jobs a source names itself, and those of its processes; returns the job changes. */
  scan(samples: readonly GpuSample[], ts: number): JobChange[] {
    const byGpu = new Map<string, ProcJob[]>();
    for (const s of samples) {
      const jobs: ProcJob[] = [...(s.assigned ?? [])];
      for (const p of s.processes ?? []) {
        const job = jobOfProcess(p.pid, this.read, this.custom);
        if (job && !jobs.some((j) => j.job === job.job)) jobs.push(job);
      }
      byGpu.set(s.id, jobs);
    }
    return this.tracker.update(byGpu, ts);
  }
}
