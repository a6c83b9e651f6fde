/**
 * Which job a process belongs to, from what Linux shows about it. The
 * cgroup file is world-readable and is preferred (ARCHITECTURE.md §8, job
 * detection); the environment is read only where permissions allow (the same
 * user, or CAP_SYS_PTRACE) and adds the user, account and partition.
 *
 * Shapes recognised in /proc/<pid>/cgroup (one "id:controllers:path" per line):
 * - Slurm, cgroup v1: `4:cpuset:/slurm/uid_1000/job_1234/step_0/task_0`
 * - Slurm, cgroup v2: `0::/system.slice/slurmstepd.scope/job_1234/step_batch/user/task_0`
 * - Kubernetes, cgroup v1: `/kubepods/burstable/pod6d4c3e2a-.../<container id>`
 * - Kubernetes, cgroup v2 (systemd driver): `/kubepods.slice/kubepods-burstable.slice/
 *   kubepods-burstable-pod6d4c3e2a_....slice/cri-containerd-<id>.scope`, where the pod
 *   uid's dashes are written as underscores.
 * - an operator's own pattern, a regular expression whose first group is the job id.
 */

export interface ProcJob {
  job: string;
  kind: 'slurm' | 'kubernetes' | 'custom';
  user?: string;
  project?: string;
  partition?: string;
}

const SLURM = /\/job_(\d+(?:_\d+)?)(?:\/|$)/;
const K8S = /pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})/i;

/** The job of a process from the text of /proc/<pid>/cgroup; undefined when it is in none. */
export function jobFromCgroup(text: string, custom?: RegExp): ProcJob | undefined {
  for (const line of text.split('\n')) {
    const path = line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1);
    if (!path) continue;
    if (custom) {
      const m = custom.exec(path);
      if (m?.[1]) return { job: m[1], kind: 'custom' };
    }
    const slurm = SLURM.exec(path);
    if (slurm?.[1]) return { job: slurm[1], kind: 'slurm' };
    const pod = K8S.exec(path);
    if (pod?.[1]) return { job: pod[1].replaceAll('_', '-').toLowerCase(), kind: 'kubernetes' };
  }
  return undefined;
}

/** Slurm's variables from the NUL-separated text of /proc/<pid>/environ. */
export function slurmFromEnviron(text: string): Partial<ProcJob> & { job?: string } {
  const env = new Map<string, string>();
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  const out: Partial<ProcJob> & { job?: string } = {};
  const job = env.get('SLURM_JOB_ID') ?? env.get('SLURM_JOBID');
  if (job) out.job = job;
  const user = env.get('SLURM_JOB_USER') ?? env.get('USER');
  if (user) out.user = user;
  const account = env.get('SLURM_JOB_ACCOUNT');
  if (account) out.project = account;
  const partition = env.get('SLURM_JOB_PARTITION');
  if (partition) out.partition = partition;
  return out;
}
