/**
 * `kilowatch all --source prometheus` against a local HTTP server that serves
 * a real dcgm-exporter scrape (../shared/fixtures): the fleet shows the
 * exporter's GPU with the values of the file, not a simulated fleet.
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, ROOT, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const DCGM = join(ROOT, '..', 'shared', 'fixtures', 'dcgm-exporter');
const FIXTURE = join(DCGM, 'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom');
const POD_LABELS = join(DCGM, 'aicr__8xH100-k8s-pod-labels__ip-10-0-171-111__metrics-excerpt.prom');
let kw: KilowatchProcess | undefined;
let serving = FIXTURE;
/** With `live`, each scrape reads a slightly different power, as a real exporter's would: distinct samples, so energy accrues. */
let live = false;
let scrapes = 0;
const exporter = createServer((_req, res) => {
  const text = readFileSync(serving, 'utf8');
  res.end(live ? text.replace(/ 113\.611000$/m, ` ${(113.611 + (scrapes++ % 2) * 0.002).toFixed(6)}`) : text);
});
afterAll(async () => {
  await kw?.stop();
  exporter.close();
});

describe('kilowatch all --source prometheus', () => {
  it('publishes the GPU a dcgm-exporter scrape describes', async () => {
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(exporter.address() as AddressInfo).port}/metrics`;
    kw = await startKilowatch(
      ['all', '--source', 'prometheus', '--scrape-url', url, '--scrape-interval-ms', '1000', '--host-id', 'l4-node', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('prom-e2e')],
      /kilowatch: open http/,
    );
    const fleet = await eventually(async () => {
      const f = await getJson(`${kw!.httpUrl}/api/v1/fleet`);
      return f.hosts[0]?.gpus[0]?.power_w ? f : undefined;
    });
    expect(fleet.simulated).toBe(false);
    expect(fleet.hosts.map((h: any) => [h.host, h.sources])).toEqual([['l4-node', ['prometheus']]]);
    const gpu = fleet.hosts[0].gpus[0];
    expect(gpu.id).toMatch(/^GPU-/);
    expect(gpu.energy_mj).toBe(4742776); // DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION in the file
    expect(gpu.power_w.n).toBe(1); // one distinct sample, however many ticks saw it
    expect(await kw.stop('SIGINT')).toBe(0);
  });

  it("starts a job for the pod dcgm-exporter's labels name, on the job stream", async () => {
    serving = POD_LABELS;
    live = true;
    const url = `http://127.0.0.1:${(exporter.address() as AddressInfo).port}/metrics`;
    const dir = tempDir('prom-jobs');
    kw = await startKilowatch(
      ['all', '--source', 'prometheus', '--scrape-url', url, '--scrape-interval-ms', '1000', '--host-id', 'h100-node', '--port', '0', '--mqtt-port', '0', '--data-dir', dir],
      /kilowatch: open http/,
    );
    await eventually(async () => ((await getJson(`${kw!.httpUrl}/api/v1/health`)).ingest.job_events > 0 ? true : undefined));
    // The job's GPU draws about 113.61 W (the capture): its energy grows with the windows stored since it started.
    const page = await eventually(async () => {
      const p = await getJson(`${kw!.httpUrl}/api/v1/jobs?project=dynamo-workload`);
      return p.jobs[0]?.energy_j > 113 ? p : undefined;
    });
    expect(page).toMatchObject({ total: 1, offset: 0, limit: 50, jobs: [{ job: 'dynamo-workload/vllm-agg-0-vllmdecodeworker-s65j5', project: 'dynamo-workload', hosts: [{ site: 'local', host: 'h100-node' }], gpus: 1 }] });
    expect(page.jobs[0].end).toBeUndefined();
    const eff = await getJson(`${kw!.httpUrl}/api/v1/efficiency?by=project`);
    expect(eff).toMatchObject({ by: 'project', time_zone: 'UTC', rows: [{ key: 'dynamo-workload', jobs: 1 }] });
    expect(eff.rows[0].w_per_gpu).toBeGreaterThan(0);
    const bad = await fetch(`${kw!.httpUrl}/api/v1/efficiency?by=colour&limit=x`);
    expect(bad.status).toBe(400);
    expect(await kw.stop('SIGINT')).toBe(0);
    const db = await DuckDBInstance.create(join(dir, 'kilowatch.duckdb'));
    const conn = await db.connect();
    const rows = (await conn.runAndReadAll('SELECT event, job, project, gpus FROM job_events')).getRowObjectsJS();
    conn.closeSync();
    db.closeSync();
    expect(rows).toEqual([{ event: 'start', job: 'dynamo-workload/vllm-agg-0-vllmdecodeworker-s65j5', project: 'dynamo-workload', gpus: '["GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005"]' }]);
  });
});
