/**
 * Sends alert notifications to one webhook: a generic JSON document, or a
 * Slack-compatible `{ text }`. Delivery never blocks evaluation or ingest:
 * `deliver` only queues (a bounded queue; a full one drops the oldest and
 * counts it), a few requests run at once, each with a deadline, and a
 * failed one is retried with exponential backoff a bounded number of times.
 * Every outcome is counted for health.
 */
import type { AlertEvent } from './alert-state.js';
import type { WebhookTarget } from './rules-file.js';

const MAX_QUEUE = 1000;
const MAX_IN_FLIGHT = 4;
const MAX_ATTEMPTS = 6;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 60_000;

interface Pending {
  event: AlertEvent;
  attempt: number;
  dueAt: number;
}

export interface WebhookCounters {
  sent: number;
  failed_attempts: number;
  given_up: number;
  dropped: number;
  queued: number;
  last_error: string | null;
}

/** The JSON body for a target's format. */
export function webhookBody(e: AlertEvent, format: WebhookTarget['format']): unknown {
  if (format === 'slack') {
    const icon = e.to === 'resolved' ? ':white_check_mark:' : e.severity === 'critical' ? ':rotating_light:' : ':warning:';
    return { text: `${icon} [${e.to.toUpperCase()}] ${e.rule} (${e.severity}): ${e.message}` };
  }
  return { version: 1, source: 'kilowatch', status: e.to, rule: e.rule, severity: e.severity, key: e.key, target: e.target, value: e.value, at: e.at, message: e.message };
}

export class WebhookSink {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  readonly counters: WebhookCounters = { sent: 0, failed_attempts: 0, given_up: 0, dropped: 0, queued: 0, last_error: null };

  constructor(
    readonly target: WebhookTarget,
    private readonly now: () => number = Date.now,
    private readonly post: typeof fetch = fetch,
  ) {}

  deliver(event: AlertEvent): void {
    if (this.stopped) return;
    if (this.queue.length >= MAX_QUEUE) {
      this.queue.shift();
      this.counters.dropped += 1;
    }
    this.queue.push({ event, attempt: 0, dueAt: this.now() });
    this.pump();
  }

  private pump(): void {
    const now = this.now();
    while (this.inFlight < MAX_IN_FLIGHT) {
      const i = this.queue.findIndex((p) => p.dueAt <= now);
      if (i < 0) break;
      const [p] = this.queue.splice(i, 1);
      this.inFlight += 1;
      void this.send(p!).finally(() => {
        this.inFlight -= 1;
        this.pump();
      });
    }
    this.counters.queued = this.queue.length;
    // Wake up for the earliest retry.
    clearTimeout(this.timer);
    const next = Math.min(...this.queue.map((p) => p.dueAt));
    if (Number.isFinite(next) && !this.stopped) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      this.timer.unref();
    }
  }

  private async send(p: Pending): Promise<void> {
    try {
      const res = await this.post(this.target.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'kilowatch' },
        body: JSON.stringify(webhookBody(p.event, this.target.format)),
        signal: AbortSignal.timeout(this.target.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      this.counters.sent += 1;
    } catch (err) {
      this.counters.failed_attempts += 1;
      this.counters.last_error = `${this.target.url}: ${(err as Error).name === 'TimeoutError' ? `no answer in ${this.target.timeoutMs} ms` : (err as Error).message}`;
      if (p.attempt + 1 >= MAX_ATTEMPTS || this.stopped) {
        this.counters.given_up += 1;
        return;
      }
      this.queue.push({ ...p, attempt: p.attempt + 1, dueAt: this.now() + Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** p.attempt) });
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
