/**
 * Alert rules for the Rules page: what each rule type asks for (the form's
 * type-dependent fields), a form draft to and from the JSON the API takes,
 * the server's 400 problems placed next to the field they name, and a rule's
 * condition and target in words. Pure; tested in test/web/rule-form.test.ts.
 *
 * The server validates (server/alerts/rules.ts); this file only converts.
 * A number field that does not parse is sent as typed, so the server's
 * answer names the field rather than the form guessing a rule.
 */
import type { RuleJson, RuleTarget } from './api.js';

export type ParamKind = 'number' | 'select' | 'text';

export interface ParamSpec {
  key: string;
  label: string;
  kind: ParamKind;
  /** For selects. */
  options?: readonly string[];
  unit?: string;
  /** Left empty, the field is not sent (the server's default applies, or it says what is missing). */
  optional?: boolean;
  hint?: string;
}

export interface TypeSpec {
  type: string;
  label: string;
  /** The target kinds this type can watch (server/alerts/rules.ts, KINDS_OF). */
  kinds: readonly string[];
  params: readonly ParamSpec[];
  /** Throttle rules pick throttle reasons. */
  reasons?: boolean;
}

/** protocol/payloads.ts THROTTLE_REASONS; copied, since the web build reads only protocol/ws.ts. */
export const THROTTLE_REASONS = ['power_cap', 'thermal', 'power_brake', 'sync_boost', 'sw_slowdown', 'other'] as const;
export const DEFAULT_REASONS = ['power_brake', 'thermal'];
export const SEVERITY_OPTIONS = ['info', 'warning', 'critical'] as const;

export const TYPE_SPECS: readonly TypeSpec[] = [
  {
    type: 'threshold',
    label: 'Threshold',
    kinds: ['gpu', 'host'],
    params: [
      { key: 'metric', label: 'Metric', kind: 'select', options: ['power_w', 'power_pct_limit', 'temp_c'] },
      { key: 'above', label: 'Fires above', kind: 'number', hint: "the window's max, so a spike inside a window counts" },
      { key: 'clear', label: 'Resolves at or below', kind: 'number', optional: true, hint: 'hysteresis; empty: the same level' },
    ],
  },
  {
    type: 'rate',
    label: 'Rate of change',
    kinds: ['gpu', 'host'],
    params: [
      { key: 'rise_w', label: 'Rise more than', kind: 'number', unit: 'W' },
      { key: 'within_s', label: 'Within', kind: 'number', unit: 's', hint: 'at most 3600' },
    ],
  },
  {
    type: 'budget',
    label: 'Power budget',
    kinds: ['group', 'source', 'fleet'],
    params: [
      { key: 'above_pct', label: 'Fires above', kind: 'number', unit: '% of capacity' },
      { key: 'clear_pct', label: 'Resolves at or below', kind: 'number', unit: '%', optional: true },
      { key: 'capacity_kw', label: 'Capacity', kind: 'number', unit: 'kW', optional: true, hint: "required unless a source (a source's comes from the site file)" },
    ],
  },
  {
    type: 'energy_budget',
    label: 'Energy budget',
    kinds: ['fleet'],
    params: [
      { key: 'scope', label: 'Each', kind: 'select', options: ['job', 'user', 'project'] },
      { key: 'match', label: 'Matching', kind: 'text', optional: true, hint: 'a glob; empty: all' },
      { key: 'period', label: 'Per', kind: 'select', options: ['day', 'month'] },
      { key: 'kwh', label: 'Budget', kind: 'number', unit: 'kWh', optional: true, hint: 'give kWh or cost' },
      { key: 'cost', label: 'or cost', kind: 'number', optional: true, hint: "in the site's currency" },
    ],
  },
  { type: 'no_data', label: 'No data', kinds: ['gpu', 'host'], params: [{ key: 'after_s', label: 'Silent for more than', kind: 'number', unit: 's' }] },
  { type: 'offline', label: 'Collector offline', kinds: ['host'], params: [] },
  {
    type: 'seq_gap',
    label: 'Missing windows',
    kinds: ['host'],
    params: [{ key: 'clear_s', label: 'Resolves after', kind: 'number', unit: 's without a gap', optional: true, hint: 'default 60' }],
  },
  {
    type: 'counter_backwards',
    label: 'Energy counter backwards',
    kinds: ['gpu'],
    params: [{ key: 'clear_s', label: 'Resolves after', kind: 'number', unit: 's', optional: true, hint: 'default 60' }],
  },
  { type: 'throttle', label: 'Throttling', kinds: ['gpu'], params: [], reasons: true },
  {
    type: 'drift',
    label: 'Meter drift',
    kinds: ['group'],
    params: [
      { key: 'min_ratio', label: 'Meter / GPU at least', kind: 'number' },
      { key: 'max_ratio', label: 'and below', kind: 'number' },
    ],
  },
];

