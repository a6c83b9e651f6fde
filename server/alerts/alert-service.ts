/**
 * The alert engine at the edge: it feeds the pure reducer (engine.ts) from
 * the ingest pipeline and a one-second tick, appends every transition and
 * operator action to the store's alert log, and hands notifications to
 * the UI (at once, outside the live views' coalescing), the webhooks and
 * MQTT. Delivery is fire-and-forget into bounded queues, so a slow or dead
 * target never holds up evaluation or ingest. At start the state (firing
 * alerts, acknowledgements, silences, API rules) is rebuilt from the log.
 */
import type { GpuWindow, MeterWindow } from '../../protocol/payloads.js';
import { encodeSegment } from '../../protocol/topics.js';
import type { AlertLogEntry, HistoryReader, WindowStore } from '../store/store.js';
import { type Alert, type AlertEvent, type AlertState, type Silence, emptyState } from './alert-state.js';
import { type AlertInput, acknowledge, addSilence, reduce, removeSilence } from './engine.js';
import { type Rule, parseRules } from './rules.js';
import type { RulesFile } from './rules-file.js';
import type { SiteIndex } from './site-index.js';
import type { UsageReader } from './budget-usage.js';
import { periodBounds } from './energy-budget.js';
import { WebhookSink } from './webhook.js';

export interface AlertServiceDeps {
  store: WindowStore & HistoryReader;
  site: SiteIndex;
  file: RulesFile;
  now: () => number;
  log: (line: string) => void;
  /** Retained MQTT state: a payload to set, '' to clear. False when the broker is not reachable now. */
  publishRetained?: (topic: string, payload: string) => boolean;
  prefix: string;
  /** Every live transition, for the UI. */
  onEvent?: (e: AlertEvent, active: Alert | undefined) => void;
  /** How far back the log is read at start; older records have no say in the current state. */
  restoreDays?: number;
  /** Energy budgets: the usage of jobs, users or projects over a range; without it they never fire. */
  usage?: UsageReader;
  /** The site's time zone: budget days and months are local. */
  timeZone?: string;
  /** How often energy budgets are read, ms (default a minute). */
  usageEveryMs?: number;
}

export interface AlertCounters {
  events: number;
  notifications: number;
  late_events: number;
  log_refused: number;
  mqtt_unsent: number;
  usage_errors: number;
}

/** `<prefix>/_alerts/<rule>/<target>` (protocol/README.md §5.8), each id percent-encoded as one segment (§3.2). */
export function alertTopic(prefix: string, rule: string, targetLabel: string): string {
  return `${prefix}/_alerts/${encodeSegment(rule)}/${encodeSegment(targetLabel)}`;
}

export class AlertService {
  private state: AlertState;
  private apiRules = new Map<string, Rule>();
  private webhooks: WebhookSink[] = [];
  private timer: NodeJS.Timeout | undefined;
  private usageTimer: NodeJS.Timeout | undefined;
  private readingUsage = false;
  readonly counters: AlertCounters = { events: 0, notifications: 0, late_events: 0, log_refused: 0, mqtt_unsent: 0, usage_errors: 0 };

  constructor(private readonly deps: AlertServiceDeps) {
    this.state = emptyState([], deps.site);
  }

  /** Rebuilds the state from the store's log and applies the rules file; before any window arrives. */
  async load(): Promise<void> {
    await this.restore();
    this.applyFile(this.deps.file, false);
  }

  /** Once the broker is connected: republish the firing alerts, and tick. */
  start(): void {
    // Retained state lives only in the embedded broker's memory: firing alerts go out again at every start.
    for (const a of this.state.alerts.values()) if (a.state === 'firing' && a.notified) this.publishMqtt(a.rule, a.target.label, a);
    this.timer = setInterval(() => this.put({ kind: 'tick' }), 1000);
    this.timer.unref();
    if (this.deps.usage) {
      void this.readUsage();
      this.usageTimer = setInterval(() => void this.readUsage(), this.deps.usageEveryMs ?? 60_000);
      this.usageTimer.unref();
    }
  }

  /** Reads each energy budget's usage in its current period; one reading at a time, a failure is logged and retried next time. */
  async readUsage(): Promise<void> {
    if (this.readingUsage || !this.deps.usage) return;
    this.readingUsage = true;
    try {
      const tz = this.deps.timeZone ?? 'UTC';
      for (const rule of this.state.rules) {
        if (rule.type !== 'energy_budget') continue;
        const now = this.deps.now();
        const bounds = periodBounds(now, rule.period, tz);
        const rows = await this.deps.usage(rule.scope, bounds.from, now).catch((err: Error) => {
          this.counters.usage_errors += 1;
          this.deps.log(`server: energy budget ${rule.id}: cannot read usage: ${err.message}`);
          return undefined;
        });
        if (rows) this.put({ kind: 'usage', rule: rule.id, rows, bounds, timeZone: tz });
      }
    } finally {
      this.readingUsage = false;
    }
  }

