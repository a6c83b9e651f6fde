/**
 * Active alerts shaped for display: checking what the WebSocket sends,
 * applying one transition to the list, ordering, counting by severity, and
 * short names for long target labels. Pure; tested in
 * test/web/alerts-view.test.ts.
 */
import type { WsAlert, WsAlertEvent, WsAlertTarget } from '../../../protocol/ws.js';
import { isNumber, sig3 } from './format-energy.js';
import { formatWatts } from './format-values.js';

export type Severity = WsAlert['severity'];

/** Most severe first: the order of the banner's counts and of the table. */
export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function isTarget(x: unknown): x is WsAlertTarget {
  return isObject(x) && typeof x.label === 'string';
}

function isSeverity(x: unknown): x is Severity {
  return x === 'critical' || x === 'warning' || x === 'info';
}

/** The fields the views read; anything else is counted as rejected by the store, never thrown. */
export function isWsAlert(x: unknown): x is WsAlert {
  return (
    isObject(x) &&
    typeof x.key === 'string' &&
    typeof x.rule === 'string' &&
    isSeverity(x.severity) &&
    isTarget(x.target) &&
    (x.state === 'pending' || x.state === 'firing') &&
    isNumber(x.since) &&
    typeof x.message === 'string'
  );
}

export function isWsAlertEvent(x: unknown): x is WsAlertEvent {
  return (
    isObject(x) &&
    typeof x.key === 'string' &&
    typeof x.rule === 'string' &&
    isSeverity(x.severity) &&
    isTarget(x.target) &&
    typeof x.from === 'string' &&
    typeof x.to === 'string' &&
    isNumber(x.at)
  );
}

/** Firing before pending, then most severe, then newest; the key keeps equal ones in a stable order. */
export function compareAlerts(a: WsAlert, b: WsAlert): number {
  if (a.state !== b.state) return a.state === 'firing' ? -1 : 1;
  if (a.severity !== b.severity) return SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
  if (a.since !== b.since) return b.since - a.since;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * Applies one transition to a keyed map of active alerts, in place (the
 * store batches a burst into one new array). `active` is the alert after the
 * transition, null once resolved; an acknowledgement arrives as an event
 * whose `to` equals its `from`, with the acknowledged alert. A `late` event
 * changes no live alert.
 */
export function applyAlertEvent(byKey: Map<string, WsAlert>, event: WsAlertEvent, active: WsAlert | null): void {
  if (event.to === 'late') return;
  if (active === null || event.to === 'resolved') byKey.delete(event.key);
  else byKey.set(active.key, active);
}

export function sortedAlerts(alerts: Iterable<WsAlert>): WsAlert[] {
  return [...alerts].sort(compareAlerts);
}

export interface FiringSummary {
  /** Firing alerts that are not inhibited, per severity. */
  counts: Record<Severity, number>;
  total: number;
  /** Of those, how many someone acknowledged. */
  acked: number;
  /** Firing, but suppressed by a firing cause (a no-data alert of an offline host). */
  inhibited: number;
  pending: number;
  /** The firing alert that started last. */
  newest: WsAlert | null;
  /** The most severe level that fires, for the banner's colour. */
  worst: Severity | null;
}

export function firingSummary(alerts: readonly WsAlert[]): FiringSummary {
  const counts: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  let total = 0;
  let acked = 0;
  let inhibited = 0;
  let pending = 0;
  let newest: WsAlert | null = null;
  for (const a of alerts) {
    if (a.state === 'pending') {
      pending++;
      continue;
    }
    if (a.inhibited) {
      inhibited++;
      continue;
    }
    counts[a.severity]++;
    total++;
    if (a.acked) acked++;
    if (newest === null || a.since > newest.since || (a.since === newest.since && a.key < newest.key)) newest = a;
  }
  const worst = SEVERITIES.find((s) => counts[s] > 0) ?? null;
  return { counts, total, acked, inhibited, pending, newest, worst };
}

/** "2 critical · 5 warning": the severities that fire, most severe first. */
export function formatCounts(counts: Record<Severity, number>): string {
  return SEVERITIES.filter((s) => counts[s] > 0)
    .map((s) => `${counts[s]} ${s}`)
    .join(' · ');
}

/** A GPU's UUID cut to its first block (`GPU-55d2dbc7`), enough to tell the GPUs of one host apart. */
export function shortGpu(gpu: string): string {
  const m = /^(GPU-|MIG-)?([0-9a-f]{8})-[0-9a-f-]{20,}$/i.exec(gpu);
  return m ? `${m[1] ?? ''}${m[2]}` : gpu;
}

/**
 * A target label short enough for a table cell: `gpu:dc/node-1/GPU-55d2…`
 * reads "node-1 · GPU-55d2dbc7", a host "node-1"; groups, sources and the
 * fleet keep their label. The full label goes in the cell's title.
 */
export function shortTarget(t: WsAlertTarget): string {
  if (t.gpu && t.host) return `${t.host} · ${shortGpu(t.gpu)}`;
  if (t.host) return t.host;
  if (t.group) return `group ${t.group}`;
  if (t.source) return `source ${t.source}`;
  return t.label;
}

/** The rule fields the value's unit depends on. */
export interface RuleUnitHint {
  type: string;
  metric?: unknown;
}

/**
 * An alert's value with its unit, which depends on the rule that measured
 * it (server/alerts: a threshold reads the metric, a budget its share of
 * capacity, no-data its seconds of silence). Unknown rules get the bare number.
 */
export function formatAlertValue(value: number | null | undefined, rule?: RuleUnitHint): string {
  if (!isNumber(value)) return '—';
  switch (rule?.type) {
    case 'threshold':
      if (rule.metric === 'power_pct_limit') return `${sig3(value)} % of limit`;
      if (rule.metric === 'temp_c') return `${sig3(value)} °C`;
      return formatWatts(value);
    case 'rate':
      return `+${formatWatts(value)}`;
    case 'budget':
      return `${sig3(value)} % of capacity`;
    case 'energy_budget':
      return `${sig3(value)} % of budget (forecast)`;
    case 'no_data':
      return `${Math.round(value)} s silent`;
    case 'offline':
      return value > 0 ? 'offline' : 'online';
    case 'seq_gap':
      return `${Math.round(value)} window${Math.round(value) === 1 ? '' : 's'} missing`;
    case 'counter_backwards':
      return `−${sig3(value)} J`;
    case 'throttle':
      return `${Math.round(value)} reason${Math.round(value) === 1 ? '' : 's'}`;
    case 'drift':
      return `${value.toFixed(2)}× meter / GPU`;
    default:
      return sig3(value);
  }
}

/** "pending → firing"; an acknowledgement (from = to) reads as one. */
export function formatTransition(e: Pick<WsAlertEvent, 'from' | 'to'>): string {
  if (e.from === e.to) return `${e.to} (acknowledged)`;
  return `${e.from} → ${e.to}`;
}

/** The flags of a stored transition, in words, for the history table. */
export function transitionFlags(e: Pick<WsAlertEvent, 'to' | 'silenced' | 'inhibited'>): string[] {
  const flags: string[] = [];
  if (e.to === 'late') flags.push('late');
  if (e.silenced) flags.push('silenced');
  if (e.inhibited) flags.push('inhibited');
  return flags;
}

/** True when `label` matches a silence's glob (`*` is any run of characters), as the server judges it. */
export function globMatches(glob: string, label: string): boolean {
  if (!glob.includes('*')) return glob === label;
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(label);
}

/** The server's messages start with the target label, which the table shows in its own column. */
export function messageWithoutTarget(message: string, label: string): string {
  return message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message;
}
