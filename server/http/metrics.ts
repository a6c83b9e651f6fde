/**
 * Self-monitoring and the fleet for Prometheus, in the text exposition
 * format 0.0.4, written by hand: the format is a few lines of rules, and
 * prom-client would keep a second registry of counters that the server
 * already holds (pipeline, store, ledger, hub, alerts).
 *
 *   GET /metrics        the server itself: ingest, rejects by reason, drops by
 *                       buffer, store lag, WebSocket clients, alerts, webhooks
 *   GET /metrics/fleet  the data: latest GPU, host and meter readings per
 *                       site/host/gpu/meter; never a job label (ARCHITECTURE.md
 *                       §7: job labels multiply series by jobs)
 *   GET /healthz        the process answers: 200 ok
 *   GET /readyz         200 when the store is not degraded and MQTT is
 *                       connected, else 503 with the reasons
 *
 * The documents are pure functions of their inputs; operationsRoutes() is
 * the edge that reads the process's memory and the clock.
 */
import type { RejectReason } from '../../protocol/result.js';
import type { AlertService } from '../alerts/alert-service.js';
import type { LiveState } from '../core/live-state.js';
import type { RawReply, RawRoute } from './http-server.js';
import type { HealthInputs } from './views.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Readonly<Record<string, string>>;
type WebhookHealth = ReturnType<AlertService['health']>['webhooks'][number];
export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: { labels?: Labels; value: number }[];
}

