/**
 * The operations endpoints through the real command: `kilowatch all --source
 * sim` scraped as Prometheus would (/metrics, /metrics/fleet, read back by a
 * strict parser), probed as an orchestrator would (/healthz, /readyz), and a
 * server whose broker is down answering 503 with the reason.
 */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type KilowatchProcess, eventually, getJson, startKilowatch, tempDir } from '../helpers/kilowatch-process.js';
import { parsePrometheusText, valueOf } from '../helpers/prometheus-text.js';

let kw: KilowatchProcess;

async function scrape(path: string) {
  const res = await fetch(`${kw.httpUrl}${path}`);
  expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
  return parsePrometheusText(await res.text());
}

beforeAll(async () => {
  kw = await startKilowatch(['all', '--source', 'sim', '--hosts', '4', '--gpus', '4', '--port', '0', '--mqtt-port', '0', '--data-dir', tempDir('metrics')], /kilowatch: open http/);
});

afterAll(async () => {
  await kw?.stop();
});

describe('operations endpoints of kilowatch all', () => {
  it('says alive on /healthz and ready on /readyz', async () => {
    const h = await fetch(`${kw.httpUrl}/healthz`);
    expect([h.status, await h.text()]).toEqual([200, 'ok\n']);
    const r = await fetch(`${kw.httpUrl}/readyz`);
    expect([r.status, await r.text()]).toEqual([200, 'ready\n']);
  });

  it('exposes the fleet: 16 GPUs with power, energy in joules and utilization, and the demo meters', async () => {
    const fleet = await eventually(async () => {
      const s = await scrape('/metrics/fleet');
      return s.samples.filter((x) => x.name === 'kilowatch_gpu_power_watts').length === 16 && s.samples.some((x) => x.name === 'kilowatch_meter_power_watts') ? s : undefined;
    }, 30_000, 500);
    const gpus = fleet.samples.filter((x) => x.name === 'kilowatch_gpu_power_watts');
    expect(new Set(gpus.map((g) => g.labels.host))).toEqual(new Set(['sim-00', 'sim-01', 'sim-02', 'sim-03']));
    for (const g of gpus) {
      expect(Object.keys(g.labels).sort()).toEqual(['gpu', 'host', 'site']);
      expect(g.labels.gpu).toMatch(/^GPU-[0-9a-f-]{36}$/);
      expect(g.value).toBeGreaterThan(0);
      expect(valueOf(fleet, 'kilowatch_gpu_power_max_watts', g.labels)).toBeGreaterThanOrEqual(g.value);
      expect(valueOf(fleet, 'kilowatch_gpu_energy_joules_total', g.labels)).toBeGreaterThan(0);
      const util = valueOf(fleet, 'kilowatch_gpu_utilization_ratio', g.labels)!;
      expect(util >= 0 && util <= 1).toBe(true);
    }
    expect(fleet.samples.filter((x) => x.name === 'kilowatch_host_up').every((x) => x.value === 1)).toBe(true);
    expect(valueOf(fleet, 'kilowatch_host_simulated', { host: 'sim-00' })).toBe(1);
    // The fleet's live series carry no job label, whatever runs (ARCHITECTURE.md §7).
    expect(fleet.samples.some((x) => 'job' in x.labels || 'user' in x.labels || 'project' in x.labels)).toBe(false);
  }, 40_000);

  it('counts ingest, rejects by reason and WebSocket clients on /metrics, as /api/v1/health does', async () => {
    const ws = new WebSocket(`${kw.httpUrl!.replace('http', 'ws')}/api/v1/live`);
    await new Promise((res, rej) => ws.once('open', res).once('error', rej));
    ws.send(JSON.stringify({ type: 'subscribe', view: 'fleet' }));
    const client = await mqtt.connectAsync(kw.brokerUrl!, { clientId: 'metrics-bad-actor' });
    await client.publishAsync('kilowatch/v1/local/bad-host/gpu', '{"v":1,', { qos: 1 });
    await client.endAsync();
    try {
      const s = await eventually(async () => {
        const x = await scrape('/metrics');
        return valueOf(x, 'kilowatch_rejected_messages_total', { reason: 'invalid_json' })! >= 1 && valueOf(x, 'kilowatch_ws_clients') === 1 ? x : undefined;
      });
      expect(valueOf(s, 'kilowatch_ingested_messages_total', { kind: 'gpu_window' })).toBeGreaterThan(0);
      expect(valueOf(s, 'kilowatch_mqtt_connected')).toBe(1);
      expect(valueOf(s, 'kilowatch_store_info', { engine: 'duckdb' })).toBe(1);
      expect(valueOf(s, 'kilowatch_internal_errors_total')).toBe(0);
      expect(valueOf(s, 'kilowatch_process_resident_memory_bytes')).toBeGreaterThan(10e6);
      expect(valueOf(s, 'kilowatch_process_event_loop_delay_p99_seconds')).toBeGreaterThanOrEqual(0);
      expect(s.types.get('kilowatch_alert_events_total')).toBe('counter'); // the demo rules run
      const health = await getJson(`${kw.httpUrl}/api/v1/health`);
      // The process's own figures (cli/process-stats.ts): memory, and the event-loop delay of the last 5 s.
      expect(health.process.rss_bytes).toBeGreaterThan(10e6);
      expect(Object.keys(health.process.event_loop_delay_ms)).toEqual(['p50', 'p99', 'max']);
      expect(health.process.event_loop_delay_ms.max).toBeGreaterThanOrEqual(health.process.event_loop_delay_ms.p99);
      for (const [reason, n] of Object.entries(health.rejects.by_reason as Record<string, number>)) {
        expect(valueOf(s, 'kilowatch_rejected_messages_total', { reason }), reason).toBeLessThanOrEqual(n);
      }
      for (const [name, type] of s.types) expect(type === 'counter', name).toBe(name.endsWith('_total'));
    } finally {
      ws.close();
    }
  });
});

describe('readiness of a server whose broker is down', () => {
  it('is alive but answers /readyz 503 with the reason', async () => {
    const blocker = createServer();
    await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res));
    const port = (blocker.address() as AddressInfo).port;
    await new Promise<void>((res) => blocker.close(() => res())); // a port nobody listens on
    const server = await startKilowatch(['server', '--broker', `mqtt://127.0.0.1:${port}`, '--port', '0', '--data-dir', tempDir('readyz')], /kilowatch: open http/, 30_000);
    try {
      expect((await fetch(`${server.httpUrl}/healthz`)).status).toBe(200);
      const r = await fetch(`${server.httpUrl}/readyz`);
      expect([r.status, await r.text()]).toEqual([503, `not ready: MQTT not connected to mqtt://127.0.0.1:${port}\n`]);
    } finally {
      await server.stop();
    }
  }, 40_000);
});
