/**
 * Job detection from /proc. The cgroup lines are written in the documented
 * shapes (Slurm's cgroup plugin: job_<id>/step_<id>; the kubelet: pod<uid>,
 * with underscores for dashes under the systemd cgroup driver); the /proc
 * reader is injected, so no real processes are needed.
 */
import { describe, expect, it } from 'vitest';
import { JobTracker } from '../../../collector/jobs/job-tracker.js';
import { jobFromCgroup, slurmFromEnviron } from '../../../collector/jobs/parse-proc.js';
import { ProcJobDetector, type ReadProc, jobOfProcess } from '../../../collector/jobs/proc-jobs.js';

describe('job from /proc/<pid>/cgroup', () => {
  it.each([
    ['Slurm, cgroup v1', '12:devices:/slurm/uid_1000/job_1234/step_0/task_0\n4:cpuset:/slurm/uid_1000/job_1234/step_0', { job: '1234', kind: 'slurm' }],
    ['Slurm, cgroup v2', '0::/system.slice/slurmstepd.scope/job_98765/step_batch/user/task_0', { job: '98765', kind: 'slurm' }],
    ['Slurm array task', '0::/system.slice/slurmstepd.scope/job_777_3/step_0/user/task_0', { job: '777_3', kind: 'slurm' }],
    ['Kubernetes, cgroup v1', '11:memory:/kubepods/burstable/pod6d4c3e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6/0123456789abcdef', { job: '6d4c3e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6', kind: 'kubernetes' }],
    ['Kubernetes, cgroup v2 (systemd)', '0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod6d4c3e2a_1b2c_4d5e_8f90_a1b2c3d4e5f6.slice/cri-containerd-abc.scope', { job: '6d4c3e2a-1b2c-4d5e-8f90-a1b2c3d4e5f6', kind: 'kubernetes' }],
  ])('%s', (_name, text, expected) => {
    expect(jobFromCgroup(text)).toEqual(expected);
  });

  it('is undefined for a process in no job, and honours an operator pattern', () => {
    expect(jobFromCgroup('0::/user.slice/user-1000.slice/session-3.scope')).toBeUndefined();
    expect(jobFromCgroup('0::/lsf/job.4242/task', /\/lsf\/job\.(\d+)/)).toEqual({ job: '4242', kind: 'custom' });
  });
});

describe('Slurm details from /proc/<pid>/environ', () => {
  it('reads job, user, account and partition', () => {
    const env = ['PATH=/usr/bin', 'SLURM_JOB_ID=1234', 'SLURM_JOB_USER=ada', 'SLURM_JOB_ACCOUNT=llm', 'SLURM_JOB_PARTITION=h200', ''].join('\0');
    expect(slurmFromEnviron(env)).toEqual({ job: '1234', user: 'ada', project: 'llm', partition: 'h200' });
  });

  it('joins cgroup and environ, and uses environ alone when the cgroup says nothing', () => {
    const read: ReadProc = (pid, file) =>
      ({ 1: { cgroup: '0::/system.slice/slurmstepd.scope/job_1234/step_0', environ: 'SLURM_JOB_USER=ada\0' }, 2: { cgroup: '0::/', environ: 'SLURM_JOB_ID=55\0SLURM_JOB_USER=bob\0' }, 3: { cgroup: '0::/' } } as Record<number, Record<string, string>>)[pid]?.[file];
    expect(jobOfProcess(1, read)).toEqual({ job: '1234', kind: 'slurm', user: 'ada' });
    expect(jobOfProcess(2, read)).toEqual({ job: '55', kind: 'slurm', user: 'bob' });
    expect(jobOfProcess(3, read)).toBeUndefined(); // environ not readable (another user), cgroup outside any job
    expect(jobOfProcess(4, read)).toBeUndefined(); // the process is gone
  });
});

describe('job events', () => {
  it('start when a job first holds a GPU, end when it holds none', () => {
    const t = new JobTracker();
    const a = { job: '1', kind: 'slurm' as const };
    const b = { job: '2', kind: 'slurm' as const };
    expect(t.update(new Map([['G0', [a]], ['G1', [a]]]), 10)).toEqual([{ event: 'start', job: a, gpus: ['G0', 'G1'], ts: 10 }]);
    expect(t.update(new Map([['G0', [a]], ['G1', [a, b]]]), 20)).toEqual([{ event: 'start', job: b, gpus: ['G1'], ts: 20 }]);
    expect(t.update(new Map([['G0', []], ['G1', [b]]]), 30)).toEqual([{ event: 'end', job: a, gpus: ['G0', 'G1'], ts: 30 }]);
    expect(t.update(new Map(), 40)).toEqual([{ event: 'end', job: b, gpus: ['G1'], ts: 40 }]);
  });

  it('the detector maps the processes a source reports to jobs', () => {
    const read: ReadProc = (pid, file) => (file === 'cgroup' ? `0::/system.slice/slurmstepd.scope/job_${pid < 100 ? 7 : 8}/step_0` : undefined);
    const d = new ProcJobDetector(read);
    const changes = d.scan([{ id: 'G0', processes: [{ pid: 10 }, { pid: 11 }] }, { id: 'G1', processes: [{ pid: 200 }] }], 5);
    expect(changes.map((c) => [c.event, c.job.job, c.gpus])).toEqual([['start', '7', ['G0']], ['start', '8', ['G1']]]);
  });

  it('the detector also takes the jobs a source names itself (exporter labels), without reading /proc', () => {
    const read: ReadProc = () => {
      throw new Error('no /proc read is needed for labelled jobs');
    };
    const d = new ProcJobDetector(read);
    const pod = { job: 'ml/trainer-0', kind: 'kubernetes' as const, project: 'ml' };
    expect(d.scan([{ id: 'G0', assigned: [pod] }, { id: 'G1', assigned: [pod] }], 5).map((c) => [c.event, c.job, c.gpus])).toEqual([['start', pod, ['G0', 'G1']]]);
    expect(d.scan([{ id: 'G0' }, { id: 'G1' }], 6).map((c) => [c.event, c.job.job])).toEqual([['end', 'ml/trainer-0']]);
  });
});