export function typeSpec(type: string): TypeSpec | undefined {
  return TYPE_SPECS.find((t) => t.type === type);
}

/** The selector fields each target kind uses; sites, hosts and GPUs are globs. */
export const TARGET_FIELDS: Record<string, readonly ('site' | 'host' | 'gpu' | 'group' | 'source')[]> = {
  gpu: ['site', 'host', 'gpu'],
  host: ['site', 'host'],
  group: ['group'],
  source: ['source'],
  fleet: [],
};

type TargetKey = 'kind' | 'site' | 'host' | 'gpu' | 'group' | 'source';

/** What the form edits: every value as typed. */
export interface RuleDraft {
  id: string;
  type: string;
  severity: string;
  for_s: string;
  description: string;
  target: Record<TargetKey, string>;
  params: Record<string, string>;
  reasons: string[];
  /** Fields this form has no input for (a rule type newer than the UI): kept, so an edit does not drop them. */
  extra: Record<string, unknown>;
}

const BASE_FIELDS = new Set(['id', 'type', 'target', 'severity', 'for_s', 'origin', 'description', 'broken', 'reasons']);

export function emptyDraft(type = 'threshold'): RuleDraft {
  const spec = typeSpec(type);
  return {
    id: '',
    type,
    severity: 'warning',
    for_s: '0',
    description: '',
    target: { kind: spec?.kinds[0] ?? 'gpu', site: '', host: '', gpu: '', group: '', source: '' },
    params: Object.fromEntries((spec?.params ?? []).map((p) => [p.key, p.kind === 'select' && !p.optional ? (p.options?.[0] ?? '') : ''])),
    reasons: [...DEFAULT_REASONS],
    extra: {},
  };
}

/** A draft for another type: what the two share (id, target, severity, for) is kept. */
export function changeType(d: RuleDraft, type: string): RuleDraft {
  const next = emptyDraft(type);
  const kinds = typeSpec(type)?.kinds ?? [];
  return {
    ...next,
    id: d.id,
    severity: d.severity,
    for_s: d.for_s,
    description: d.description,
    target: { ...d.target, kind: kinds.includes(d.target.kind) ? d.target.kind : next.target.kind },
  };
}

const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

export function draftFromRule(rule: Partial<RuleJson>): RuleDraft {
  const type = typeof rule.type === 'string' ? rule.type : 'threshold';
  const spec = typeSpec(type);
  const d = emptyDraft(type);
  const known = new Set(spec?.params.map((p) => p.key));
  const t = (rule.target ?? {}) as Partial<RuleTarget>;
  return {
    ...d,
    id: text(rule.id),
    severity: text(rule.severity) || 'warning',
    for_s: rule.for_s === undefined ? '' : text(rule.for_s),
    description: text(rule.description),
    target: {
      kind: text(t.kind) || d.target.kind,
      site: text(t.site),
      host: text(t.host),
      gpu: text(t.gpu),
      group: text(t.group),
      source: text(t.source),
    },
    params: Object.fromEntries([...known].map((k) => [k, text(rule[k])])),
    reasons: Array.isArray(rule.reasons) ? rule.reasons.map(String) : d.reasons,
    extra: Object.fromEntries(Object.entries(rule).filter(([k]) => !BASE_FIELDS.has(k) && !known.has(k))),
  };
}

/** "12" -> 12; anything else as typed, for the server to name. */
function numberOrText(s: string): number | string {
  const t = s.trim();
  const n = Number(t);
  return t !== '' && Number.isFinite(n) ? n : t;
}

