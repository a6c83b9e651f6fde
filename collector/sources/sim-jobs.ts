/**
 * The simulated fleet's job mix, a pure function of (seed, host, time), so
 * the demo shows every view working and any run can be reproduced.
 *
 * Each host's GPUs are paired; each pair runs one job per 5-minute epoch, or
 * none. The job's kind sets the pair's load per 60 s segment (sim.ts keeps
 * the closed-form energy, since a level is constant within a segment):
 * - training: a plateau near the limit, with a checkpoint dip in its third minute;
 * - inference: bursty, a new level every minute;
 * - held-idle: a job that holds its GPUs and does nothing (about 12-15 %);
 * - no job: idle at about 12-15 % of the limit.
 */
import { mix, unit } from './sim-hash.js';

export const SIM_SEGMENT_MS = 60_000;
/** Segments per job epoch: simulated jobs run 5 minutes. */
export const JOB_EPOCH_SEGMENTS = 5;
export const GPUS_PER_JOB = 2;

export type SimJobKind = 'training' | 'inference' | 'held-idle';

export interface SimJob {
  job: string;
  kind: SimJobKind;
  user: string;
  project: string;
  partition: string;
  /** Indices of the host's GPUs the job holds. */
  gpus: number[];
}

const USERS = ['ada', 'grace', 'linus', 'margaret', 'ken', 'barbara'];
const PROJECTS: Record<SimJobKind, string[]> = {
  training: ['llm-pretrain', 'vision-finetune'],
  inference: ['inference-api', 'recsys-serving'],
  'held-idle': ['notebooks', 'llm-pretrain'],
};

function kindOf(seed: number, host: number, epoch: number, group: number): SimJobKind | undefined {
  const u = unit(seed, host, epoch, group, 0x10b);
  if (u < 0.25) return undefined;
  if (u < 0.6) return 'training';
  if (u < 0.85) return 'inference';
  return 'held-idle';
}

/** The job (if any) of one GPU pair in one epoch. */
function jobOf(seed: number, host: number, epoch: number, group: number, gpuCount: number): SimJob | undefined {
  const kind = kindOf(seed, host, epoch, group);
  if (!kind) return undefined;
  const pick = <T>(list: readonly T[], salt: number) => list[mix(seed, host, epoch, group, salt) % list.length]!;
  const first = group * GPUS_PER_JOB;
  const gpus = Array.from({ length: Math.min(GPUS_PER_JOB, gpuCount - first) }, (_, i) => first + i);
  return { job: `sim-${host}-${epoch}-${group}`, kind, user: pick(USERS, 1), project: pick(PROJECTS[kind], 2), partition: 'sim', gpus };
}

/** The jobs running on a simulated host at time t. */
export function simJobsAt(seed: number, host: number, gpuCount: number, tMs: number): SimJob[] {
  const epoch = Math.floor(tMs / (SIM_SEGMENT_MS * JOB_EPOCH_SEGMENTS));
  const groups = Math.ceil(gpuCount / GPUS_PER_JOB);
  return Array.from({ length: groups }, (_, g) => jobOf(seed, host, epoch, g, gpuCount)).filter((j) => j !== undefined);
}

/** The load level (fraction of the limit) of one GPU in one segment, from the job it runs. */
export function simLevel(seed: number, host: number, gpu: number, segment: number): number {
  const epoch = Math.floor(segment / JOB_EPOCH_SEGMENTS);
  const minute = segment - epoch * JOB_EPOCH_SEGMENTS;
  const jitter = unit(seed, host, gpu, segment, 0x71);
  switch (kindOf(seed, host, epoch, Math.floor(gpu / GPUS_PER_JOB))) {
    case 'training':
      return minute === 2 ? 0.3 + 0.05 * jitter : 0.84 + 0.08 * jitter; // checkpoint dip in the third minute
    case 'inference':
      return 0.25 + 0.45 * jitter;
    default:
      return 0.12 + 0.03 * jitter; // idle, held or not
  }
}

/**
 * The work a simulated job has reported by time t: training counts samples,
 * inference tokens, a job that holds its GPUs idle nothing. Cumulative from
 * the job's start, as an application's counters are.
 */
export function simWork(job: SimJob, tMs: number): Record<string, number> {
  const epochStart = Math.floor(tMs / (SIM_SEGMENT_MS * JOB_EPOCH_SEGMENTS)) * SIM_SEGMENT_MS * JOB_EPOCH_SEGMENTS;
  const seconds = Math.max(0, (tMs - epochStart) / 1000);
  if (job.kind === 'training') return { samples: Math.floor(seconds * 48 * job.gpus.length) };
  if (job.kind === 'inference') return { tokens: Math.floor(seconds * 1500 * job.gpus.length) };
  return {};
}
