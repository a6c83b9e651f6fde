/**
 * The prometheus source against a real node:http server on 127.0.0.1 (port 0)
 * serving the dcgm-exporter fixtures, changed in place where a test needs a
 * new sample, a failure or a bad value. Scrapes are stepped with scrape() so
 * that most tests never wait for the (>= 1 s) interval; the backoff test does.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PrometheusSource, type PrometheusSample } from '../../../collector/sources/prometheus.js';
import { ROOT } from '../../helpers/kilowatch-process.js';

const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'dcgm-exporter');
const L4_TEXT = readFileSync(join(FIXTURES, 'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom'), 'utf8');
const H100_TEXT = readFileSync(join(FIXTURES, 'aicr__8xH100-k8s-pod-labels__ip-10-0-171-111__metrics-excerpt.prom'), 'utf8');
const L4 = 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply {
  status?: number;
  body: string;
  delayMs?: number;
}

/** A metrics endpoint whose next answer the test sets; it records when it was hit. */
async function exporter(first: Reply) {
  let reply = first;
  const hits: number[] = [];
  const server = createServer((_req, res) => {
    hits.push(Date.now());
    const { status = 200, body, delayMs = 0 } = reply;
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(body);
    }, delayMs);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
  const close = () => new Promise<void>((r) => (server.closeAllConnections(), server.close(() => r())));
  return { url, hits, close, set: (r: Reply) => (reply = r) };
}

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function started(first: Reply, opts: { intervalMs?: number; stalenessMs?: number; now?: () => number; timeoutMs?: number } = {}) {
  const ex = await exporter(first);
  const src = new PrometheusSource({ url: ex.url, intervalMs: 60_000, ...opts });
  cleanup.push(ex.close, () => src.stop());
  await src.start();
  return { ex, src };
}

const only = (src: PrometheusSource, t = Date.now()) => src.read(t) as PrometheusSample[];