/** The JSON body for POST /api/v1/rules or PUT /api/v1/rules/{id}: only the fields the type reads. */
export function ruleBody(d: RuleDraft): Record<string, unknown> {
  const spec = typeSpec(d.type);
  const target: Record<string, string> = { kind: d.target.kind };
  for (const k of TARGET_FIELDS[d.target.kind] ?? []) {
    const v = d.target[k].trim();
    if (v !== '') target[k] = v;
  }
  const body: Record<string, unknown> = { id: d.id.trim(), type: d.type, target, severity: d.severity };
  if (d.for_s.trim() !== '') body.for_s = numberOrText(d.for_s);
  if (d.description.trim() !== '') body.description = d.description.trim();
  for (const p of spec?.params ?? []) {
    const v = (d.params[p.key] ?? '').trim();
    if (v === '') continue;
    body[p.key] = p.kind === 'number' ? numberOrText(v) : v;
  }
  if (spec?.reasons) body.reasons = [...d.reasons];
  return { ...body, ...d.extra };
}

/**
 * The field a server problem names: "rule.above must be a number" ->
 * "above", "rule.target.host must be..." -> "target.host"; null for a
 * problem about the rule as a whole.
 */
export function problemField(problem: string): string | null {
  const m = /^rule(?:\[\d+\])?\.((?:target\.)?[a-z_]+)\b/.exec(problem);
  return m ? (m[1] as string) : null;
}

/** Problems by field, and the rest under `''`. */
export function problemsByField(problems: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const p of problems) {
    const f = problemField(p) ?? '';
    out.set(f, [...(out.get(f) ?? []), p]);
  }
  return out;
}

const num = (v: unknown): string => (typeof v === 'number' ? String(v) : text(v));

const METRIC: Record<string, { name: string; unit: string; short: string }> = {
  power_w: { name: 'power', unit: ' W', short: ' W' },
  power_pct_limit: { name: 'power', unit: ' % of the power limit', short: ' %' },
  temp_c: { name: 'temperature', unit: ' °C', short: ' °C' },
};

/** A rule's condition in words, from the fields the server stores. */
export function describeCondition(r: RuleJson): string {
  switch (r.type) {
    case 'threshold': {
      const m = METRIC[text(r.metric)] ?? { name: text(r.metric), unit: '', short: '' };
      const clear = r.clear !== undefined && r.clear !== r.above ? `, resolves at ${num(r.clear)}${m.short}` : '';
      return `${m.name} (window max) above ${num(r.above)}${m.unit}${clear}`;
    }
    case 'rate':
      return `power rises more than ${num(r.rise_w)} W within ${num(r.within_s)} s`;
    case 'budget': {
      const cap = r.capacity_kw !== undefined ? `${num(r.capacity_kw)} kW` : "the source's capacity";
      const clear = r.clear_pct !== undefined && r.clear_pct !== r.above_pct ? `, resolves at ${num(r.clear_pct)} %` : '';
      return `summed mean power above ${num(r.above_pct)} % of ${cap}${clear}`;
    }
    case 'energy_budget': {
      const amount = r.kwh !== undefined ? `${num(r.kwh)} kWh` : `a cost of ${num(r.cost)}`;
      const match = r.match && r.match !== '*' ? ` matching "${text(r.match)}"` : '';
      return `each ${text(r.scope)}${match} forecast to use more than ${amount} per ${text(r.period)}`;
    }
    case 'no_data':
      return `no data for more than ${num(r.after_s)} s`;
    case 'offline':
      return 'collector offline (its Last Will)';
    case 'seq_gap':
      return `windows missing from a stream; resolves ${num(r.clear_s)} s after the last gap`;
    case 'counter_backwards':
      return `energy counter goes backwards; resolves ${num(r.clear_s)} s after`;
    case 'throttle':
      return `throttled for ${Array.isArray(r.reasons) ? r.reasons.join(', ') : 'any reason'}`;
    case 'drift':
      return `meter / GPU power outside ${num(r.min_ratio)}–${num(r.max_ratio)}×`;
    default: {
      const rest = Object.entries(r).filter(([k]) => !BASE_FIELDS.has(k));
      return rest.map(([k, v]) => `${k}: ${text(v)}`).join(', ') || r.type;
    }
  }
}

/** "gpu · host node-* · site dc", "group rack-0", "every host". */
export function describeTarget(t: RuleTarget | undefined): string {
  if (!t) return '—';
  if (t.kind === 'fleet') return 'the fleet';
  if (t.kind === 'group') return `group ${t.group ?? '?'}`;
  if (t.kind === 'source') return `source ${t.source ?? '?'}`;
  const sel = (['site', 'host', 'gpu'] as const).filter((k) => t[k] !== undefined && t[k] !== '*').map((k) => `${k} ${t[k]}`);
  return sel.length === 0 ? `every ${t.kind}` : `${t.kind} · ${sel.join(' · ')}`;
}
