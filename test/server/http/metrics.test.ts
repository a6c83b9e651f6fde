/** /metrics, /metrics/fleet, /healthz and /readyz: the documents read back by a strict parser, and the raw routes of the HTTP server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveState } from '../../../server/core/live-state.js';
import { RejectLog } from '../../../server/core/reject-log.js';
import { HttpServer } from '../../../server/http/http-server.js';
import { type MetricsInputs, escapeLabelValue, exposition, fleetMetrics, notReadyReasons, operationsRoutes, selfMetrics } from '../../../server/http/metrics.js';
import type { StoreStats } from '../../../server/store/store.js';
import { parsePrometheusText, valueOf } from '../../helpers/prometheus-text.js';
import { tempDir } from '../../helpers/kilowatch-process.js';
import { gpuWindow, info, meterWindow, stat, status } from '../../helpers/windows.js';

const NOW = 1_764_000_010_000;

function storeStats(over: Partial<StoreStats> = {}): StoreStats {
  return { engine: 'duckdb', location: '/tmp/x', pending_rows: 12, written_rows: 5000, dropped_rows: 3, batches: 40, lag_ms: 1500, last_error: null, degraded: false, ...over };
}

function inputs(over: Partial<MetricsInputs> = {}): MetricsInputs {
  const rejects = new RejectLog();
  for (let i = 0; i < 3; i++) rejects.add({ at: NOW, reason: 'invalid_json', detail: 'x' });
  rejects.add({ at: NOW, reason: 'oversized', detail: 'y' });
  const live = new LiveState(60);
  live.applyWindow('s1', 'h1', gpuWindow({ ts: NOW - 1000 }), NOW);
  return {
    now: NOW, startedAt: NOW - 65_000, version: '0.1.0', rejects, live,
    pipeline: { windows: 100, meter_windows: 10, work_reports: 2, job_events: 4, late: 5, duplicates: 6, store_refused: 7, internal_errors: 0 },
    store: storeStats(),
    mqtt: { url: 'mqtt://127.0.0.1:1883', embedded: true, connected: true, received: 130, reconnects: 1 },
    ws: { clients: 2, frames_skipped: 9, disconnected_slow: 1 },
    delivery: { streams: 8, duplicates: 6, rejected_settled: 4, lost_windows: 11, acks_sent: 50, acks_unsent: 2 },
    alerts: {
      events: 20, notifications: 8, late_events: 1, log_refused: 0, mqtt_unsent: 0, usage_errors: 0, active: 2, firing: 1, broken_rules: 0,
      webhooks: [{ url: 'https://hooks.slack.com/services/T0/B0/SECRET', sent: 7, failed_attempts: 2, given_up: 1, dropped: 4, queued: 0, last_error: null }],
    },
    memory: { rss: 200e6, heapUsed: 80e6 },
    process: { rss_bytes: 200e6, heap_used_bytes: 80e6, event_loop_delay_ms: { p50: 0.25, p99: 12.5, max: 48 }, interval_s: 5 },
    ...over,
  };
}

describe('the exposition format', () => {
  it('escapes label values: backslash, double quote and newline, and nothing else', () => {
    expect(escapeLabelValue('a\\b"c\nd,e=f}')).toBe('a\\\\b\\"c\\nd,e=f}');
    const text = exposition([{ name: 'kilowatch_x', help: 'a \\ help\nline', type: 'gauge', samples: [{ labels: { v: 'q"\\\n' }, value: Infinity }, { value: NaN }] }]);
    expect(text).toBe('# HELP kilowatch_x a \\\\ help\\nline\n# TYPE kilowatch_x gauge\nkilowatch_x{v="q\\"\\\\\\n"} +Inf\nkilowatch_x NaN\n');
    const parsed = parsePrometheusText(text);
    expect(parsed.samples[0]!.labels.v).toBe('q"\\\n');
    expect(parsed.help.get('kilowatch_x')).toBe('a \\ help\nline');
  });

  it('is refused by the parser when it breaks the format (the parser is strict)', () => {
    expect(() => parsePrometheusText('kilowatch_x 1\n')).toThrow('before its TYPE');
    expect(() => parsePrometheusText('# TYPE kilowatch_x gauge\nkilowatch_x{a="\\t"} 1\n')).toThrow('bad escape');
    expect(() => parsePrometheusText('# TYPE kilowatch_x gauge\nkilowatch_x 1\nkilowatch_x 2\n')).toThrow('repeated');
    expect(() => parsePrometheusText('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n')).toThrow('not together');
  });
});

describe('GET /metrics', () => {
  const scrape = parsePrometheusText(exposition(selfMetrics(inputs())));

  it('names every family kilowatch_*, with HELP and TYPE, and every counter ends in _total', () => {
    for (const [name, type] of scrape.types) {
      expect(name).toMatch(/^kilowatch_[a-z0-9_]+$/);
      expect(scrape.help.get(name), name).toBeTruthy();
      expect(type === 'counter', name).toBe(name.endsWith('_total'));
    }
    expect(scrape.types.size).toBeGreaterThan(30);
  });

  it('counts ingest and rejects by reason, every reason present from the start', () => {
    expect(valueOf(scrape, 'kilowatch_ingested_messages_total', { kind: 'gpu_window' })).toBe(100);
    expect(valueOf(scrape, 'kilowatch_ingested_messages_total', { kind: 'job_event' })).toBe(4);
    expect(valueOf(scrape, 'kilowatch_rejected_messages_total', { reason: 'invalid_json' })).toBe(3);
    expect(valueOf(scrape, 'kilowatch_rejected_messages_total', { reason: 'oversized' })).toBe(1);
    expect(valueOf(scrape, 'kilowatch_rejected_messages_total', { reason: 'too_old' })).toBe(0);
    expect(scrape.samples.filter((s) => s.name === 'kilowatch_rejected_messages_total')).toHaveLength(14);
  });

  it('gives the event-loop delay of the last closed interval in seconds, and leaves it out when unknown', () => {
    expect(valueOf(scrape, 'kilowatch_process_event_loop_delay_p50_seconds')).toBe(0.00025);
    expect(valueOf(scrape, 'kilowatch_process_event_loop_delay_p99_seconds')).toBe(0.0125);
    expect(valueOf(scrape, 'kilowatch_process_event_loop_delay_max_seconds')).toBe(0.048);
    expect(scrape.types.get('kilowatch_process_event_loop_delay_p99_seconds')).toBe('gauge');
    const without = parsePrometheusText(exposition(selfMetrics(inputs({ process: undefined }))));
    expect([...without.types.keys()].filter((n) => n.includes('event_loop'))).toEqual([]);
  });

  it('says drops by buffer, store lag in seconds, WebSocket clients, alerts and webhooks', () => {
    expect(valueOf(scrape, 'kilowatch_buffer_dropped_total', { buffer: 'store_rows' })).toBe(3);
    expect(valueOf(scrape, 'kilowatch_buffer_dropped_total', { buffer: 'store_refused_windows' })).toBe(7);
    expect(valueOf(scrape, 'kilowatch_buffer_dropped_total', { buffer: 'ws_frames' })).toBe(9);
    expect(valueOf(scrape, 'kilowatch_buffer_dropped_total', { buffer: 'webhook_queue' })).toBe(4);
    expect(valueOf(scrape, 'kilowatch_store_write_lag_seconds')).toBe(1.5);
    expect(valueOf(scrape, 'kilowatch_store_pending_rows')).toBe(12);
    expect(valueOf(scrape, 'kilowatch_ws_clients')).toBe(2);
    expect(valueOf(scrape, 'kilowatch_uptime_seconds')).toBe(65);
    expect(valueOf(scrape, 'kilowatch_gpus')).toBe(2);
    expect(valueOf(scrape, 'kilowatch_alert_events_total')).toBe(20);
    expect(valueOf(scrape, 'kilowatch_alerts_firing')).toBe(1);
    expect(valueOf(scrape, 'kilowatch_build_info', { version: '0.1.0' })).toBe(1);
  });

  it('labels a webhook by its origin only: the path of a Slack webhook is its secret', () => {
    const sent = scrape.samples.filter((s) => s.name === 'kilowatch_webhook_sent_total');
    expect(sent).toEqual([{ name: 'kilowatch_webhook_sent_total', labels: { webhook: '0', origin: 'https://hooks.slack.com' }, value: 7 }]);
    expect(exposition(selfMetrics(inputs()))).not.toContain('SECRET');
  });

  it('leaves the alert families out when there is no alert engine', () => {
    const s = parsePrometheusText(exposition(selfMetrics(inputs({ alerts: undefined }))));
    expect(s.types.has('kilowatch_alert_events_total')).toBe(false);
    expect(valueOf(s, 'kilowatch_buffer_dropped_total', { buffer: 'alert_log' })).toBe(0);
  });
});

describe('GET /metrics/fleet', () => {
  function fleet() {
    const live = new LiveState(60);
    const weird = 'rack "7"\\n\nx';
    live.applyStatus('s1', weird, status());
    live.applyInfo('s1', weird, info({ meters: [{ id: 'pdu-a', kind: 'tasmota', supports: { energy_counter: true, instant_power: true } }] }));
    live.applyWindow('s1', weird, gpuWindow({ ts: NOW - 2000, gpus: [{ id: 'GPU-aaaa', power_w: stat(500, 20), energy_mj: 1_234_567, util_pct: stat(90), mem_used_mib: stat(1024), temp_c: stat(60, 5), sm_clock_mhz: stat(1500) }] }), NOW);
    live.applyMeter('s1', weird, 'pdu-a', meterWindow({ ts: NOW - 10_000 }), NOW);
    // An offline host and a stale one keep no readings.
    live.applyStatus('s1', 'gone', status({ state: 'offline' }));
    live.applyWindow('s1', 'gone', gpuWindow({ ts: NOW - 3000 }), NOW);
    live.applyStatus('s1', 'quiet', status());
    live.applyWindow('s1', 'quiet', gpuWindow({ ts: NOW - 60_000 }), NOW - 60_000);
    return { scrape: parsePrometheusText(exposition(fleetMetrics(live, NOW))), weird };
  }

  it('gives per-GPU power, energy in joules, utilization as a ratio, temperature, memory and clock, with site, host and gpu labels', () => {
    const { scrape, weird } = fleet();
    const gl = { site: 's1', host: weird, gpu: 'GPU-aaaa' };
    expect(valueOf(scrape, 'kilowatch_gpu_power_watts', gl)).toBe(500);
    expect(valueOf(scrape, 'kilowatch_gpu_power_max_watts', gl)).toBe(520);
    expect(valueOf(scrape, 'kilowatch_gpu_energy_joules_total', gl)).toBe(1234.567);
    expect(valueOf(scrape, 'kilowatch_gpu_utilization_ratio', gl)).toBe(0.9);
    expect(valueOf(scrape, 'kilowatch_gpu_memory_used_bytes', gl)).toBe(1024 * 1_048_576);
    expect(valueOf(scrape, 'kilowatch_gpu_temperature_celsius', gl)).toBe(65);
    expect(valueOf(scrape, 'kilowatch_gpu_sm_clock_hertz', gl)).toBe(1.5e9);
    expect(valueOf(scrape, 'kilowatch_gpu_power_limit_watts', gl)).toBe(700); // from info
    expect(valueOf(scrape, 'kilowatch_host_power_watts', { site: 's1', host: weird })).toBe(900);
    expect(valueOf(scrape, 'kilowatch_host_power_max_watts', { site: 's1', host: weird })).toBe(950);
  });

  it('gives per-meter power and energy counters in joules', () => {
    const { scrape, weird } = fleet();
    const ml = { site: 's1', host: weird, meter: 'pdu-a' };
    expect(valueOf(scrape, 'kilowatch_meter_power_watts', ml)).toBe(-2050.3);
    expect(valueOf(scrape, 'kilowatch_meter_energy_import_joules_total', ml)).toBeCloseTo(18234410.5 * 3600);
    expect(valueOf(scrape, 'kilowatch_meter_energy_export_joules_total', ml)).toBe(5120077 * 3600);
    expect(valueOf(scrape, 'kilowatch_meter_power_factor', ml)).toBe(0.975);
  });

  it('marks offline and stale hosts down and drops their readings; no label but site, host, gpu and meter', () => {
    const { scrape } = fleet();
    expect(valueOf(scrape, 'kilowatch_host_up', { host: 'gone' })).toBe(0);
    expect(valueOf(scrape, 'kilowatch_host_up', { host: 'quiet' })).toBe(0);
    expect(scrape.samples.filter((s) => s.labels.host === 'gone' || s.labels.host === 'quiet').map((s) => s.name).sort())
      .toEqual(['kilowatch_host_simulated', 'kilowatch_host_simulated', 'kilowatch_host_up', 'kilowatch_host_up']);
    const labelNames = new Set(scrape.samples.flatMap((s) => Object.keys(s.labels)));
    expect([...labelNames].sort()).toEqual(['gpu', 'host', 'meter', 'site']);
    for (const [name, type] of scrape.types) expect(type === 'counter', name).toBe(name.endsWith('_total'));
  });

  it('is valid with an empty fleet', () => {
    const s = parsePrometheusText(exposition(fleetMetrics(new LiveState(60), NOW)));
    expect(s.samples).toEqual([]);
    expect(s.types.get('kilowatch_gpu_power_watts')).toBe('gauge');
  });
});

describe('/readyz reasons', () => {
  it('is ready with a healthy store and a connected broker, and names each reason otherwise', () => {
    expect(notReadyReasons(inputs())).toEqual([]);
    expect(notReadyReasons(inputs({ store: storeStats({ degraded: true, last_error: 'disk full' }), mqtt: { ...inputs().mqtt, connected: false } })))
      .toEqual(['store degraded: disk full', 'MQTT not connected to mqtt://127.0.0.1:1883']);
  });
});

describe('raw routes of the HTTP server', () => {
  let server: HttpServer;
  let base: string;
  let state = inputs();

  beforeAll(async () => {
    server = new HttpServer({
      host: '127.0.0.1', port: 0, webDir: tempDir('web'), onUpgrade: (_req, socket) => socket.destroy(),
      routes: { '/api/v1/health': () => ({ ok: true }) },
      rawRoutes: {
        ...operationsRoutes(state.live, () => NOW, () => state),
        '/slow': async () => ({ status: 202, contentType: 'text/plain', body: 'later' }),
        '/broken': () => { throw new Error('boom'); },
      },
    });
    base = await server.start();
  });

  afterAll(() => server.stop());

  it('answers text with its own content type outside /api/, and leaves the API and static files as they were', async () => {
    const m = await fetch(`${base}/metrics`);
    expect([m.status, m.headers.get('content-type')]).toEqual([200, 'text/plain; version=0.0.4; charset=utf-8']);
    expect(valueOf(parsePrometheusText(await m.text()), 'kilowatch_ws_clients')).toBe(2);
    const f = await fetch(`${base}/metrics/fleet`);
    expect(parsePrometheusText(await f.text()).samples.length).toBeGreaterThan(0);
    expect(await (await fetch(`${base}/healthz`)).text()).toBe('ok\n');
    expect(await (await fetch(`${base}/slow`)).text()).toBe('later');
    expect(await (await fetch(`${base}/api/v1/health`)).json()).toEqual({ ok: true });
    expect((await fetch(`${base}/metrics/other.js`)).status).toBe(404); // static, no such file
  });

  it('says 503 with the reason on /readyz while not ready', async () => {
    expect([(await fetch(`${base}/readyz`)).status]).toEqual([200]);
    state = inputs({ mqtt: { ...inputs().mqtt, connected: false } });
    const r = await fetch(`${base}/readyz`);
    expect([r.status, await r.text()]).toEqual([503, 'not ready: MQTT not connected to mqtt://127.0.0.1:1883\n']);
    state = inputs();
  });

  it('answers HEAD without a body, other methods with a JSON 405, and a failing route with a JSON 500', async () => {
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow'), await post.json()]).toEqual([405, 'GET, HEAD', { error: 'POST is not allowed on /metrics' }]);
    const broken = await fetch(`${base}/broken`);
    expect([broken.status, await broken.json()]).toEqual([500, { error: 'boom' }]);
  });
});