  stop(): void {
    clearInterval(this.timer);
    clearInterval(this.usageTimer);
    for (const w of this.webhooks) w.stop();
  }

  onGpuWindow(site: string, host: string, window: GpuWindow, late: boolean): void {
    this.put({ kind: 'gpu', site, host, window, late });
  }

  onMeterWindow(site: string, host: string, meter: string, window: MeterWindow, late: boolean): void {
    this.put({ kind: 'meter', site, host, meter, window, late });
  }

  forgetHost(site: string, host: string, by: string): void {
    this.put({ kind: 'forget', site, host });
    this.append({ ts: this.deps.now(), kind: 'host_forget', key: `${site}/${host}`, data: { site, host }, actor: by });
  }

  onStatus(site: string, host: string, online: boolean): void {
    this.put({ kind: 'status', site, host, online });
  }

  /** A new rules file (SIGHUP), already checked: its rules replace the file's, the API's stay. */
  reload(file: RulesFile, path: string, site?: SiteIndex): void {
    if (site) {
      // Rules are judged against the new site: its groups and sources, and the members the budgets sum.
      this.deps.site = site;
      this.state.site = site;
    }
    // Recorded as its diff, with the actor "config file" (the audit log).
    const before = new Map(this.deps.file.rules.map((r) => [r.id, JSON.stringify(r)]));
    const after = new Map(file.rules.map((r) => [r.id, JSON.stringify(r)]));
    const diff = {
      added: [...after.keys()].filter((id) => !before.has(id)),
      removed: [...before.keys()].filter((id) => !after.has(id)),
      changed: [...after.keys()].filter((id) => before.has(id) && before.get(id) !== after.get(id)),
      webhooks: { before: this.deps.file.webhooks.map((w) => w.url), after: file.webhooks.map((w) => w.url) },
    };
    this.append({ ts: this.deps.now(), kind: 'config_reload', key: path, data: diff, actor: 'config file' });
    this.applyFile(file, true);
  }

  private applyFile(file: RulesFile, log: boolean): void {
    this.deps.file = file;
    for (const w of this.webhooks) w.stop();
    this.webhooks = file.webhooks.map((t) => new WebhookSink(t, this.deps.now));
    this.setRules();
    if (log) this.deps.log(`server: alert rules reloaded: ${file.rules.length} from the file, ${this.apiRules.size} from the API, ${file.webhooks.length} webhook(s)`);
  }

  private setRules(): void {
    // Ids are unique across both sources: the file wins, and the API refuses a clash (putRule).
    const fileIds = new Set(this.deps.file.rules.map((r) => r.id));
    this.put({ kind: 'rules', rules: [...this.deps.file.rules, ...[...this.apiRules.values()].filter((r) => !fileIds.has(r.id))] });
  }

  private put(input: AlertInput): void {
    const { events } = reduce(this.state, input, this.deps.now());
    for (const e of events) this.emit(e);
  }

  private emit(e: AlertEvent): void {
    this.counters.events += 1;
    this.append({ ts: this.deps.now(), kind: 'transition', key: e.key, data: e });
    if (e.to === 'late') {
      this.counters.late_events += 1;
      return;
    }
    const active = this.state.alerts.get(e.key);
    this.deps.onEvent?.(e, active);
    if (!e.notify) return;
    this.counters.notifications += 1;
    for (const w of this.webhooks) w.deliver(e);
    this.publishMqtt(e.rule, e.target.label, e.to === 'resolved' ? undefined : active);
  }

  /** The retained state of §5.8: the ids not encoded, the watched field and threshold where the rule has them. */
  private publishMqtt(rule: string, label: string, a: Alert | undefined): void {
    const r = this.state.rules.find((x) => x.id === rule);
    const threshold = r?.type === 'threshold' ? { field: r.metric, threshold: r.above } : {};
    const payload = a ? JSON.stringify({ v: 1, rule, target: label, state: 'firing', since: a.since, ts: a.lastAt, severity: a.severity, ...threshold, value: a.value, message: a.message }) : '';
    if (!this.deps.publishRetained?.(alertTopic(this.deps.prefix, rule, label), payload)) this.counters.mqtt_unsent += 1;
  }

  /** Also the audit log's way in for token changes (admin socket). */
  append(entry: AlertLogEntry): void {
    const ok = this.deps.store.enqueue({ kind: 'alert', key: { site: '', host: '', stream: 'alerts', bootId: '' }, entry, receivedAt: entry.ts });
    if (!ok) this.counters.log_refused += 1;
  }

