/**
 * `kilowatch all --source prometheus` against a local HTTP server that serves
 * a real dcgm-exporter scrape (../shared/fixtures): the fleet shows the
 * exporter's GPU with the values of the file, not a simulated fleet.
 */
import { readFileSync } from 'node:fs';
import { type AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, ROOT, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';

const FIXTURE = join(ROOT, '..', 'shared', 'fixtures', 'dcgm-exporter', 'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom');
let kw: KilowatchProcess | undefined;
const exporter = createServer((_req, res) => res.end(readFileSync(FIXTURE)));
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
});
