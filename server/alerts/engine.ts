/**
 * The alert engine: a pure reducer `(state, input, now) -> {state, events}`
 * evaluated on every arriving window, with no polling interval. A `tick`
 * input (once a second) evaluates what only time can change: no data, the
 * end of a seq gap or counter alert, silences running out. The state is
 * updated in place and returned (10,000 GPUs a second leave no room for
 * copies); nothing here reads a clock or does I/O, so every transition is
 * tested with a fake clock (test/server/alerts/).
 *
 * A rule that throws at run time (its target vanished from a reloaded site
 * file, say) is marked broken with its reason and skipped; the others go on.
 */
import type { GpuWindow, MeterWindow } from '../../protocol/payloads.js';
import { type AlertEvent, type AlertState, type Silence, judge } from './alert-state.js';
import { type UsageRow, judgeUsage } from './energy-budget.js';
import { globMatch, type NoDataRule, type Rule } from './rules.js';
import { onHostPower, onMeterPower, pruneStale } from './site-rules.js';
import { type Matcher, gpuRef, hostPower, hostRef, onGpuWindow } from './window-rules.js';

export type AlertInput =
  | { kind: 'gpu'; site: string; host: string; window: GpuWindow; late: boolean }
  | { kind: 'meter'; site: string; host: string; meter: string; window: MeterWindow; late: boolean }
  /** The collector's retained status: `offline` is its Last Will. */
  | { kind: 'status'; site: string; host: string; online: boolean }
  | { kind: 'tick' }
  /** A decommissioned host: its alerts resolve and its memory goes. */
  | { kind: 'forget'; site: string; host: string }
  | { kind: 'rules'; rules: Rule[] }
  /** An energy budget's usage so far in its period, read from the ledger (energy-budget.ts). */
  | { kind: 'usage'; rule: string; rows: UsageRow[]; bounds: { from: number; to: number }; timeZone: string };

export function reduce(s: AlertState, input: AlertInput, now: number): { state: AlertState; events: AlertEvent[] } {
  const out: AlertEvent[] = [];
  const guard = (rule: Rule, run: () => void) => {
    if (s.broken.has(rule.id)) return;
    try {
      run();
    } catch (err) {
      s.broken.set(rule.id, (err as Error).message);
    }
  };
  switch (input.kind) {
    case 'gpu': {
      const { site, host, window: w, late } = input;
      // The hot path: every GPU window of the fleet. Only the memory some rule reads is kept.
      const types = ruleTypes(s.rules);
      if (types.size === 0) break;
      if (!late && types.has('no_data')) {
        s.lastSeen.set(hostRef(site, host).label, now);
        for (const g of w.gpus) s.lastSeen.set(gpuRef(site, host, g.id).label, now);
        resolveNoData(s, site, host, w, now, guard, out);
      }
      onGpuWindow(s, site, host, w, late, now, matcher(s), guard, out);
      const p = !late && (types.has('budget') || types.has('drift')) ? hostPower(w) : undefined;
      if (p) onHostPower(s, `${site}/${host}`, p.mean, w.ts + w.window_ms, now, guard, out);
      break;
    }
    case 'meter': {
      const mean = input.window.power_w?.mean;
      if (mean !== undefined && !input.late) onMeterPower(s, `${input.host}/${input.meter}`, mean, input.window.ts + input.window.window_ms, now, guard, out);
      break;
    }
    case 'status':
      onStatus(s, input.site, input.host, input.online, now, guard, out);
      break;
    case 'tick':
      tick(s, now, guard, out);
      break;
    case 'forget':
      forget(s, input.site, input.host, now, out);
      break;
    case 'rules':
      setRules(s, input.rules, now, out);
      break;
    case 'usage': {
      const rule = s.rules.find((r) => r.id === input.rule);
      if (rule?.type === 'energy_budget') guard(rule, () => judgeUsage(s, rule, input.rows, input.bounds, now, input.timeZone, out));
      break;
    }
  }
  return { state: s, events: out };
}

/** The rule types of a rule set, cached per set (a new set is a new array). */
const typesOf = new WeakMap<readonly Rule[], ReadonlySet<Rule['type']>>();
function ruleTypes(rules: readonly Rule[]): ReadonlySet<Rule['type']> {
  let t = typesOf.get(rules);
  if (!t) typesOf.set(rules, (t = new Set(rules.map((r) => r.type))));
  return t;
}

/** Rule matches per target, cached: the hot path asks once per GPU per rule per window. */
const matches = new WeakMap<Rule, Map<string, boolean>>();
function matcher(_s: AlertState): Matcher {
  return (rule, site, host, gpu) => {
    let cache = matches.get(rule);
    if (!cache) matches.set(rule, (cache = new Map()));
    const k = gpu === undefined ? `${site}/${host}` : `${site}/${host}/${gpu}`;
    let m = cache.get(k);
    if (m === undefined) {
      const t = rule.target;
      m = globMatch(t.site, site) && globMatch(t.host, host) && (gpu === undefined || globMatch(t.gpu, gpu));
      if (cache.size < 200_000) cache.set(k, m);
    }
    return m;
  };
}