  /** Rebuilds alerts, acknowledgements, silences and API rules by replaying the log. */
  private async restore(): Promise<void> {
    const since = this.deps.now() - (this.deps.restoreDays ?? 30) * 86_400_000;
    const log = await this.deps.store.alertLog({ sinceMs: since });
    for (const r of log) {
      if (r.kind === 'transition') {
        const e = r.data as AlertEvent;
        if (e.to === 'resolved') this.state.alerts.delete(e.key);
        else if (e.to === 'pending' || e.to === 'firing') {
          const before = this.state.alerts.get(e.key);
          this.state.alerts.set(e.key, {
            key: e.key, rule: e.rule, severity: e.severity, target: e.target, state: e.to, since: e.at, lastAt: e.at, value: e.value, message: e.message,
            notified: e.to === 'firing' ? e.notify : false, inhibited: e.inhibited ?? false, ...(before?.acked && { acked: before.acked }),
          });
        }
      } else if (r.kind === 'ack') {
        const a = this.state.alerts.get(r.key);
        if (a) a.acked = r.data as Alert['acked'];
      } else if (r.kind === 'silence') addSilence(this.state, r.data as Silence);
      else if (r.kind === 'unsilence') removeSilence(this.state, r.key);
      else if (r.kind === 'rule_put') this.apiRules.set(r.key, r.data as Rule);
      else if (r.kind === 'rule_delete') this.apiRules.delete(r.key);
    }
    // The rules the restored alerts were judged by: an unchanged rule keeps its alerts when the real set is applied.
    this.state.rules = [...this.deps.file.rules, ...this.apiRules.values()];
  }

  acknowledge(key: string, by: string): boolean {
    const now = this.deps.now();
    if (!acknowledge(this.state, key, by, now)) return false;
    this.append({ ts: now, kind: 'ack', key, data: { by, at: now }, actor: by });
    const a = this.state.alerts.get(key)!;
    this.deps.onEvent?.({ key, rule: a.rule, severity: a.severity, target: a.target, from: a.state, to: a.state, value: a.value, at: now, message: a.message, notify: false }, a);
    return true;
  }

  silence(s: Omit<Silence, 'id' | 'created'>): Silence {
    const now = this.deps.now();
    const silence: Silence = { ...s, id: `s-${now.toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`, created: now };
    addSilence(this.state, silence);
    this.append({ ts: now, kind: 'silence', key: silence.id, data: silence, actor: silence.by });
    return silence;
  }

  unsilence(id: string, by: string): boolean {
    if (!removeSilence(this.state, id)) return false;
    this.append({ ts: this.deps.now(), kind: 'unsilence', key: id, data: {}, actor: by });
    return true;
  }

  /** Creates or replaces an API rule; problems name the field. A file rule's id cannot be taken. */
  putRule(raw: unknown, id: string | undefined, by: string): { ok: true; rule: Rule } | { ok: false; status: number; problems: string[] } {
    const body = id !== undefined && typeof raw === 'object' && raw !== null ? { ...raw, id } : raw;
    const parsed = parseRules([body], 'api', this.deps.site, 'rule');
    if (!parsed.ok) return { ok: false, status: 400, problems: parsed.problems.map((p) => p.replace(/^rule\[0\]/, 'rule')) };
    const rule = parsed.rules[0]!;
    if (this.deps.file.rules.some((r) => r.id === rule.id)) return { ok: false, status: 409, problems: [`rule "${rule.id}" comes from the rules file, which is read-only here`] };
    this.apiRules.set(rule.id, rule);
    this.append({ ts: this.deps.now(), kind: 'rule_put', key: rule.id, data: rule, actor: by });
    this.setRules();
    if (rule.type === 'energy_budget') void this.readUsage(); // judged now, not at the next minute
    return { ok: true, rule };
  }

  deleteRule(id: string, by: string): 'deleted' | 'read-only' | 'unknown' {
    if (this.deps.file.rules.some((r) => r.id === id)) return 'read-only';
    if (!this.apiRules.delete(id)) return 'unknown';
    this.append({ ts: this.deps.now(), kind: 'rule_delete', key: id, data: {}, actor: by });
    this.setRules();
    return 'deleted';
  }

  /** What the API and the UI show: active alerts, silences, rules (and which are broken). */
  view(): { active: Alert[]; silences: Silence[]; rules: (Rule & { broken?: string })[] } {
    const now = this.deps.now();
    return {
      active: [...this.state.alerts.values()].sort((a, b) => (a.state === b.state ? b.since - a.since : a.state === 'firing' ? -1 : 1)),
      silences: [...this.state.silences.values()].filter((s) => s.until > now),
      rules: this.state.rules.map((r) => (this.state.broken.has(r.id) ? { ...r, broken: this.state.broken.get(r.id)! } : r)),
    };
  }

  health(): AlertCounters & { active: number; firing: number; broken_rules: number; webhooks: (WebhookSink['counters'] & { url: string })[] } {
    const firing = [...this.state.alerts.values()].filter((a) => a.state === 'firing').length;
    return {
      ...this.counters, active: this.state.alerts.size, firing, broken_rules: this.state.broken.size,
      webhooks: this.webhooks.map((w) => ({ url: w.target.url, ...w.counters })),
    };
  }
}
