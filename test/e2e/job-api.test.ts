/**
 * Jobs reported over REST, by `kilowatch job` and by the Slurm examples in
 * docs/slurm/, against the real command (`kilowatch all`, simulated fleet).
 *
 * Energy goes to the jobs whose processes use a GPU (server/core/attribution.ts),
 * and the simulator runs its own jobs with processes on some GPU pairs. So a
 * new REST job gets the energy of its GPUs that no simulated job holds; a
 * simulated job reported again over REST (the same job from two sources)
 * keeps growing from its processes. The test takes whichever comes first,
 * because which GPUs the simulator holds depends on the time of day.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, type KilowatchProcess, ROOT, eventually, getJson, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess;
let url: string;
/** Host name -> its GPU ids, from /api/v1/fleet. */
let gpusOf: Map<string, string[]>;

beforeAll(async () => {
  kw = await startKilowatch(['all', '--hosts', '2', '--gpus', '2', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('jobs')], /kilowatch: open http/);
  url = kw.httpUrl!;
  const fleet = await eventually(async () => {
    const f = await getJson(`${url}/api/v1/fleet`);
    return f.hosts.length === 2 && f.hosts.every((h: any) => h.gpus.length === 2 && h.last_window_ts !== null) ? f : undefined;
  });
  gpusOf = new Map(fleet.hosts.map((h: any) => [h.host, h.gpus.map((g: any) => g.id)]));
});

afterAll(async () => {
  await kw?.stop();
});

async function post(path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as any };
}

const job = (id: string) => getJson(`${url}/api/v1/jobs/${encodeURIComponent(id)}`);

