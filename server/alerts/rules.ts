/**
 * Alert rules: their types, and the validation that turns a rule file or an
 * API body into rules or into problems that name the field. Pure.
 *
 *   rules:
 *     - id: gpu-over-limit
 *       type: threshold               # see RULE_TYPES
 *       target: { kind: gpu, host: "node-*" }
 *       metric: power_pct_limit       # threshold: power_w | power_pct_limit | temp_c
 *       above: 110                    # fires above this (the window max, so spikes count)
 *       clear: 100                    # resolves at or below this (hysteresis; default: above)
 *       for_s: 0                      # must hold this long before it fires
 *       severity: critical            # info | warning | critical
 */
import { THROTTLE_REASONS, type ThrottleReason } from '../../protocol/payloads.js';

export const RULE_TYPES = ['threshold', 'rate', 'budget', 'energy_budget', 'no_data', 'offline', 'seq_gap', 'counter_backwards', 'xid', 'throttle', 'drift'] as const;
export type RuleType = (typeof RULE_TYPES)[number];
export const TARGET_KINDS = ['gpu', 'host', 'group', 'source', 'fleet'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const THRESHOLD_METRICS = ['power_w', 'power_pct_limit', 'temp_c'] as const;
export type ThresholdMetric = (typeof THRESHOLD_METRICS)[number];

/** Which targets a rule watches. `site`, `host` and `gpu` are globs (`*` matches any run of characters). */
export interface TargetSelector {
  kind: TargetKind;
  site?: string;
  host?: string;
  gpu?: string;
  /** A group of the site file (group rules, and drift). */
  group?: string;
  /** A power source of the site file. */
  source?: string;
}

interface RuleBase {
  id: string;
  type: RuleType;
  target: TargetSelector;
  severity: Severity;
  /** The condition must hold this long before the alert fires (pending until then). */
  for_s: number;
  /** Where the rule comes from: `config` rules are read-only in the UI and API. */
  origin: 'config' | 'api';
  description?: string;
}

export interface ThresholdRule extends RuleBase { type: 'threshold'; metric: ThresholdMetric; above: number; clear: number }
/** Power rising more than `rise_w` within `within_s` (window means, so one spike does not count as a trend). */
export interface RateRule extends RuleBase { type: 'rate'; rise_w: number; within_s: number }
/** The summed mean power of a group, source or the fleet above a share of its capacity. */
export interface BudgetRule extends RuleBase { type: 'budget'; capacity_kw?: number; above_pct: number; clear_pct: number }
/** kWh or cost of each job, user or project (`match`: a glob) over a local day or month, with a linear forecast (energy-budget.ts). */
export interface EnergyBudgetRule extends RuleBase { type: 'energy_budget'; scope: 'job' | 'user' | 'project'; match: string; period: 'day' | 'month'; kwh?: number; cost?: number }
export interface NoDataRule extends RuleBase { type: 'no_data'; after_s: number }
export interface OfflineRule extends RuleBase { type: 'offline' }
/** Windows missing from a host's stream; resolves once `clear_s` passes without a new gap. */
export interface SeqGapRule extends RuleBase { type: 'seq_gap'; clear_s: number }
export interface CounterBackwardsRule extends RuleBase { type: 'counter_backwards'; clear_s: number }
/** A GPU's driver reported a new Xid error (the last code changed); resolves `clear_s` after. */
export interface XidRule extends RuleBase { type: 'xid'; clear_s: number }
export interface ThrottleRule extends RuleBase { type: 'throttle'; reasons: ThrottleReason[] }
/** A group's meter against the summed GPU power of its hosts: the ratio leaves [min_ratio, max_ratio]. */
export interface DriftRule extends RuleBase { type: 'drift'; min_ratio: number; max_ratio: number }

export type Rule = ThresholdRule | RateRule | BudgetRule | EnergyBudgetRule | NoDataRule | OfflineRule | SeqGapRule | CounterBackwardsRule | XidRule | ThrottleRule | DriftRule;

/** Which target kinds each rule type can watch. */
const KINDS_OF: Record<RuleType, readonly TargetKind[]> = {
  threshold: ['gpu', 'host'],
  rate: ['gpu', 'host'],
  budget: ['group', 'source', 'fleet'],
  energy_budget: ['fleet'],
  no_data: ['gpu', 'host'],
  offline: ['host'],
  seq_gap: ['host'],
  counter_backwards: ['gpu'],
  xid: ['gpu'],
  throttle: ['gpu'],
  drift: ['group'],
};

/** What the site file declares: group rules must name a group, source rules a source, that exists. */
export interface RuleContext {
  groups: ReadonlySet<string>;
  sources: ReadonlyMap<string, { capacity_kw: number }>;
}

export type RulesResult = { ok: true; rules: Rule[] } | { ok: false; problems: string[] };

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Validates a list of rules (a file's `rules:` or one API body as a list of one); every problem is listed. */
export function parseRules(raw: unknown, origin: Rule['origin'], ctx: RuleContext, where = 'rules'): RulesResult {
  if (!Array.isArray(raw)) return { ok: false, problems: [`${where} must be a list of rules`] };
  const problems: string[] = [];
  const rules: Rule[] = [];
  const seen = new Set<string>();
  raw.forEach((r, i) => {
    const rule = parseRule(r, origin, ctx, `${where}[${i}]`, problems);
    if (!rule) return;
    if (seen.has(rule.id)) problems.push(`${where}[${i}].id "${rule.id}" is used twice`);
    seen.add(rule.id);
    rules.push(rule);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, rules };
}

function parseRule(raw: unknown, origin: Rule['origin'], ctx: RuleContext, at: string, problems: string[]): Rule | undefined {
  if (!isObject(raw)) return void problems.push(`${at} must be an object`);
  const before = problems.length;
  const field = new Fields(raw, at, problems);
  const known = new Set(['id', 'type', 'target', 'severity', 'for_s', 'description', 'metric', 'above', 'clear', 'rise_w', 'within_s', 'capacity_kw', 'above_pct', 'clear_pct', 'after_s', 'clear_s', 'reasons', 'min_ratio', 'max_ratio', 'scope', 'match', 'period', 'kwh', 'cost']);
  for (const k of Object.keys(raw)) if (!known.has(k)) problems.push(`${at}.${k} is not a rule field`);
  const id = typeof raw.id === 'string' && ID.test(raw.id) ? raw.id : void problems.push(`${at}.id must be 1-64 characters of letters, digits, ".", "_" or "-"`);
  const type = field.oneOf('type', RULE_TYPES);
  const severity = raw.severity === undefined ? 'warning' : field.oneOf('severity', SEVERITIES);
  const forS = field.number('for_s', { min: 0, fallback: 0 });
  // An energy budget watches jobs, users or projects fleet-wide: its target may be left out.
  const rawTarget = type === 'energy_budget' && raw.target === undefined ? { kind: 'fleet' } : raw.target;
  const target = type ? parseTarget(rawTarget, type, ctx, `${at}.target`, problems) : undefined;
  const base = { id: id!, type: type!, target: target!, severity: severity!, for_s: forS!, origin, ...(typeof raw.description === 'string' && { description: raw.description }) };
  let rule: Rule | undefined;
  switch (type) {
    case 'threshold': {
      const above = field.number('above', {});
      rule = { ...base, type, metric: field.oneOf('metric', THRESHOLD_METRICS)!, above: above!, clear: field.number('clear', { fallback: above })! };
      if (above !== undefined && rule.clear > above) problems.push(`${at}.clear (${rule.clear}) must not be above ${at}.above (${above}): it is the level the alert resolves at`);
      break;
    }
    case 'rate':
      rule = { ...base, type, rise_w: field.number('rise_w', { min: 0, exclusive: true })!, within_s: field.number('within_s', { min: 0, exclusive: true, max: 3600 })! };
      break;
    case 'budget': {
      const abovePct = field.number('above_pct', { min: 0, exclusive: true });
      const capacity = field.number('capacity_kw', { min: 0, exclusive: true, optional: true });
      rule = { ...base, type, above_pct: abovePct!, clear_pct: field.number('clear_pct', { min: 0, fallback: abovePct })!, ...(capacity !== undefined && { capacity_kw: capacity }) };
      if (abovePct !== undefined && rule.clear_pct > abovePct) problems.push(`${at}.clear_pct must not be above ${at}.above_pct`);
      if (capacity === undefined && target && target.kind !== 'source') problems.push(`${at}.capacity_kw is required for a ${target.kind} budget (a source's comes from the site file)`);
      break;
    }
    case 'energy_budget': {
      const kwh = field.number('kwh', { min: 0, exclusive: true, optional: true });
      const cost = field.number('cost', { min: 0, exclusive: true, optional: true });
      if ((kwh === undefined) === (cost === undefined)) problems.push(`${at}: give the budget as kwh or as cost (one of them)`);
      const match = raw.match === undefined ? '*' : typeof raw.match === 'string' && raw.match !== '' ? raw.match : void problems.push(`${at}.match must be a non-empty glob`);
      rule = {
        ...base, type, scope: field.oneOf('scope', ['job', 'user', 'project'] as const)!, match: match ?? '*', period: field.oneOf('period', ['day', 'month'] as const)!,
        ...(kwh !== undefined && { kwh }), ...(cost !== undefined && { cost }),
      };
      break;
    }
    case 'no_data':
      rule = { ...base, type, after_s: field.number('after_s', { min: 0, exclusive: true })! };
      break;
    case 'offline':
      rule = { ...base, type };
      break;
    case 'seq_gap':
    case 'counter_backwards':
    case 'xid':
      rule = { ...base, type, clear_s: field.number('clear_s', { min: 0, exclusive: true, fallback: 60 })! };
      break;
    case 'throttle': {
      const reasons = raw.reasons === undefined ? ['power_brake', 'thermal'] : raw.reasons;
      const ok = Array.isArray(reasons) && reasons.length > 0 && reasons.every((r) => (THROTTLE_REASONS as readonly unknown[]).includes(r));
      if (!ok) problems.push(`${at}.reasons must be a non-empty list of ${THROTTLE_REASONS.join(', ')}`);
      rule = { ...base, type, reasons: ok ? (reasons as ThrottleReason[]) : [] };
      break;
    }
    case 'drift': {
      rule = { ...base, type, min_ratio: field.number('min_ratio', { min: 0 })!, max_ratio: field.number('max_ratio', { min: 0, exclusive: true })! };
      if (rule.min_ratio >= rule.max_ratio) problems.push(`${at}.min_ratio must be below ${at}.max_ratio`);
      break;
    }
  }
  return problems.length === before ? rule : undefined;
}

function parseTarget(raw: unknown, type: RuleType, ctx: RuleContext, at: string, problems: string[]): TargetSelector | undefined {
  if (!isObject(raw)) return void problems.push(`${at} must be an object such as { kind: gpu, host: "node-*" }`);
  const kinds = KINDS_OF[type];
  if (!kinds.includes(raw.kind as TargetKind)) return void problems.push(`${at}.kind must be one of ${kinds.join(', ')} for a ${type} rule`);
  const t: TargetSelector = { kind: raw.kind as TargetKind };
  for (const k of Object.keys(raw)) if (!['kind', 'site', 'host', 'gpu', 'group', 'source'].includes(k)) problems.push(`${at}.${k} is not a target field`);
  for (const k of ['site', 'host', 'gpu'] as const) {
    if (raw[k] === undefined) continue;
    if (typeof raw[k] !== 'string' || raw[k] === '') problems.push(`${at}.${k} must be a non-empty glob`);
    else t[k] = raw[k];
  }
  if (t.kind === 'group') {
    if (typeof raw.group !== 'string' || !ctx.groups.has(raw.group)) problems.push(`${at}.group must name a group of the site file${ctx.groups.size ? ` (${[...ctx.groups].join(', ')})` : ' (none is configured)'}`);
    else t.group = raw.group;
  }
  if (t.kind === 'source') {
    if (typeof raw.source !== 'string' || !ctx.sources.has(raw.source)) problems.push(`${at}.source must name a power source of the site file${ctx.sources.size ? ` (${[...ctx.sources.keys()].join(', ')})` : ' (none is configured)'}`);
    else t.source = raw.source;
  }
  return t;
}

/** Reads typed fields of one rule, naming the field in each problem. */
class Fields {
  constructor(private readonly raw: Obj, private readonly at: string, private readonly problems: string[]) {}

  oneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.raw[key];
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    this.problems.push(`${this.at}.${key} must be one of ${values.join(', ')}${v === undefined ? '' : `, not ${JSON.stringify(v)}`}`);
    return undefined;
  }

  number(key: string, o: { min?: number; max?: number; exclusive?: boolean; fallback?: number | undefined; optional?: boolean }): number | undefined {
    const v = this.raw[key];
    if (v === undefined && (o.fallback !== undefined || o.optional)) return o.fallback;
    const low = o.min === undefined ? true : o.exclusive ? (v as number) > o.min : (v as number) >= o.min;
    if (typeof v !== 'number' || !Number.isFinite(v) || !low || (o.max !== undefined && v > o.max)) {
      const range = o.min === undefined ? '' : ` ${o.exclusive ? '>' : '>='} ${o.min}${o.max === undefined ? '' : ` and <= ${o.max}`}`;
      this.problems.push(`${this.at}.${key} must be a number${range}${v === undefined ? '' : `, not ${JSON.stringify(v)}`}`);
      return undefined;
    }
    return v;
  }
}

/** `*` matches any run of characters; everything else literally. */
export function globMatch(glob: string | undefined, value: string): boolean {
  if (glob === undefined || glob === '*') return true;
  if (!glob.includes('*')) return glob === value;
  const re = new RegExp(`^${glob.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}