describe('prometheus source against a local exporter', () => {
  it('rejects start() with a clear message when the first scrape fails', async () => {
    const ex = await exporter({ status: 500, body: 'boom' });
    cleanup.push(ex.close);
    await expect(new PrometheusSource({ url: ex.url }).start()).rejects.toThrow(/^prometheus: first scrape of http:\/\/127\.0\.0\.1:\d+\/metrics failed: HTTP 500 Internal Server Error$/);
    ex.set({ body: '<html>dcgm-exporter</html>\n...\n' });
    await expect(new PrometheusSource({ url: ex.url }).start()).rejects.toThrow(/failed: no GPU metrics with a UUID label \(0 samples, 2 malformed lines\)/);
    ex.set({ body: L4_TEXT });
    await expect(new PrometheusSource({ url: ex.url, maxBodyBytes: 1000 }).start()).rejects.toThrow(/body larger than 1000 bytes/);
    const gone = await exporter({ body: '' }); // a port that nothing listens on any more
    await gone.close();
    await expect(new PrometheusSource({ url: gone.url }).start()).rejects.toThrow(/failed: fetch failed: .*ECONNREFUSED/);
  });

  it('counts distinct samples, not scrapes: the same text twice is one sample', async () => {
    let clock = 1_000_000;
    const { ex, src } = await started({ body: L4_TEXT }, { now: () => clock });
    expect(src.inventory()).toEqual([{ id: L4, index: 0, name: 'NVIDIA L4', driver: '580.105.08', supports: { energy_counter: true, instant_power: false } }]);
    expect(only(src, clock)).toMatchObject([{ id: L4, power_w: 16.365, energy_mj: 4742776, temp_c: 31, ts_ms: 1_000_000 }]);
    clock += 30_000;
    expect(await src.scrape()).toEqual({ ok: true });
    expect(src.health()).toMatchObject({ prometheus_scrapes: 2, prometheus_samples: 1, prometheus_unchanged_scrapes: 1, prometheus_gpus: 1, prometheus_up: 1 });
    expect(only(src, clock)[0]!.ts_ms).toBe(1_000_000); // still the first sample
    ex.set({ body: L4_TEXT.replace('} 4742776', '} 4800000').replace('} 16.365000', '} 17.000000') });
    clock += 30_000;
    await src.scrape();
    expect(only(src, clock)).toMatchObject([{ energy_mj: 4800000, power_w: 17, ts_ms: 1_060_000 }]);
    // Same values with an exposition timestamp are a new sample, dated by the exporter.
    ex.set({ body: L4_TEXT.replace('} 4742776', '} 4800000 1760000000000').replace('} 16.365000', '} 17.000000') });
    await src.scrape();
    await src.scrape();
    expect(only(src, clock)[0]!.ts_ms).toBe(1760000000000);
    expect(src.health()).toMatchObject({ prometheus_scrapes: 5, prometheus_samples: 3, prometheus_unchanged_scrapes: 2 });
    expect(ex.hits).toHaveLength(5);
  });

  it('serves the 8-GPU H100 excerpt with its pod labels', async () => {
    const { src } = await started({ body: H100_TEXT });
    const readings = only(src);
    expect(readings).toHaveLength(8);
    expect(readings[0]).toMatchObject({ power_w: 113.611, jobs: [{ pod: 'vllm-agg-0-vllmdecodeworker-s65j5', namespace: 'dynamo-workload', container: 'main' }] });
  });

  it('keeps the last readings through a 500, counts it, and recovers', async () => {
    const { ex, src } = await started({ body: L4_TEXT });
    ex.set({ status: 500, body: 'dcgm down' });
    expect(await src.scrape()).toEqual({ ok: false, error: 'HTTP 500 Internal Server Error' });
    expect(src.health()).toMatchObject({ prometheus_scrape_errors: 1, prometheus_http_errors: 1, prometheus_up: 0 });
    expect(only(src)).toHaveLength(1); // still fresh: the failure is the exporter's, not the GPU's
    ex.set({ body: L4_TEXT.replace('} 4742776', '} 4750000') });
    expect(await src.scrape()).toEqual({ ok: true });
    expect(src.health()).toMatchObject({ prometheus_up: 1, prometheus_samples: 2 });
    expect(only(src)[0]!.energy_mj).toBe(4750000);
  });

  it('retries a failing exporter with a doubling backoff on its own timer', async () => {
    const { ex, src } = await started({ body: L4_TEXT }, { intervalMs: 1000 });
    ex.set({ status: 500, body: '' });
    while (src.health().prometheus_scrape_errors !== 2) await sleep(50);
    ex.set({ body: L4_TEXT });
    while (src.health().prometheus_up !== 1) await sleep(50);
    const gaps = ex.hits.slice(1).map((t, i) => t - ex.hits[i]!);
    // interval 1 s, retry after 1 s, then after 2 s.
    expect(gaps).toHaveLength(3);
    expect(gaps[0]).toBeGreaterThanOrEqual(900);
    expect(gaps[1]).toBeGreaterThanOrEqual(900);
    expect(gaps[2]).toBeGreaterThanOrEqual(1800);
    expect(gaps[2]! - gaps[1]!).toBeGreaterThan(500); // doubled
    expect(src.health()).toMatchObject({ prometheus_scrape_errors: 2, prometheus_http_errors: 2, prometheus_scrapes: 2 });
  });

  it('counts malformed bodies and lines, and drops bad values with a reason', async () => {
    const { ex, src } = await started({ body: L4_TEXT });
    ex.set({ body: 'not metrics at all\n' });
    expect(await src.scrape()).toMatchObject({ ok: false, error: expect.stringMatching(/no GPU metrics/) });
    expect(src.health()).toMatchObject({ prometheus_no_gpus: 1, prometheus_malformed_lines: 1 });
    const bad = L4_TEXT.replace('} 16.365000', '} NaN').replace(/(DCGM_FI_DEV_GPU_TEMP\{[^}]*\}) 31/, '$1 +Inf').replace(/(DCGM_FI_DEV_GPU_UTIL\{[^}]*\}) 0/, '$1 250').replace('} 4742776', '} 4000000');
    ex.set({ body: `${bad}DCGM_FI_DEV_GPU_TEMP{UUID="x" 12\n` });
    expect(await src.scrape()).toEqual({ ok: true });
    const [r] = only(src);
    expect(r).toMatchObject({ id: L4, sm_clock_mhz: 210, energy_mj: 4000000, counter_reset: true });
    expect([r!.power_w, r!.temp_c, r!.util_pct]).toEqual([undefined, undefined, undefined]);
    expect(src.health()).toMatchObject({ prometheus_malformed_lines: 2, prometheus_dropped_nan: 2, prometheus_dropped_out_of_range: 1, prometheus_counter_reset: 1 });
  });

  it('reads the DCGM not-supported sentinel as absent and counts it', async () => {
    const body = L4_TEXT.replace(/(DCGM_FI_DEV_MEMORY_TEMP\{[^}]*\}) 0/, '$1 9223372036854775794');
    const { src } = await started({ body });
    expect(only(src)[0]!.memory_temp_c).toBeUndefined();
    expect(src.health().prometheus_absent_sentinels).toBe(1);
  });

  it('returns readings only while fresh, an unchanged scrape keeping them fresh', async () => {
    let clock = 5_000_000;
    const { src } = await started({ body: L4_TEXT }, { stalenessMs: 5000, now: () => clock });
    expect(src.read(clock + 5000)).toHaveLength(1);
    expect(src.read(clock + 5001)).toEqual([]);
    clock += 10_000;
    await src.scrape(); // the same values: not a new sample, but proof the exporter still answers
    expect(src.read(clock)).toHaveLength(1);
    expect(src.health().prometheus_samples).toBe(1);
  });

  it('counts a scrape that outlives its timeout', async () => {
    const { ex, src } = await started({ body: L4_TEXT }, { timeoutMs: 300 });
    ex.set({ body: L4_TEXT, delayMs: 2000 });
    expect(await src.scrape()).toEqual({ ok: false, error: 'no complete answer within 300 ms' });
    expect(src.health()).toMatchObject({ prometheus_timeouts: 1, prometheus_scrape_errors: 1 });
  });

  it('stop() ends the loop, abandons a scrape in flight without counting it, and empties read()', async () => {
    const { ex, src } = await started({ body: L4_TEXT }, { intervalMs: 1 }); // clamped to 1000 ms
    await sleep(600);
    expect(ex.hits).toHaveLength(1);
    ex.set({ body: L4_TEXT, delayMs: 5000 });
    const inflight = src.scrape();
    await sleep(100);
    const t0 = Date.now();
    await src.stop();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await inflight).toEqual({ ok: false, error: 'stopped' });
    expect(src.read(Date.now())).toEqual([]);
    expect(src.health()).toMatchObject({ prometheus_up: 0 });
    expect(src.health().prometheus_scrape_errors).toBeUndefined();
    const hits = ex.hits.length;
    await sleep(1300);
    expect(ex.hits).toHaveLength(hits);
  });
});