describe('jobs over REST and the CLI', () => {
  const started = Date.now();

  it('starts a job on real GPU ids (201), reads it back, and sees its GPU time and energy grow', async () => {
    const all = [...gpusOf.values()].flat();
    const created = await post('/api/v1/jobs', { id: 'e2e-1', user: 'ada', project: 'climate', partition: 'gpu', hosts: ['sim-00', 'local/sim-01'], gpus: all, labels: { qos: 'high' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ job: 'e2e-1', user: 'ada', project: 'climate', partition: 'gpu', gpus: 4, hosts: [{ site: 'local', host: 'sim-00' }, { site: 'local', host: 'sim-01' }] });
    expect(created.body.start).toBeGreaterThanOrEqual(started);
    expect(created.body.assignments.map((a: any) => a.gpu).sort()).toEqual([...all].sort());
    expect(await job('e2e-1')).toMatchObject({ job: 'e2e-1', start: created.body.start });
    // The simulated fleet runs with the demo site, so one job's answer is priced like the list's.
    expect(Object.keys(await job('e2e-1'))).toEqual(expect.arrayContaining(['cost', 'carbon_g']));

    // Either e2e-1 holds a GPU no simulated job uses, or a simulated job's energy grows: take the first
    // running job seen growing. A simulated job ends every 5 minutes, so one that ends while watched is replaced once.
    const seen = new Map<string, number>();
    const pick = async () => {
      const running = (await getJson(`${url}/api/v1/jobs`)).jobs.filter((j: any) => j.end === undefined && (j.job === 'e2e-1' || j.job.startsWith('sim-')));
      const growing = running.find((j: any) => j.energy_j > (seen.get(j.job) ?? Infinity));
      for (const j of running) seen.set(j.job, j.energy_j);
      return growing;
    };
    const before = await job('e2e-1');
    let grew = false;
    for (let attempt = 0; attempt < 2 && !grew; attempt++) {
      const target = await eventually(pick, 20_000);
      if (target.job !== 'e2e-1') {
        // The same job from two sources: a simulated job its collector reported, reported again over REST, stays one job.
        const held = (await job(target.job)).assignments.filter((a: any) => a.to === null);
        const again = await post('/api/v1/jobs', { id: target.job, user: target.user, project: target.project, hosts: [...new Set(held.map((a: any) => a.host))], gpus: held.map((a: any) => a.gpu) });
        expect([again.status, again.body.start, again.body.gpus]).toEqual([200, target.start, target.gpus]);
        expect((await getJson(`${url}/api/v1/jobs`)).jobs.filter((j: any) => j.job === target.job)).toHaveLength(1);
      }
      grew = await eventually(async () => {
        const t = await job(target.job);
        if (t.end !== undefined) return false;
        return t.energy_j > target.energy_j && t.method !== null ? true : undefined;
      }, 12_000).catch(() => false);
    }
    expect(grew).toBe(true);
    expect((await job('e2e-1')).gpu_hours).toBeGreaterThan(before.gpu_hours);
  }, 60_000);

  it('refuses bad bodies with a 400 naming the field, and unknown jobs with a 404', async () => {
    const gpu = gpusOf.get('sim-00')![0]!;
    const base = { id: 'e2e-bad', user: 'ada', project: 'climate', hosts: ['sim-00'], gpus: [gpu] };
    const missing = await post('/api/v1/jobs', { ...base, id: undefined });
    expect(missing).toEqual({ status: 400, body: { error: 'bad job start', problems: ['id is missing'] } });
    const unknown = await post('/api/v1/jobs', { ...base, gpus: [gpu, 'GPU-00000000-0000-0000-0000-000000000000'] });
    expect(unknown.body.problems).toEqual(['gpus[1]: GPU-00000000-0000-0000-0000-000000000000 is not a GPU known to the fleet']);
    const future = await post('/api/v1/jobs', { ...base, start: Date.now() + 3_600_000 });
    expect(future.body.problems).toEqual([expect.stringMatching(/^start is 3600 s in the future, beyond the allowed clock skew of 5000 ms$/)]);
    const backwards = await post('/api/v1/jobs', { ...base, start: Date.now() - 1000, end: Date.now() - 2000 });
    expect([backwards.status, backwards.body.problems[0]]).toEqual([400, expect.stringMatching(/^end \d+ must be after start \d+$/)]);
    const e2e1 = await job('e2e-1');
    const early = await post('/api/v1/jobs/e2e-1/end', { end: e2e1.start - 1 });
    expect([early.status, early.body.problems[0]]).toEqual([400, `end ${e2e1.start - 1} must be after the job's start ${e2e1.start} on local/sim-00`]);
    expect(await post('/api/v1/jobs/never-started/end', {})).toEqual({ status: 404, body: { error: 'no job "never-started": it was never started', problems: [] } });
    expect((await fetch(`${url}/api/v1/jobs/never-started`)).status).toBe(404);
    expect(await runKilowatch(['job', 'end', '--id', 'never-started', '--server', url])).toEqual({ code: 1, output: 'kilowatch: job end never-started: the server answered 404: no job "never-started": it was never started\n' });
    const usage = await runKilowatch(['job', 'start', '--id', 'x', '--gpus', gpu, '--end', '5', '--server', url]);
    expect(usage).toEqual({ code: 2, output: expect.stringContaining('--user is required for job start\n  - --project is required for job start\n  - --hosts is required for job start\n  - --end is not an option of job start') });
  });

  it('ends a job with `kilowatch job end`; ending it again is no error', async () => {
    const { code, output } = await runKilowatch(['job', 'end', '--id', 'e2e-1', '--server', url]);
    expect([code, output]).toEqual([0, expect.stringMatching(/^kilowatch: job e2e-1 ended at \S+ on 2 host\(s\), 4 GPU\(s\)\n$/)]);
    const ended = await job('e2e-1');
    expect(ended.end).toBeGreaterThan(ended.start);
    expect(ended.assignments.every((a: any) => a.to === ended.end)).toBe(true);
    const again = await runKilowatch(['job', 'end', '--id', 'e2e-1', '--server', url, '--end', String(ended.end + 5000)]);
    expect(again.code).toBe(0);
    expect((await job('e2e-1')).end).toBe(ended.end);
  });

  it('reports a job from the Slurm prolog and epilog, and never fails them when the server is away', async () => {
    const bin = join(tempDir('slurm'), 'bin');
    mkdirSync(bin);
    const script = (name: string, text: string) => (writeFileSync(join(bin, name), text), chmodSync(join(bin, name), 0o755));
    script('kilowatch', `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    // nvidia-smi -i <indices> --query-gpu=uuid: the UUIDs in FAKE_UUIDS at those indices.
    script('nvidia-smi', '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -i ] && idx=$2; shift; done\n' +
      'i=0; for u in $(echo "$FAKE_UUIDS" | tr , " "); do case ",$idx," in *",$i,"*) echo " $u" ;; esac; i=$((i+1)); done\n');
    const slurm = (name: string, env: Record<string, string>) => new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile('sh', [join(ROOT, 'docs/slurm', name)], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, ...env } }, (err, stdout, stderr) =>
        resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, output: stdout + stderr }));
    });
    const env = {
      SLURM_JOB_ID: '7001', SLURM_JOB_USER: 'grace', SLURM_JOB_ACCOUNT: 'physics', SLURM_JOB_PARTITION: 'a100', SLURMD_NODENAME: 'sim-01',
      CUDA_VISIBLE_DEVICES: '1', FAKE_UUIDS: gpusOf.get('sim-01')!.join(','), KILOWATCH_SERVER: url,
    };
    const prolog = await slurm('prolog.sh', env);
    expect(prolog.code, prolog.output).toBe(0);
    expect(await job('7001')).toMatchObject({ user: 'grace', project: 'physics', partition: 'a100', hosts: [{ host: 'sim-01' }], assignments: [{ gpu: gpusOf.get('sim-01')![1], to: null }] });
    const epilog = await slurm('epilog.sh', env);
    expect(epilog.code, epilog.output).toBe(0);
    expect((await job('7001')).end).toBeGreaterThan(0);

    const away = await slurm('prolog.sh', { ...env, SLURM_JOB_ID: '7002', KILOWATCH_SERVER: 'http://127.0.0.1:1' });
    expect(away.code).toBe(0);
    expect(away.output).toContain('kilowatch-prolog: job 7002 not reported (the job runs regardless): kilowatch: job start 7002: cannot reach the kilowatch server');
    expect((await slurm('epilog.sh', { ...env, SLURM_JOB_ID: '7002', KILOWATCH_SERVER: 'http://127.0.0.1:1' })).code).toBe(0);
  });
});