/** Label values escape backslash, double quote and newline; HELP text escapes backslash and newline (format 0.0.4). */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Go's ParseFloat spellings, which Prometheus reads; JavaScript's own would be "Infinity". */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** One HELP and TYPE per family, its samples together, as the format requires; no timestamps (the scrape time is the time). */
export function exposition(families: readonly Family[]): string {
  const out: string[] = [];
  for (const f of families) {
    out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels ? Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',') : '';
      out.push(`${f.name}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return out.join('\n') + '\n';
}

/** Every reason, so a reason never seen is exported as 0 and rate() works from the first reject; a new reason fails to compile here. */
const REJECT_REASONS: Record<RejectReason, true> = {
  oversized: true, invalid_json: true, bad_topic: true, unknown_stream: true, unsupported_version: true, missing_field: true,
  not_a_number: true, non_finite: true, bad_type: true, negative: true, impossible_value: true, future: true, too_old: true, rate_limited: true,
};

export type MetricsInputs = Omit<HealthInputs, 'alerts'> & {
  alerts?: ReturnType<AlertService['health']>;
  /** process.memoryUsage() at the edge. */
  memory: { rss: number; heapUsed: number };
};

const one = (value: number, labels?: Labels) => [labels ? { labels, value } : { value }];
const counter = (name: string, help: string, value: number): Family => ({ name, help, type: 'counter', samples: one(value) });
const gauge = (name: string, help: string, value: number): Family => ({ name, help, type: 'gauge', samples: one(value) });

/** Only scheme, host and port: a webhook's path and query often hold its secret (Slack's do). */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'invalid';
  }
}

/** The event-loop delay of the last closed interval (cli/process-stats.ts), as prom-client names its own: one gauge per figure. */
function eventLoopDelay(p: MetricsInputs['process']): Family[] {
  if (!p) return [];
  const d = p.event_loop_delay_ms;
  const about = 'over the last closed interval (its length is process.interval_s in /api/v1/health), beyond the 10 ms timer that measures it';
  return [
    gauge('kilowatch_process_event_loop_delay_p50_seconds', `Median event-loop delay ${about}.`, d.p50 / 1000),
    gauge('kilowatch_process_event_loop_delay_p99_seconds', `99th percentile of the event-loop delay ${about}.`, d.p99 / 1000),
    gauge('kilowatch_process_event_loop_delay_max_seconds', `Longest event-loop delay ${about}.`, d.max / 1000),
  ];
}

/** GET /metrics: the server's own state, read from the same inputs as /api/v1/health. */
export function selfMetrics(h: MetricsInputs): Family[] {
  const p = h.pipeline;
  const rejects = h.rejects.snapshot();
  const reasons = { ...Object.fromEntries(Object.keys(REJECT_REASONS).map((r) => [r, 0])), ...rejects.by_reason };
  const summary = h.live.summary(h.now);
  const fams: Family[] = [
    { name: 'kilowatch_build_info', help: 'Always 1; the running version.', type: 'gauge', samples: one(1, { version: h.version }) },
    gauge('kilowatch_uptime_seconds', 'Seconds since the server started.', Math.round((h.now - h.startedAt) / 1000)),
    gauge('kilowatch_process_resident_memory_bytes', 'Resident set size of the process.', h.memory.rss),
    gauge('kilowatch_process_heap_used_bytes', 'V8 heap in use.', h.memory.heapUsed),
    ...eventLoopDelay(h.process),
    counter('kilowatch_mqtt_messages_received_total', 'MQTT messages handed to the pipeline.', h.mqtt.received),
    gauge('kilowatch_mqtt_connected', '1 while the ingest client is connected to its broker.', h.mqtt.connected ? 1 : 0),
    counter('kilowatch_mqtt_reconnects_total', 'Reconnection attempts of the ingest client.', h.mqtt.reconnects),
    {
      name: 'kilowatch_ingested_messages_total', help: 'Messages accepted, by kind.', type: 'counter',
      samples: [['gpu_window', p.windows], ['meter_window', p.meter_windows], ['work_report', p.work_reports], ['job_event', p.job_events]]
        .map(([kind, value]) => ({ labels: { kind: kind as string }, value: value as number })),
    },
    counter('kilowatch_late_windows_total', 'Windows older than the latest of their host: stored, never live.', p.late),
    counter('kilowatch_duplicate_messages_total', 'Messages already settled (same host, stream, boot and seq), answered with an ack only.', p.duplicates),
    counter('kilowatch_internal_errors_total', 'Messages whose handling failed inside the server (a bug; see the log).', p.internal_errors),
    {
      name: 'kilowatch_rejected_messages_total', help: 'Messages rejected, by reason (protocol/result.ts).', type: 'counter',
      samples: Object.entries(reasons).sort(([a], [b]) => a.localeCompare(b)).map(([reason, value]) => ({ labels: { reason }, value })),
    },
    {
      // One family so that `sum(rate(kilowatch_buffer_dropped_total[5m])) > 0` catches a drop anywhere; each buffer counts its own unit.
      name: 'kilowatch_buffer_dropped_total',
      help: 'Items a bounded buffer refused or skipped: store rows, windows refused by a full store, messages from hosts beyond the host limit, WebSocket frames, alert log entries, webhook notifications.',
      type: 'counter',
      samples: [
        ['store_rows', h.store.dropped_rows], ['store_refused_windows', p.store_refused], ['live_host_limit', h.live.droppedHostLimit],
        ['ws_frames', h.ws.frames_skipped], ['alert_log', h.alerts?.log_refused ?? 0],
        ['webhook_queue', (h.alerts?.webhooks ?? []).reduce((n, w) => n + w.dropped, 0)],
      ].map(([buffer, value]) => ({ labels: { buffer: buffer as string }, value: value as number })),
    },
    gauge('kilowatch_store_pending_rows', 'GPU rows waiting in memory for the next store batch.', h.store.pending_rows),
    gauge('kilowatch_store_write_lag_seconds', 'Age of the oldest row not yet written (0 when none wait).', h.store.lag_ms / 1000),
    counter('kilowatch_store_written_rows_total', 'GPU rows written to the store.', h.store.written_rows),
    counter('kilowatch_store_batches_total', 'Store batches committed.', h.store.batches),
    gauge('kilowatch_store_degraded', '1 while the last store write failed.', h.store.degraded ? 1 : 0),
    counter('kilowatch_store_reopens_total', 'Times the store engine was reopened after an I/O failure.', h.store.reopens ?? 0),
    { name: 'kilowatch_store_info', help: 'Always 1; the store engine.', type: 'gauge', samples: one(1, { engine: h.store.engine }) },
    gauge('kilowatch_delivery_streams', 'Collector streams (host, stream, boot) whose delivery state is kept.', h.delivery.streams),
    // Sums over the kept streams: they fall when old boots are forgotten, so they are gauges, not counters.
    gauge('kilowatch_delivery_lost_windows', 'Windows the kept streams recorded as lost (dropped by a collector spool).', h.delivery.lost_windows),
    gauge('kilowatch_delivery_rejected_settled', 'Messages of the kept streams settled as permanently rejected.', h.delivery.rejected_settled),
    counter('kilowatch_acks_sent_total', 'Application acknowledgements (_ack) published.', h.delivery.acks_sent),
    counter('kilowatch_acks_unsent_total', 'Acknowledgements that could not be published (broker down); collectors resend and ask again.', h.delivery.acks_unsent),
    gauge('kilowatch_ws_clients', 'WebSocket clients connected to /api/v1/live.', h.ws.clients),
    counter('kilowatch_ws_disconnected_slow_total', 'WebSocket clients closed for staying behind.', h.ws.disconnected_slow),
    gauge('kilowatch_hosts', 'Hosts in live state.', summary.hosts),
    gauge('kilowatch_hosts_online', 'Hosts whose status is online.', summary.online_hosts),
    gauge('kilowatch_gpus', 'GPUs in live state.', summary.gpus),
  ];
  const a = h.alerts;
  if (a) {
    fams.push(
      counter('kilowatch_alert_events_total', 'Alert transitions (pending, firing, resolved, late).', a.events),
      counter('kilowatch_alert_notifications_total', 'Transitions notified to the UI, webhooks and MQTT.', a.notifications),
      counter('kilowatch_alert_late_events_total', 'Transitions from late windows, logged but never notified.', a.late_events),
      counter('kilowatch_alert_mqtt_unsent_total', 'Retained alert states that could not be published.', a.mqtt_unsent),
      counter('kilowatch_alert_usage_errors_total', 'Energy budget usage reads that failed.', a.usage_errors),
      gauge('kilowatch_alerts_active', 'Alerts pending or firing.', a.active),
      gauge('kilowatch_alerts_firing', 'Alerts firing.', a.firing),
      gauge('kilowatch_alert_rules_broken', 'Rules that cannot be evaluated (see /api/v1/rules).', a.broken_rules),
    );
    const hooks = a.webhooks.map((w, i) => ({ w, labels: { webhook: String(i), origin: origin(w.url) } }));
    const per = (name: string, help: string, type: Family['type'], pick: (w: WebhookHealth) => number): Family =>
      ({ name, help, type, samples: hooks.map(({ w, labels }) => ({ labels, value: pick(w) })) });
    fams.push(
      per('kilowatch_webhook_sent_total', 'Notifications a webhook accepted (2xx).', 'counter', (w) => w.sent),
      per('kilowatch_webhook_failed_attempts_total', 'Webhook requests that failed and were retried or given up.', 'counter', (w) => w.failed_attempts),
      per('kilowatch_webhook_given_up_total', 'Notifications abandoned after the last retry.', 'counter', (w) => w.given_up),
      per('kilowatch_webhook_queued', 'Notifications waiting for a webhook.', 'gauge', (w) => w.queued),
    );
  }
  return fams;
}

/** GET /readyz: the reasons not to send traffic here, none when ready. */
export function notReadyReasons(h: Pick<HealthInputs, 'store' | 'mqtt'>): string[] {
  const out: string[] = [];
  if (h.store.degraded) out.push(`store degraded: ${h.store.last_error ?? 'last write failed'}`);
  if (!h.mqtt.connected) out.push(`MQTT not connected to ${h.mqtt.url}`);
  return out;
}

/**
 * GET /metrics/fleet. Readings of a host that is offline or stale are left
 * out, so Prometheus marks their series stale instead of repeating a value
 * that is not "now"; kilowatch_host_up says which hosts those are. Units are
 * Prometheus base units: watts, joules, bytes, hertz, a 0..1 ratio.
 */
export function fleetMetrics(live: LiveState, now: number): Family[] {
  const fam = (name: string, help: string, type: Family['type'] = 'gauge'): Family => ({ name, help, type, samples: [] });
  const f = {
    up: fam('kilowatch_host_up', '1 when the host is online and its windows are fresh; its readings below are present only then.'),
    simulated: fam('kilowatch_host_simulated', '1 when the host is part of the simulated fleet.'),
    hostPower: fam('kilowatch_host_power_watts', 'Host GPU power, mean of the latest window (summed per sample at the edge).'),
    hostMax: fam('kilowatch_host_power_max_watts', 'Host GPU power, peak sample of the latest window.'),
    power: fam('kilowatch_gpu_power_watts', 'GPU power, mean of the latest window.'),
    powerMax: fam('kilowatch_gpu_power_max_watts', 'GPU power, highest sample of the latest window.'),
    energy: fam('kilowatch_gpu_energy_joules_total', 'GPU energy counter (NVML, since the driver loaded; resets on reload).', 'counter'),
    util: fam('kilowatch_gpu_utilization_ratio', 'GPU utilization, mean of the latest window, 0 to 1.'),
    mem: fam('kilowatch_gpu_memory_used_bytes', 'GPU memory used, mean of the latest window.'),
    temp: fam('kilowatch_gpu_temperature_celsius', 'GPU temperature, highest of the latest window.'),
    clock: fam('kilowatch_gpu_sm_clock_hertz', 'SM clock, mean of the latest window.'),
    limit: fam('kilowatch_gpu_power_limit_watts', 'GPU power limit.'),
    meterPower: fam('kilowatch_meter_power_watts', 'Meter power, mean of the latest window; negative means export.'),
    meterImport: fam('kilowatch_meter_energy_import_joules_total', 'Meter import energy counter.', 'counter'),
    meterExport: fam('kilowatch_meter_energy_export_joules_total', 'Meter export energy counter.', 'counter'),
    volts: fam('kilowatch_meter_voltage_volts', 'Meter voltage, mean of the latest window.'),
    amps: fam('kilowatch_meter_current_amperes', 'Meter current, mean of the latest window.'),
    pf: fam('kilowatch_meter_power_factor', 'Meter power factor, mean of the latest window.'),
  };
  const put = (family: Family, labels: Labels, value: number | undefined) => {
    if (value !== undefined && Number.isFinite(value)) family.samples.push({ labels, value });
  };
  const hosts = live.allHosts().sort((a, b) => a.site.localeCompare(b.site) || a.host.localeCompare(b.host));
  for (const h of hosts) {
    const hl = { site: h.site, host: h.host };
    const up = h.state === 'online' && !live.isStale(h, now);
    put(f.up, hl, up ? 1 : 0);
    put(f.simulated, hl, h.simulated ? 1 : 0);
    if (!up) continue;
    put(f.hostPower, hl, h.hostPower?.mean);
    put(f.hostMax, hl, h.hostPower?.max);
    for (const g of [...h.gpus.values()].sort((a, b) => a.id.localeCompare(b.id))) {
      const gl = { ...hl, gpu: g.id };
      put(f.power, gl, g.power_w?.mean);
      put(f.powerMax, gl, g.power_w?.max);
      put(f.energy, gl, g.energy_mj === undefined ? undefined : g.energy_mj / 1000);
      put(f.util, gl, g.util_pct === undefined ? undefined : g.util_pct.mean / 100);
      put(f.mem, gl, g.mem_used_mib === undefined ? undefined : g.mem_used_mib.mean * 1_048_576);
      put(f.temp, gl, g.temp_c?.max);
      put(f.clock, gl, g.sm_clock_mhz === undefined ? undefined : g.sm_clock_mhz.mean * 1e6);
      put(f.limit, gl, g.power_limit_w ?? h.inventory.get(g.id)?.power_limit_w);
    }
    for (const [id, m] of [...h.meters].sort(([a], [b]) => a.localeCompare(b))) {
      const w = m.window;
      if (!w) continue;
      const ml = { ...hl, meter: id };
      put(f.meterPower, ml, w.power_w?.mean);
      put(f.meterImport, ml, w.energy_import_wh === undefined ? undefined : w.energy_import_wh * 3600);
      put(f.meterExport, ml, w.energy_export_wh === undefined ? undefined : w.energy_export_wh * 3600);
      put(f.volts, ml, w.voltage_v?.mean);
      put(f.amps, ml, w.current_a?.mean);
      put(f.pf, ml, w.pf?.mean);
    }
  }
  return Object.values(f);
}

const text = (status: number, body: string, contentType = 'text/plain; charset=utf-8'): RawReply => ({ status, contentType, body });

/** The four routes, for HttpServer's rawRoutes; `inputs` assembles the same state as /api/v1/health. */
export function operationsRoutes(live: LiveState, now: () => number, inputs: () => Omit<MetricsInputs, 'memory'>): Record<string, RawRoute> {
  return {
    '/metrics': () => {
      const { rss, heapUsed } = process.memoryUsage();
      return text(200, exposition(selfMetrics({ ...inputs(), memory: { rss, heapUsed } })), PROMETHEUS_CONTENT_TYPE);
    },
    '/metrics/fleet': () => text(200, exposition(fleetMetrics(live, now())), PROMETHEUS_CONTENT_TYPE),
    '/healthz': () => text(200, 'ok\n'),
    '/readyz': () => {
      const reasons = notReadyReasons(inputs());
      return reasons.length === 0 ? text(200, 'ready\n') : text(503, `not ready: ${reasons.join('; ')}\n`);
    },
  };
}
