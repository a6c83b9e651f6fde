/**
 * The alert engine's state and the one state machine every rule shares
 * (pending -> firing -> resolved, with hysteresis, `for`, silences,
 * acknowledgements and inhibition). Pure: the engine (engine.ts) owns one
 * AlertState and passes it through; nothing here reads a clock or does I/O.
 */
import type { WsAlert, WsAlertEvent, WsAlertTarget } from '../../protocol/ws.js';
import type { Rule } from './rules.js';
import type { SiteIndex } from './site-index.js';

/** What an alert is about: its stable label (`gpu:dc/node-01/GPU-…`) and the names behind it (protocol/ws.ts). */
export type TargetRef = WsAlertTarget;

/** An active alert: what the WebSocket and the API show (protocol/ws.ts), and what the engine keeps beside it. */
export interface Alert extends WsAlert {
  /** When it was last evaluated (the window's end, or the server's clock). */
  lastAt: number;
  /** Whether its firing was sent out: only then is its resolution sent too. */
  notified: boolean;
}

export interface Silence {
  id: string;
  /** Exact rule id, or undefined for any. */
  rule?: string;
  /** A glob over target labels, or undefined for any. */
  target?: string;
  until: number;
  reason: string;
  by: string;
  created: number;
}

/** One transition, as stored in the history and sent out when `notify` is set (protocol/ws.ts). */
export type AlertEvent = WsAlertEvent;

export interface AlertState {
  rules: Rule[];
  site: SiteIndex;
  alerts: Map<string, Alert>;
  silences: Map<string, Silence>;
  /** Target label -> when its last live window arrived (server time): the no-data rules read it. */
  lastSeen: Map<string, number>;
  /** Hosts whose collector's Last Will said offline: their no-data alerts are inhibited. */
  offline: Set<string>;
  /** Per rule type, the rule-specific memory (rate rings, counters, seq numbers, group sums). */
  memory: RuleMemory;
  /** Rules that threw at run time, with the reason; they are skipped, the others go on. */
  broken: Map<string, string>;
}

export interface RuleMemory {
  /** Rate rules: per alert key, the recent window means (time, W). */
  rates: Map<string, { t: number[]; w: number[] }>;
  /** Per GPU label: the last energy counter and its window time. */
  counters: Map<string, { ts: number; mj: number }>;
  /** Per alert key: the last Xid code seen, so only a change fires. */
  xids: Map<string, number>;
  /** Per host stream (`site/host|boot`): the highest seq seen. */
  seqs: Map<string, { boot: string; seq: number }>;
  /** When a seq gap or a counter going backwards was last seen, per alert key: they resolve `clear_s` after. */
  lastEvent: Map<string, number>;
  /** Per host label: its latest mean power (W) and when it arrived (server time), for group budgets. */
  hostPower: Map<string, { w: number; at: number }>;
  /** Per meter (`host/meter`): its latest mean power (W, signed) and when it arrived. */
  meterPower: Map<string, { w: number; at: number }>;
}

export function emptyState(rules: Rule[], site: SiteIndex): AlertState {
  return {
    rules, site, alerts: new Map(), silences: new Map(), lastSeen: new Map(), offline: new Set(), broken: new Map(),
    memory: { rates: new Map(), counters: new Map(), xids: new Map(), seqs: new Map(), lastEvent: new Map(), hostPower: new Map(), meterPower: new Map() },
  };
}

/** One evaluation of a rule on a target: is the condition met, is it clear (hysteresis), and what value and message. */
export interface Verdict {
  met: boolean;
  /** At or below the clear level: a firing alert resolves. Defaults to !met. */
  clear?: boolean;
  value: number;
  message: string;
}

export function silencedBy(s: AlertState, rule: string, label: string, now: number): Silence | undefined {
  for (const x of s.silences.values()) {
    if (x.until <= now) continue;
    if ((x.rule === undefined || x.rule === rule) && (x.target === undefined || globLabel(x.target, label))) return x;
  }
  return undefined;
}

function globLabel(glob: string, label: string): boolean {
  if (!glob.includes('*')) return glob === label;
  return new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(label);
}

/**
 * Moves one (rule, target) through pending -> firing -> resolved on a
 * verdict at time `at`, and appends the transitions to `out`. A late
 * verdict is recorded (`late`) when it meets the condition, and changes
 * nothing: a replayed window never fires or resolves a live alert.
 */
export function judge(s: AlertState, rule: Rule, target: TargetRef, v: Verdict, at: number, now: number, late: boolean, out: AlertEvent[], inhibited = false): void {
  const key = `${rule.id}|${target.label}`;
  const a = s.alerts.get(key);
  const event = (from: AlertEvent['from'], to: AlertEvent['to'], notify: boolean, extra: Partial<AlertEvent> = {}) =>
    out.push({ key, rule: rule.id, severity: rule.severity, target, from, to, value: v.value, at, message: v.message, notify, ...extra });
  if (late) {
    if (v.met) event(a?.state ?? 'inactive', 'late', false);
    return;
  }
  const clear = v.clear ?? !v.met;
  if (!a) {
    if (!v.met) return;
    const fresh: Alert = { key, rule: rule.id, severity: rule.severity, target, state: 'pending', since: at, lastAt: at, value: v.value, message: v.message, notified: false, inhibited };
    s.alerts.set(key, fresh);
    event('inactive', 'pending', false);
    if (rule.for_s === 0) fire(s, fresh, at, now, event);
    return;
  }
  a.value = v.value;
  a.lastAt = at;
  a.message = v.message;
  a.inhibited = inhibited;
  if (clear) {
    s.alerts.delete(key);
    event(a.state, 'resolved', a.state === 'firing' && a.notified);
    return;
  }
  if (a.state === 'pending' && at - a.since >= rule.for_s * 1000) fire(s, a, at, now, event);
}

function fire(s: AlertState, a: Alert, at: number, now: number, event: (from: AlertEvent['from'], to: AlertEvent['to'], notify: boolean, extra?: Partial<AlertEvent>) => void): void {
  a.state = 'firing';
  a.since = at;
  const silence = silencedBy(s, a.rule, a.target.label, now);
  a.notified = !silence && !a.inhibited;
  event('pending', 'firing', a.notified, { ...(silence && { silenced: silence.id }), ...(a.inhibited && { inhibited: true }) });
}
