/**
 * `kilowatch export`: the running server writes jobs.csv and gpu_hourly.csv
 * for a range; the jobs and their energy match GET /api/v1/jobs over the same
 * range, and each GPU has its hourly row. CSV fields are quoted per RFC 4180.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { csvField } from '../../server/export.js';
import { type KilowatchProcess, eventually, getJson, runKilowatch, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

let kw: KilowatchProcess | undefined;
afterEach(async () => {
  await kw?.stop('SIGKILL');
  kw = undefined;
});

/** Splits simple CSV (the export quotes only fields with commas, quotes or line breaks; none here but names). */
const rows = (text: string) => text.trim().split('\r\n').map((l) => l.split(','));

describe('kilowatch export', () => {
  it('quotes fields with commas, quotes or line breaks', () => {
    expect([csvField('a,b'), csvField('say "hi"'), csvField('x\ny'), csvField(1 / 3), csvField(undefined), csvField(NaN)]).toEqual(['"a,b"', '"say ""hi"""', '"x\ny"', '0.333333', '', '']);
  });

  it('writes the jobs and hourly GPU energy of a range, matching the API', async () => {
    const dir = tempDir('export');
    kw = await startKilowatch(['all', '--source', 'sim', '--hosts', '1', '--port', '0', '--mqtt-port', '0', '--data-dir', dir], /kilowatch: open http/);
    const from = Date.now() - 600_000;
    await eventually(async () => ((await getJson(`${kw!.httpUrl}/api/v1/jobs?from=${from}`)).jobs.some((j: any) => j.energy_j > 0) ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 1500)); // let a store batch commit the latest windows
    const to = Date.now();
    const out = join(dir, 'out');
    const r = await runKilowatch(['export', out, '--from', String(from), '--to', String(to), '--data-dir', dir]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toMatch(/jobs\.csv \d+ rows, gpu_hourly\.csv \d+ rows/);

    const api = await getJson(`${kw.httpUrl}/api/v1/jobs?from=${from}&to=${to}&limit=500`);
    const jobs = rows(readFileSync(join(out, 'jobs.csv'), 'utf8'));
    expect(jobs[0]!.slice(0, 9)).toEqual(['job', 'user', 'project', 'partition', 'hosts', 'gpus', 'start_ms', 'end_ms', 'energy_j']);
    expect(jobs.length - 1).toBe(api.total);
    for (const j of api.jobs) {
      const row = jobs.find((x) => x[0] === j.job)!;
      // The ledger resolves time to quarter hours, so the windows that landed between the export and this read
      // count in the API's figure too: at most a few seconds of 8 GPUs (8 x 700 W x 3 s = 16.8 kJ).
      expect(Number(row[8])).toBeLessThanOrEqual(j.energy_j + 1e-3);
      expect(j.energy_j - Number(row[8])).toBeLessThan(20_000);
    }
    const gpus = rows(readFileSync(join(out, 'gpu_hourly.csv'), 'utf8'));
    expect(gpus[0]).toEqual(['site', 'host', 'gpu', 'hour_start_ms', 'energy_j', 'mean_w', 'max_w', 'coverage']);
    expect(new Set(gpus.slice(1).map((g) => g[2])).size).toBe(8);
    expect(gpus.slice(1).every((g) => Number(g[4]) > 0 && Number(g[3]) % 3_600_000 === 0)).toBe(true);
    expect((await runKilowatch(['export', out, '--from', String(to), '--to', String(from), '--data-dir', dir])).output).toContain('--from must be before --to');
  }, 60_000);
});
