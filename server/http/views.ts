/**
 * The JSON documents of the HTTP API, built from server state. Pure
 * functions of their inputs, so they are tested without sockets.
 */
import type { ProcessStatsSnapshot } from '../../cli/process-stats.js';
import type { LiveState } from '../core/live-state.js';
import type { RejectLog } from '../core/reject-log.js';
import type { PipelineCounters } from '../pipeline.js';
import type { StoreStats } from '../store/store.js';

/** GET /api/v1/fleet: every host and GPU with its latest values and status. */
export function fleetView(live: LiveState, now: number) {
  const summary = live.summary(now);
  const hosts = live
    .allHosts()
    .sort((a, b) => a.site.localeCompare(b.site) || a.host.localeCompare(b.host))
    .map((h) => ({
      site: h.site,
      host: h.host,
      state: h.state,
      stale: live.isStale(h, now),
      simulated: h.simulated,
      boot_id: h.bootId ?? null,
      version: h.version ?? null,
      sources: h.sources,
      last_window_ts: h.lastWindowTs ?? null,
      window_ms: h.windowMs ?? null,
      power_w: h.hostPower ?? null,
      windows: h.windows,
      late_windows: h.late,
      gpus: [...h.gpus.values()]
        .sort((a, b) => a.id.localeCompare(b.id))
        .map((g) => ({
          id: g.id,
          name: h.inventory.get(g.id)?.name ?? null,
          power_w: g.power_w ?? null,
          energy_mj: g.energy_mj ?? null,
          util_pct: g.util_pct ?? null,
          mem_used_mib: g.mem_used_mib ?? null,
          temp_c: g.temp_c ?? null,
          sm_clock_mhz: g.sm_clock_mhz ?? null,
          power_limit_w: g.power_limit_w ?? h.inventory.get(g.id)?.power_limit_w ?? null,
        })),
      meters: [...h.meters]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([id, m]) => ({
          id,
          kind: m.kind ?? null,
          name: m.name ?? null,
          last_window_ts: m.window?.ts ?? null,
          power_w: m.window?.power_w ?? null,
          energy_import_wh: m.window?.energy_import_wh ?? null,
          energy_export_wh: m.window?.energy_export_wh ?? null,
          voltage_v: m.window?.voltage_v ?? null,
          current_a: m.window?.current_a ?? null,
          pf: m.window?.pf ?? null,
        })),
    }));
  return { ts: now, simulated: summary.simulated, summary, hosts };
}

export interface HealthInputs {
  now: number;
  startedAt: number;
  version: string;
  rejects: RejectLog;
  pipeline: PipelineCounters;
  store: StoreStats;
  mqtt: { url: string; embedded: boolean; connected: boolean; received: number; reconnects: number };
  live: LiveState;
  ws: { clients: number; frames_skipped: number; disconnected_slow: number };
  delivery: { streams: number; duplicates: number; rejected_settled: number; lost_windows: number; acks_sent: number; acks_unsent: number };
  /** The alert engine: events, notifications, broken rules, and each webhook's sent and failed counts. */
  alerts?: unknown;
  /** The process: resident memory, V8 heap, and the event-loop delay of the last closed interval. */
  process?: ProcessStatsSnapshot;
}

/** GET /api/v1/health: rejects by reason, drops, store lag, and an overall state. */
export function healthView(h: HealthInputs) {
  const rejects = h.rejects.snapshot();
  const degraded = h.store.degraded || !h.mqtt.connected || h.pipeline.internal_errors > 0;
  return {
    status: degraded ? 'degraded' : 'ok',
    version: h.version,
    uptime_s: Math.round((h.now - h.startedAt) / 1000),
    mqtt: h.mqtt,
    ingest: { windows: h.pipeline.windows, meter_windows: h.pipeline.meter_windows, work_reports: h.pipeline.work_reports, job_events: h.pipeline.job_events, late_windows: h.pipeline.late, duplicates: h.pipeline.duplicates, internal_errors: h.pipeline.internal_errors },
    rejects: { total: rejects.total, by_reason: rejects.by_reason, recent: rejects.recent },
    drops: {
      store_buffer_rows: h.store.dropped_rows,
      store_refused_windows: h.pipeline.store_refused,
      host_limit_messages: h.live.droppedHostLimit,
      ws_frames_skipped: h.ws.frames_skipped,
    },
    delivery: h.delivery,
    store: h.store,
    ws: h.ws,
    ...(h.alerts !== undefined && { alerts: h.alerts }),
    ...(h.process !== undefined && { process: h.process }),
  };
}
