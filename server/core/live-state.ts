/**
 * Live state per host and GPU: the latest window, status and inventory. Only
 * windows newer than the host's latest update it; older ones (replayed or
 * reordered) are counted as late and go to the store only, so they never
 * move the live views backwards or count twice in the fleet series.
 */
import type { GpuReading, GpuWindow, HostInfo, HostStatus, MeterWindow, Stat } from '../../protocol/payloads.js';
import type { FleetSummary } from '../../protocol/ws.js';
import { FleetHistory, type HostContribution } from './fleet-history.js';

export interface HostLive {
  site: string;
  host: string;
  state: 'online' | 'offline' | 'unknown';
  bootId?: string;
  version?: string;
  sources: string[];
  simulated: boolean;
  lastWindowTs?: number;
  windowMs?: number;
  lastSeenAt?: number;
  hostPower?: Stat;
  /** The latest reading of each GPU, as validated (kept by reference: no copy per window). */
  gpus: Map<string, GpuReading>;
  /** GPU names and limits from `info`, which windows do not repeat. */
  inventory: Map<string, { name?: string; power_limit_w?: number }>;
  windows: number;
  late: number;
  contribution?: HostContribution;
  /** Power meters of this host: the latest window of each, and kind and name from `info`. */
  meters: Map<string, MeterLive>;
}

export interface MeterLive {
  kind?: string;
  name?: string;
  window?: MeterWindow;
  lastSeenAt?: number;
}

/** Meters per host kept live; a host's `info` may list at most 1024 (protocol), and windows add none beyond it. */
const MAX_METERS_PER_HOST = 1024;

/** A host is stale when no window arrived for three window lengths plus this slack. */
const STALE_SLACK_MS = 5000;

export class LiveState {
  private readonly hosts = new Map<string, HostLive>();
  readonly history: FleetHistory;
  /** Messages from hosts beyond maxHosts, refused so the map stays bounded. */
  droppedHostLimit = 0;

  constructor(historySeconds: number, private readonly maxHosts = 100_000) {
    this.history = new FleetHistory(historySeconds);
  }

  private entry(site: string, host: string): HostLive | undefined {
    const key = `${site}\n${host}`;
    let h = this.hosts.get(key);
    if (!h) {
      if (this.hosts.size >= this.maxHosts) {
        this.droppedHostLimit += 1;
        return undefined;
      }
      h = { site, host, state: 'unknown', sources: [], simulated: false, gpus: new Map(), inventory: new Map(), windows: 0, late: 0, meters: new Map() };
      this.hosts.set(key, h);
    }
    return h;
  }

  /** Returns 'live' when the window updated live state, 'late' when it was older than the latest. */
  applyWindow(site: string, host: string, w: GpuWindow, now: number): 'live' | 'late' | 'dropped' {
    const h = this.entry(site, host);
    if (!h) return 'dropped';
    if (h.lastWindowTs !== undefined && w.ts <= h.lastWindowTs) {
      h.late += 1;
      return 'late';
    }
    h.windows += 1;
    h.lastWindowTs = w.ts;
    h.windowMs = w.window_ms;
    h.lastSeenAt = now;
    h.hostPower = w.host_power_w;
    for (const g of w.gpus) h.gpus.set(g.id, g);
    if (w.host_power_w) {
      h.contribution = this.history.add(w.ts, w.window_ms, w.host_power_w.mean, w.host_power_w.max, h.contribution);
    }
    return 'live';
  }

  /** Like applyWindow, per meter: an older window than the meter's latest is late and goes to the store only. */
  applyMeter(site: string, host: string, meter: string, w: MeterWindow, now: number): 'live' | 'late' | 'dropped' {
    const h = this.entry(site, host);
    if (!h) return 'dropped';
    let m = h.meters.get(meter);
    if (!m) {
      if (h.meters.size >= MAX_METERS_PER_HOST) return 'dropped';
      h.meters.set(meter, (m = {}));
    }
    if (m.window && w.ts <= m.window.ts) return 'late';
    m.window = w;
    m.lastSeenAt = now;
    return 'live';
  }

  applyStatus(site: string, host: string, s: HostStatus): void {
    const h = this.entry(site, host);
    if (!h) return;
    h.state = s.state;
    h.bootId = s.boot_id;
    h.version = s.version;
    h.sources = s.sources ?? [];
    if (h.sources.includes('sim')) h.simulated = true;
  }

  applyInfo(site: string, host: string, info: HostInfo): void {
    const h = this.entry(site, host);
    if (!h) return;
    h.simulated = info.simulated || h.sources.includes('sim');
    for (const g of info.gpus) {
      h.inventory.set(g.id, { name: g.name, power_limit_w: g.power_limit_w });
      if (!h.gpus.has(g.id)) h.gpus.set(g.id, { id: g.id });
    }
    for (const m of info.meters.slice(0, MAX_METERS_PER_HOST)) {
      const live = h.meters.get(m.id) ?? {};
      h.meters.set(m.id, { ...live, kind: m.kind, name: m.name });
    }
  }

  isStale(h: HostLive, now: number): boolean {
    if (h.lastSeenAt === undefined) return true;
    return now - h.lastSeenAt > 3 * (h.windowMs ?? 1000) + STALE_SLACK_MS;
  }

  /** A decommissioned host (`kilowatch host forget`): gone from every live view until it reports again. */
  forget(site: string, host: string): boolean {
    return this.hosts.delete(`${site}\n${host}`);
  }

  allHosts(): HostLive[] {
    return [...this.hosts.values()];
  }

  get hostCount(): number {
    return this.hosts.size;
  }

  summary(now: number): FleetSummary {
    let power = 0;
    let online = 0;
    let gpus = 0;
    let simulated = false;
    let ts: number | null = null;
    for (const h of this.hosts.values()) {
      gpus += h.gpus.size;
      simulated ||= h.simulated;
      if (h.state === 'online') online += 1;
      if (h.lastWindowTs !== undefined && (ts === null || h.lastWindowTs > ts)) ts = h.lastWindowTs;
      // Sum of means of fresh hosts (§3): a stale or offline host's last value is not "now".
      if (h.state !== 'offline' && h.hostPower && !this.isStale(h, now)) power += h.hostPower.mean;
    }
    return { power_w: power, hosts: this.hosts.size, online_hosts: online, gpus, simulated, ts };
  }
}
