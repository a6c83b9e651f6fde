/**
 * Turns "which job holds which GPU now" into job start and end events: a job
 * starts when it first appears on any GPU of this host and ends when it holds
 * none. Pure: the caller reads /proc and publishes the events.
 */
import type { ProcJob } from './parse-proc.js';

export interface JobChange {
  event: 'start' | 'end';
  job: ProcJob;
  gpus: string[];
  ts: number;
}

export class JobTracker {
  private readonly running = new Map<string, { job: ProcJob; gpus: Set<string> }>();

  /** `now`: GPU id -> jobs whose processes run on it. Returns the changes since the last call. */
  update(now: ReadonlyMap<string, readonly ProcJob[]>, ts: number): JobChange[] {
    const seen = new Map<string, { job: ProcJob; gpus: Set<string> }>();
    for (const [gpu, jobs] of now) {
      for (const job of jobs) {
        let entry = seen.get(job.job);
        if (!entry) seen.set(job.job, (entry = { job, gpus: new Set() }));
        entry.gpus.add(gpu);
        // Details from environ may arrive for only some of a job's processes: keep them.
        entry.job = { ...job, ...entry.job, user: entry.job.user ?? job.user, project: entry.job.project ?? job.project, partition: entry.job.partition ?? job.partition };
      }
    }
    const changes: JobChange[] = [];
    for (const [id, entry] of this.running) {
      if (!seen.has(id)) changes.push({ event: 'end', job: entry.job, gpus: [...entry.gpus].sort(), ts });
    }
    for (const [id, entry] of seen) {
      const before = this.running.get(id);
      if (!before) changes.push({ event: 'start', job: entry.job, gpus: [...entry.gpus].sort(), ts });
      else for (const g of before.gpus) entry.gpus.add(g); // a job keeps the GPUs it was started with until it ends
    }
    this.running.clear();
    for (const [id, entry] of seen) this.running.set(id, entry);
    return changes;
  }

  get jobs(): string[] {
    return [...this.running.keys()];
  }
}
