/**
 * Energy budgets: kWh or cost per job, user or project over a day or a
 * month (in the site's time zone), with a forecast. The usage so far is
 * read from the ledger about once a minute (alert-service.ts); this file
 * turns it into verdicts. Pure.
 *
 * The forecast is linear: usage over the elapsed part of the period,
 * carried to its end. It fires when the forecast passes the budget ("at
 * this rate project llm exceeds its monthly budget on the 23rd") and
 * resolves when the forecast falls below 95 % of it, so a project running
 * at its budget does not flap.
 */
import { type AlertEvent, type AlertState, judge } from './alert-state.js';
import type { EnergyBudgetRule } from './rules.js';
import { globMatch } from './rules.js';

export interface UsageRow {
  /** The job id, user or project. */
  key: string;
  kwh: number;
  /** In the site's currency; absent without a site file. */
  cost?: number;
}

const CLEAR_SHARE = 0.95;

/** Offset of a time zone from UTC at an instant, ms (positive east of Greenwich). */
function zoneOffset(ms: number, timeZone: string): number {
  const p = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(ms).map((x) => [x.type, Number(x.value)]),
  );
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - Math.floor(ms / 1000) * 1000;
}

/** The instant of a local wall-clock midnight (y, m0, d) in a time zone. */
function localMidnight(y: number, m0: number, d: number, timeZone: string): number {
  const guess = Date.UTC(y, m0, d);
  const first = guess - zoneOffset(guess, timeZone);
  return guess - zoneOffset(first, timeZone); // a second pass settles a DST change near midnight
}

/** [from, to) of the day or month holding `now`, local to the site. */
export function periodBounds(now: number, period: 'day' | 'month', timeZone: string): { from: number; to: number } {
  const local = new Date(now + zoneOffset(now, timeZone));
  const [y, m, d] = [local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate()];
  return period === 'day'
    ? { from: localMidnight(y, m, d, timeZone), to: localMidnight(y, m, d + 1, timeZone) }
    : { from: localMidnight(y, m, 1, timeZone), to: localMidnight(y, m + 1, 1, timeZone) };
}

/** Judges every matching row of one budget rule; `now` is inside [from, to). */
export function judgeUsage(s: AlertState, rule: EnergyBudgetRule, rows: readonly UsageRow[], bounds: { from: number; to: number }, now: number, timeZone: string, out: AlertEvent[]): void {
  const byCost = rule.cost !== undefined;
  const budget = (byCost ? rule.cost : rule.kwh)!;
  const elapsed = Math.max(1, now - bounds.from);
  const seen = new Set<string>();
  for (const r of rows) {
    if (!globMatch(rule.match, r.key)) continue;
    const used = byCost ? r.cost : r.kwh;
    if (used === undefined) continue;
    const label = `${rule.scope}:${r.key}`;
    seen.add(label);
    const forecast = used + (used / elapsed) * (bounds.to - now);
    const unit = byCost ? '' : ' kWh';
    const when = used >= budget ? 'has exceeded' : forecast > budget ? `at this rate exceeds it on ${day(bounds.from + (budget / used) * elapsed, timeZone)}` : 'is within it';
    const message = `${rule.scope} ${r.key}: ${amount(used)}${unit} of its ${rule.period === 'day' ? 'daily' : 'monthly'} budget of ${budget}${unit} (${((used / budget) * 100).toFixed(0)} %); ${when}`;
    judge(s, rule, { label }, { met: forecast > budget, clear: forecast <= budget * CLEAR_SHARE, value: (forecast / budget) * 100, message }, now, now, false, out);
  }
  // A key with no usage left in the period (a new month began) resolves.
  for (const a of [...s.alerts.values()]) {
    if (a.rule === rule.id && !seen.has(a.target.label)) judge(s, rule, a.target, { met: false, value: 0, message: `${a.target.label}: a new ${rule.period}` }, now, now, false, out);
  }
}

/** One decimal for everyday amounts, three significant digits for small ones (a job's first minutes). */
const amount = (v: number) => (Math.abs(v) >= 10 || v === 0 ? v.toFixed(1) : v.toPrecision(3));

function day(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(ms);
}
