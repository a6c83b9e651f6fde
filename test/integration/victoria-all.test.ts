/**
 * `kilowatch all --store victoriametrics` against Debian's VictoriaMetrics:
 * the simulated fleet's windows land in VictoriaMetrics, are acknowledged
 * only once durable (15 s after the write), and the history API answers
 * from them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { type VictoriaMetrics, startVictoriaMetrics } from '../helpers/victoria-metrics.js';

let vm: VictoriaMetrics | undefined;
let kw: KilowatchProcess | undefined;
afterAll(async () => {
  await kw?.stop('SIGKILL');
  await vm?.stop();
});

describe('kilowatch all --store victoriametrics', () => {
  it('stores the fleet in VictoriaMetrics and answers history from it', async () => {
    vm = await startVictoriaMetrics({ windowMs: 1000 });
    kw = await startKilowatch(
      ['all', '--store', 'victoriametrics', '--victoria-url', vm.url, '--hosts', '2', '--gpus', '2',
        '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('vm-all')],
      /kilowatch: open http/,
    );
    const started = Date.now();
    // Acknowledged only after the durability delay: the collector's spool holds the windows until then.
    const health = await eventually(async () => {
      const h = await getJson(`${kw!.httpUrl}/api/v1/health`);
      return h.store.written_rows >= 8 ? h : undefined;
    }, 45_000, 500);
    expect(Date.now() - started).toBeGreaterThan(10_000);
    expect(kw.output()).toContain('the local collector waits 20 s for acks (not 6 s)');
    expect(health.store).toMatchObject({ engine: 'victoriametrics', degraded: false });
    const to = Math.floor(Date.now() / 1000) * 1000;
    const series = await eventually(async () => {
      const s = await getJson(`${kw!.httpUrl}/api/v1/series?target=fleet&from=${to - 30_000}&to=${to}&step=1s`);
      return s.values.filter((v: number | null) => v !== null && v > 0).length >= 5 ? s : undefined;
    }, 30_000, 1000);
    expect([series.members, series.unit]).toEqual([4, 'W']);
    expect(await kw.stop('SIGINT')).toBe(0);
  }, 120_000);
});
