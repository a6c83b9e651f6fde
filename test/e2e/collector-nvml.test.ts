/**
 * `kilowatch all --source nvml` end to end through the real FFI path, against
 * the NVML stand-in found by the dynamic loader as libnvidia-ml.so.1: the
 * fleet shows this one host, its stand-in GPUs, and no simulated label.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { buildNvmlStub } from '../helpers/nvml-stub.js';

let kw: KilowatchProcess | undefined;
afterAll(async () => {
  await kw?.stop();
});

describe('kilowatch all --source nvml', () => {
  it('publishes the real host with its NVML GPUs, not a simulated fleet', async () => {
    const stub = buildNvmlStub();
    kw = await startKilowatch(
      ['all', '--source', 'nvml', '--host-id', 'gpu-node-1', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('nvml-e2e')],
      /kilowatch: open http/,
      20_000,
      { LD_LIBRARY_PATH: stub.dir, KW_NVML_STUB_GPUS: '3' },
    );
    expect(kw.output()).toContain('collector: nvml on gpu-node-1: 3 GPU(s)');
    const fleet = await eventually(async () => {
      const f = await getJson(`${kw!.httpUrl}/api/v1/fleet`);
      // The first window is partial (the collector starts mid-window): wait for a full one.
      return f.hosts[0]?.gpus.length === 3 && f.hosts[0].gpus.every((g: any) => g.power_w?.mean > 0 && g.power_w.n >= 9) ? f : undefined;
    });
    expect(fleet.simulated).toBe(false);
    expect(fleet.hosts.map((h: any) => [h.host, h.sources, h.simulated])).toEqual([['gpu-node-1', ['nvml'], false]]);
    for (const g of fleet.hosts[0].gpus) {
      expect(g.id).toMatch(/^GPU-/);
      expect(g.power_w.n).toBeLessThanOrEqual(11); // 10 Hz into 1 s windows
      expect(g.energy_mj).toBeGreaterThan(0);
    }
    expect(await kw.stop('SIGINT')).toBe(0);
    // The collector's health line at stop: the source's counters and the delivery counters.
    const health = JSON.parse(/collector health: (\{.*\})/.exec(kw.output())![1]!);
    expect(health.nvml_readings).toBeGreaterThan(10);
    expect(health.gpu_produced).toBeGreaterThan(0);
    expect(health.gpu_settled).toBe(health.gpu_produced); // every window acknowledged before the collector stopped
    expect(health.gpu_spooled).toBe(0);
  });
});

describe('job detection through /proc, end to end', () => {
  it('publishes start and end events for a Slurm job whose process runs on a GPU, stored once each', async () => {
    const { spawn } = await import('node:child_process');
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const { join } = await import('node:path');
    // A process of this user carrying a Slurm environment: its environ is readable, as for a job of the same user.
    const job = spawn('sleep', ['60'], { env: { ...process.env, SLURM_JOB_ID: '90210', SLURM_JOB_USER: 'ada', SLURM_JOB_ACCOUNT: 'llm', SLURM_JOB_PARTITION: 'h200' } });
    const stub = buildNvmlStub();
    const dataDir = tempDir('jobs-e2e');
    const p = await startKilowatch(
      ['all', '--source', 'nvml', '--host-id', 'job-node', '--port', '0', '--mqtt-port', '0', '--data-dir', dataDir],
      /kilowatch: open http/,
      20_000,
      { LD_LIBRARY_PATH: stub.dir, KW_NVML_STUB_GPUS: '2', KW_NVML_STUB_PIDS: String(job.pid) },
    );
    try {
      await eventually(async () => ((await getJson(`${p.httpUrl}/api/v1/health`)).ingest.job_events >= 1 ? true : undefined));
      job.kill('SIGKILL'); // the job ends: its pid is gone from /proc
      await eventually(async () => ((await getJson(`${p.httpUrl}/api/v1/health`)).ingest.job_events >= 2 ? true : undefined));
      expect(await p.stop('SIGINT')).toBe(0);
    } finally {
      job.kill('SIGKILL');
      await p.stop('SIGKILL');
    }
    const db = await DuckDBInstance.create(join(dataDir, 'kilowatch.duckdb'));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll('SELECT event, job, user_name, project, partition_name, gpus FROM job_events ORDER BY seq')).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    expect(rows).toEqual([
      { event: 'start', job: '90210', user_name: 'ada', project: 'llm', partition_name: 'h200', gpus: '["GPU-6b7c1f00-0000-4000-8000-000000000000"]' },
      { event: 'end', job: '90210', user_name: 'ada', project: 'llm', partition_name: 'h200', gpus: '["GPU-6b7c1f00-0000-4000-8000-000000000000"]' },
    ]);
  });
});