function resolveNoData(s: AlertState, site: string, host: string, w: GpuWindow, now: number, guard: (rule: Rule, run: () => void) => void, out: AlertEvent[]): void {
  for (const rule of s.rules) {
    if (rule.type !== 'no_data') continue;
    const refs = rule.target.kind === 'host' ? [hostRef(site, host)] : w.gpus.map((g) => gpuRef(site, host, g.id));
    for (const ref of refs) {
      if (s.alerts.has(`${rule.id}|${ref.label}`)) guard(rule, () => judge(s, rule, ref, { met: false, value: 0, message: `${ref.label}: data again` }, now, now, false, out));
    }
  }
}

function onStatus(s: AlertState, site: string, host: string, online: boolean, now: number, guard: (rule: Rule, run: () => void) => void, out: AlertEvent[]): void {
  const ref = hostRef(site, host);
  if (online) s.offline.delete(ref.label);
  else s.offline.add(ref.label);
  const m = matcher(s);
  for (const rule of s.rules) {
    if (rule.type !== 'offline' || !m(rule, site, host)) continue;
    guard(rule, () => judge(s, rule, ref, { met: !online, value: online ? 0 : 1, message: `${ref.label}: collector ${online ? 'online again' : 'offline (Last Will)'}` }, now, now, false, out));
  }
  // Inhibition: while the host is offline its no-data alerts are a consequence, not news.
  for (const a of s.alerts.values()) if (a.target.site === site && a.target.host === host && s.rules.find((r) => r.id === a.rule)?.type === 'no_data') a.inhibited = !online;
}

function tick(s: AlertState, now: number, guard: (rule: Rule, run: () => void) => void, out: AlertEvent[]): void {
  const m = matcher(s);
  for (const rule of s.rules) {
    if (rule.type === 'no_data') guard(rule, () => noData(s, rule, now, m, out));
    if (rule.type === 'seq_gap' || rule.type === 'counter_backwards' || rule.type === 'xid') {
      // They fire on an event and resolve once clear_s passes without another.
      for (const a of [...s.alerts.values()]) {
        if (a.rule !== rule.id) continue;
        const last = s.memory.lastEvent.get(a.key) ?? 0;
        if (now - last >= rule.clear_s * 1000) guard(rule, () => judge(s, rule, a.target, { met: false, value: 0, message: `${a.target.label}: none for ${rule.clear_s} s` }, now, now, false, out));
      }
    }
  }
  for (const [id, x] of s.silences) if (x.until <= now) s.silences.delete(id);
  pruneStale(s, now);
}

function noData(s: AlertState, rule: NoDataRule, now: number, m: Matcher, out: AlertEvent[]): void {
  const prefix = `${rule.target.kind}:`;
  for (const [label, last] of s.lastSeen) {
    if (!label.startsWith(prefix)) continue;
    const [site, host, gpu] = label.slice(prefix.length).split('/') as [string, string, string | undefined];
    if (!m(rule, site, host, gpu)) continue;
    const silentS = (now - last) / 1000;
    const ref = gpu === undefined ? hostRef(site, host) : gpuRef(site, host, gpu);
    if (silentS <= rule.after_s && !s.alerts.has(`${rule.id}|${label}`)) continue;
    judge(s, rule, ref, { met: silentS > rule.after_s, value: silentS, message: `${label}: no data for ${silentS.toFixed(0)} s` }, now, now, false, out, s.offline.has(`host:${site}/${host}`));
  }
}

function forget(s: AlertState, site: string, host: string, now: number, out: AlertEvent[]): void {
  for (const a of [...s.alerts.values()]) {
    if (a.target.site !== site || a.target.host !== host) continue;
    s.alerts.delete(a.key);
    out.push({ key: a.key, rule: a.rule, severity: a.severity, target: a.target, from: a.state, to: 'resolved', value: a.value, at: now, message: `${a.target.label}: host forgotten`, notify: a.notified });
  }
  const prefix = [`host:${site}/${host}`, `gpu:${site}/${host}/`];
  for (const label of [...s.lastSeen.keys()]) if (label === prefix[0] || label.startsWith(prefix[1]!)) s.lastSeen.delete(label);
  s.memory.hostPower.delete(`${site}/${host}`);
  s.offline.delete(prefix[0]!);
}

/** A new rule set (reload or API change): alerts of rules that are gone, or changed, resolve; their memory is dropped. */
function setRules(s: AlertState, rules: Rule[], now: number, out: AlertEvent[]): void {
  const next = new Map(rules.map((r) => [r.id, r]));
  for (const a of [...s.alerts.values()]) {
    const before = s.rules.find((r) => r.id === a.rule);
    const after = next.get(a.rule);
    if (before && (!after || JSON.stringify(after) !== JSON.stringify(before))) {
      s.alerts.delete(a.key);
      out.push({ key: a.key, rule: a.rule, severity: a.severity, target: a.target, from: a.state, to: 'resolved', value: a.value, at: now, message: `${a.target.label}: rule ${after ? 'changed' : 'removed'}`, notify: a.notified });
    }
  }
  s.rules = rules;
  s.broken.clear();
}

/** An operator acknowledges a firing or pending alert; false when there is none by that key. */
export function acknowledge(s: AlertState, key: string, by: string, now: number): boolean {
  const a = s.alerts.get(key);
  if (!a) return false;
  a.acked = { by, at: now };
  return true;
}

export function addSilence(s: AlertState, silence: Silence): void {
  s.silences.set(silence.id, silence);
}

export function removeSilence(s: AlertState, id: string): boolean {
  return s.silences.delete(id);
}
