/**
 * The rules evaluated on each GPU window of a host: thresholds (on the
 * window max, so a spike inside a window counts), rate of change, throttle
 * reasons, an energy counter going backwards, and seq gaps in the host's
 * stream. Pure: state in, transitions out (alert-state.ts).
 */
import type { GpuReading, GpuWindow } from '../../protocol/payloads.js';
import { type AlertEvent, type AlertState, type TargetRef, judge } from './alert-state.js';
import type { CounterBackwardsRule, RateRule, Rule, SeqGapRule, ThresholdRule, ThrottleRule, XidRule } from './rules.js';

/** Whether a rule's selector takes this target; the engine caches it per rule and target. */
export type Matcher = (rule: Rule, site: string, host: string, gpu?: string) => boolean;

const fmt = (w: number) => (Math.abs(w) >= 1000 ? `${(w / 1000).toFixed(2)} kW` : `${w.toFixed(1)} W`);

export function gpuRef(site: string, host: string, gpu: string): TargetRef {
  return { label: `gpu:${site}/${host}/${gpu}`, site, host, gpu };
}

export function hostRef(site: string, host: string): TargetRef {
  return { label: `host:${site}/${host}`, site, host };
}

/** The host's power in one window: the edge's per-sample sum when present (its max is a true peak), else the GPUs' sums. */
export function hostPower(w: GpuWindow): { mean: number; max: number; limit: number | undefined } | undefined {
  let mean = 0;
  let max = 0;
  let limit: number | undefined = 0;
  let any = false;
  for (const g of w.gpus) {
    if (!g.power_w) continue;
    any = true;
    mean += g.power_w.mean;
    max += g.power_w.max; // an upper bound: the GPUs' peaks need not coincide
    limit = g.power_limit_w === undefined || limit === undefined ? undefined : limit + g.power_limit_w;
  }
  if (w.host_power_w) return { mean: w.host_power_w.mean, max: w.host_power_w.max, limit: any ? limit : undefined };
  return any ? { mean, max, limit } : undefined;
}

function thresholdValue(rule: ThresholdRule, max: number | undefined, limit: number | undefined, temp: number | undefined): number | undefined {
  if (rule.metric === 'temp_c') return temp;
  if (max === undefined) return undefined;
  if (rule.metric === 'power_w') return max;
  return limit ? (max / limit) * 100 : undefined;
}

function threshold(s: AlertState, rule: ThresholdRule, ref: TargetRef, value: number | undefined, at: number, now: number, late: boolean, out: AlertEvent[]): void {
  if (value === undefined) return; // absent data neither fires nor clears
  const unit = rule.metric === 'temp_c' ? ' °C' : rule.metric === 'power_pct_limit' ? ' % of the power limit' : '';
  const shown = rule.metric === 'power_w' ? fmt(value) : `${value.toFixed(1)}${unit}`;
  const message = `${ref.label}: ${rule.metric === 'temp_c' ? 'temperature' : 'power'} ${shown} (window max) ${value > rule.above ? 'above' : 'back from'} ${rule.metric === 'power_w' ? fmt(rule.above) : `${rule.above}${unit}`}`;
  judge(s, rule, ref, { met: value > rule.above, clear: value <= rule.clear, value, message }, at, now, late, out);
}

function rate(s: AlertState, rule: RateRule, ref: TargetRef, mean: number | undefined, at: number, now: number, late: boolean, out: AlertEvent[]): void {
  if (mean === undefined || late) return; // a replayed window says nothing about a rise happening now
  const key = `${rule.id}|${ref.label}`;
  let ring = s.memory.rates.get(key);
  if (!ring) s.memory.rates.set(key, (ring = { t: [], w: [] }));
  while (ring.t.length > 0 && (ring.t[0]! < at - rule.within_s * 1000 || ring.t.length > 3600)) {
    ring.t.shift();
    ring.w.shift();
  }
  const low = ring.w.length > 0 ? Math.min(...ring.w) : mean;
  ring.t.push(at);
  ring.w.push(mean);
  const rise = mean - low;
  judge(s, rule, ref, { met: rise > rule.rise_w, value: rise, message: `${ref.label}: power rose ${fmt(rise)} within ${rule.within_s} s (to ${fmt(mean)})` }, at, now, late, out);
}

function throttle(s: AlertState, rule: ThrottleRule, ref: TargetRef, g: GpuReading, at: number, now: number, late: boolean, out: AlertEvent[]): void {
  const active = rule.reasons.filter((r) => g.throttle?.includes(r));
  const message = active.length > 0 ? `${ref.label}: throttled (${active.join(', ')})` : `${ref.label}: no longer throttled`;
  judge(s, rule, ref, { met: active.length > 0, value: active.length, message }, at, now, late, out);
}

