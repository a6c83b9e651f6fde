/**
 * Reads the server's /api/v1/health once a second: the latest document (for
 * the sampler's event-loop figures and the faults' recovery checks), and
 * every state it was seen in, with when, so each fault can list the health
 * states it caused: ok, degraded (and why), or no answer at all.
 */
import type { ProcessStatsSnapshot } from '../../cli/process-stats.js';

// The parts of /api/v1/health the soak reads.
export interface Health {
  status: 'ok' | 'degraded';
  mqtt: { connected: boolean; received: number };
  ingest: { windows: number; internal_errors: number; duplicates: number };
  rejects: { total: number; by_reason: Record<string, number> };
  delivery: { lost_windows: number; duplicates: number };
  store: { degraded: boolean; last_error: string | null; pending_rows: number; written_rows: number; reopens?: number };
  process?: ProcessStatsSnapshot;
}

/** One word or phrase for a health document: what the report's "health states seen" column lists. */
export function stateOf(h: Health | undefined): string {
  if (!h) return 'no answer';
  if (h.status === 'ok') return 'ok';
  const why: string[] = [];
  if (h.store.degraded) why.push(`store: ${(h.store.last_error ?? 'failing').replace(/\s+/g, ' ').slice(0, 160)}`);
  if (!h.mqtt.connected) why.push('MQTT disconnected');
  if (h.ingest.internal_errors > 0) why.push(`${h.ingest.internal_errors} internal errors`);
  return `degraded (${why.join('; ') || 'no reason given'})`;
}

export class HealthWatch {
  latest?: Health;
  latestAt = 0;
  /** Each change of state: when, and the new state. */
  readonly changes: { at: number; state: string }[] = [];
  /** MQTT messages the server took in, summed over its incarnations (a restarted server counts from 0 again). */
  receivedTotal = 0;
  private lastReceived = 0;
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly url: () => string) {}

  start(everyMs = 1000): void {
    this.timer = setInterval(() => void this.poll(), everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async poll(): Promise<Health | undefined> {
    if (this.busy) return this.latest;
    this.busy = true;
    let h: Health | undefined;
    try {
      const res = await fetch(`${this.url()}/api/v1/health`, { signal: AbortSignal.timeout(3000) });
      h = res.ok ? ((await res.json()) as Health) : undefined;
    } catch {
      h = undefined;
    } finally {
      this.busy = false;
    }
    this.latest = h;
    this.latestAt = Date.now();
    if (h) {
      const r = h.mqtt.received;
      this.receivedTotal += r >= this.lastReceived ? r - this.lastReceived : r;
      this.lastReceived = r;
    }
    const state = stateOf(h);
    if (this.changes.at(-1)?.state !== state) this.changes.push({ at: this.latestAt, state });
    return h;
  }

  /** The states seen in [from, to]: the one in force at `from`, and every change until `to`. */
  statesBetween(from: number, to: number): string[] {
    const before = this.changes.filter((c) => c.at <= from).at(-1);
    const during = this.changes.filter((c) => c.at > from && c.at <= to);
    return [...new Set([...(before ? [before.state] : []), ...during.map((c) => c.state)])];
  }

  /** Polls until `ok` holds for the health document, or fails after `timeoutMs` naming what was seen last. */
  async until(ok: (h: Health) => boolean, timeoutMs: number, what: string): Promise<Health> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const h = await this.poll();
      if (h && ok(h)) return h;
      if (Date.now() > deadline) throw new Error(`${what}: not seen in ${Math.round(timeoutMs / 1000)} s; last health: ${stateOf(h)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
