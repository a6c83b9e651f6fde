/**
 * The rules over sums: power budgets of groups, the fleet and power
 * sources, and the drift of a group's meters against its GPUs. A budget
 * reads the summed *mean* power of its members (a sum of peaks is an upper
 * bound, never a reason to page anyone), each member's latest window.
 * Members that stopped reporting drop out of the sum (see `prune`). Pure.
 */
import { type AlertEvent, type AlertState, judge } from './alert-state.js';
import type { BudgetRule, DriftRule, Rule } from './rules.js';

const STALE_HOST_MS = 30_000;
const STALE_METER_MS = 120_000;

const kw = (w: number) => `${(w / 1000).toFixed(2)} kW`;

/** The summed latest mean power of a group's hosts (or every host, for the fleet), and how many reported. */
export function groupPower(s: AlertState, group: string | undefined): { w: number; hosts: number } {
  let w = 0;
  let hosts = 0;
  const members = group === undefined ? undefined : s.site.members(group).hosts;
  for (const [label, p] of s.memory.hostPower) {
    if (members && !members.has(label) && !members.has(label.slice(label.indexOf('/') + 1))) continue;
    w += p.w;
    hosts += 1;
  }
  return { w, hosts };
}

function budget(s: AlertState, rule: BudgetRule, powerW: number, capacityKw: number, label: string, what: string, at: number, now: number, out: AlertEvent[]): void {
  const pct = (powerW / (capacityKw * 1000)) * 100;
  const message = `${what}: ${kw(powerW)} summed mean power is ${pct.toFixed(1)} % of its ${capacityKw} kW capacity (budget ${rule.above_pct} %)`;
  judge(s, rule, { label, ...(rule.target.group && { group: rule.target.group }), ...(rule.target.source && { source: rule.target.source }) }, { met: pct > rule.above_pct, clear: pct <= rule.clear_pct, value: pct, message }, at, now, false, out);
}

/** After a host's live window: the group and fleet budgets and drifts that include it. */
export function onHostPower(s: AlertState, siteHost: string, meanW: number, at: number, now: number, guard: (rule: Rule, run: () => void) => void, out: AlertEvent[]): void {
  s.memory.hostPower.set(siteHost, { w: meanW, at: now });
  const groups = s.site.groupsOf(siteHost);
  for (const rule of s.rules) {
    if (rule.type !== 'budget' || (rule.target.kind !== 'fleet' && !(rule.target.kind === 'group' && groups.includes(rule.target.group!)))) continue;
    guard(rule, () => {
      const { w } = groupPower(s, rule.target.kind === 'fleet' ? undefined : rule.target.group);
      budget(s, rule, w, rule.capacity_kw!, rule.target.kind === 'fleet' ? 'fleet' : `group:${rule.target.group}`, rule.target.kind === 'fleet' ? 'the fleet' : `group ${rule.target.group}`, at, now, out);
    });
  }
}

/** After a meter's live window: the budgets of the sources it measures, and the drift of the groups it measures. */
export function onMeterPower(s: AlertState, meter: string, meanW: number, at: number, now: number, guard: (rule: Rule, run: () => void) => void, out: AlertEvent[]): void {
  s.memory.meterPower.set(meter, { w: meanW, at: now });
  const sources = s.site.sourcesOf(meter);
  for (const rule of s.rules) {
    if (rule.type === 'budget' && rule.target.kind === 'source' && sources.includes(rule.target.source!)) {
      const source = rule.target.source!;
      guard(rule, () => budget(s, rule, meanW, rule.capacity_kw ?? s.site.sources.get(source)!.capacity_kw, `source:${source}`, `power source ${source}`, at, now, out));
    } else if (rule.type === 'drift' && s.site.members(rule.target.group!).meters.has(meter)) {
      guard(rule, () => drift(s, rule, at, now, out));
    }
  }
}

function drift(s: AlertState, rule: DriftRule, at: number, now: number, out: AlertEvent[]): void {
  const group = rule.target.group!;
  let metered = 0;
  for (const m of s.site.members(group).meters) {
    const p = s.memory.meterPower.get(m);
    if (!p) return; // a meter not heard from yet: no ratio
    metered += p.w;
  }
  const { w: gpus } = groupPower(s, group);
  if (gpus <= 0) return;
  const ratio = metered / gpus;
  const met = ratio < rule.min_ratio || ratio > rule.max_ratio;
  const message = `group ${group}: meters read ${kw(metered)} against ${kw(gpus)} of GPU power, a ratio of ${ratio.toFixed(2)} (band ${rule.min_ratio}-${rule.max_ratio})`;
  judge(s, rule, { label: `group:${group}`, group }, { met, value: ratio, message }, at, now, false, out);
}

/** Drops hosts and meters that stopped reporting from the sums: a dead host does not hold a budget up. */
export function pruneStale(s: AlertState, now: number): void {
  for (const [k, p] of s.memory.hostPower) if (now - p.at > STALE_HOST_MS) s.memory.hostPower.delete(k);
  for (const [k, p] of s.memory.meterPower) if (now - p.at > STALE_METER_MS) s.memory.meterPower.delete(k);
}