function counterBackwards(s: AlertState, rule: CounterBackwardsRule, ref: TargetRef, g: GpuReading, ts: number, at: number, now: number, out: AlertEvent[]): void {
  if (g.energy_mj === undefined) return;
  const key = `${rule.id}|${ref.label}`;
  const prev = s.memory.counters.get(key);
  if (prev && ts <= prev.ts) return; // late: compared only with what came before it in time
  s.memory.counters.set(key, { ts, mj: g.energy_mj });
  if (!prev || g.energy_mj >= prev.mj) return;
  s.memory.lastEvent.set(key, now);
  const dropJ = (prev.mj - g.energy_mj) / 1000;
  judge(s, rule, ref, { met: true, value: dropJ, message: `${ref.label}: energy counter went back ${dropJ.toFixed(0)} J (driver reload or reset)` }, at, now, false, out);
}

/**
 * The driver's last Xid code changed: a new error. The first code seen is a
 * baseline (it may be days old: the gauge keeps the last code until the
 * driver reloads), so only a change fires.
 */
function xid(s: AlertState, rule: XidRule, ref: TargetRef, g: GpuReading, at: number, now: number, late: boolean, out: AlertEvent[]): void {
  if (g.xid === undefined || late) return;
  const key = `${rule.id}|${ref.label}`;
  const prev = s.memory.xids.get(key);
  s.memory.xids.set(key, g.xid);
  if (prev === undefined || prev === g.xid) return;
  s.memory.lastEvent.set(key, now);
  judge(s, rule, ref, { met: true, value: g.xid, message: `${ref.label}: Xid ${g.xid} reported by the driver (was ${prev})` }, at, now, false, out);
}

function seqGap(s: AlertState, rule: SeqGapRule, ref: TargetRef, w: GpuWindow, at: number, now: number, out: AlertEvent[]): void {
  const key = `${rule.id}|${ref.label}`;
  const prev = s.memory.seqs.get(key);
  if (prev && prev.boot === w.boot_id && w.seq <= prev.seq) return; // a resend filling an earlier hole
  s.memory.seqs.set(key, { boot: w.boot_id, seq: w.seq });
  if (!prev || prev.boot !== w.boot_id || w.seq === prev.seq + 1) return;
  const missing = w.seq - prev.seq - 1;
  s.memory.lastEvent.set(key, now);
  judge(s, rule, ref, { met: true, value: missing, message: `${ref.label}: ${missing} window(s) missing before seq ${w.seq} of the gpu stream` }, at, now, false, out);
}

/** Evaluates every window rule on one host's GPU window; `guard` runs each rule so one that throws is marked broken. */
export function onGpuWindow(s: AlertState, site: string, host: string, w: GpuWindow, late: boolean, now: number, match: Matcher, guard: (rule: Rule, run: () => void) => void, out: AlertEvent[]): void {
  const at = w.ts + w.window_ms;
  const href = hostRef(site, host);
  const hp = hostPower(w);
  for (const rule of s.rules) {
    guard(rule, () => {
      if (rule.target.kind === 'host') {
        if (!match(rule, site, host)) return;
        if (rule.type === 'threshold') {
          const temp = w.gpus.reduce<number | undefined>((m, g) => (g.temp_c && (m === undefined || g.temp_c.max > m) ? g.temp_c.max : m), undefined);
          threshold(s, rule, href, thresholdValue(rule, hp?.max, hp?.limit, temp), at, now, late, out);
        } else if (rule.type === 'rate') rate(s, rule, href, hp?.mean, at, now, late, out);
        else if (rule.type === 'seq_gap' && !late) seqGap(s, rule, href, w, at, now, out);
        return;
      }
      if (rule.target.kind !== 'gpu') return;
      for (const g of w.gpus) {
        if (!match(rule, site, host, g.id)) continue;
        const ref = gpuRef(site, host, g.id);
        if (rule.type === 'threshold') threshold(s, rule, ref, thresholdValue(rule, g.power_w?.max, g.power_limit_w, g.temp_c?.max), at, now, late, out);
        else if (rule.type === 'rate') rate(s, rule, ref, g.power_w?.mean, at, now, late, out);
        else if (rule.type === 'throttle') throttle(s, rule, ref, g, at, now, late, out);
        else if (rule.type === 'counter_backwards') counterBackwards(s, rule, ref, g, w.ts, at, now, out);
        else if (rule.type === 'xid') xid(s, rule, ref, g, at, now, late, out);
      }
    });
  }
}
