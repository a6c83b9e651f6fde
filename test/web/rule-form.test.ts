import { describe, expect, it } from 'vitest';
import type { RuleJson } from '../../web/src/lib/api.js';
import {
  TYPE_SPECS,
  changeType,
  describeCondition,
  describeTarget,
  draftFromRule,
  emptyDraft,
  problemField,
  problemsByField,
  ruleBody,
} from '../../web/src/lib/rule-form.js';

const threshold: RuleJson = {
  id: 'gpu-over-limit',
  type: 'threshold',
  target: { kind: 'gpu', host: 'node-*' },
  severity: 'critical',
  for_s: 0,
  origin: 'config',
  description: 'over the limit',
  metric: 'power_pct_limit',
  above: 110,
  clear: 100,
};

describe('rule drafts', () => {
  it('a rule round-trips through the form to the same API body', () => {
    const body = ruleBody(draftFromRule(threshold));
    expect(body).toEqual({
      id: 'gpu-over-limit',
      type: 'threshold',
      target: { kind: 'gpu', host: 'node-*' },
      severity: 'critical',
      for_s: 0,
      description: 'over the limit',
      metric: 'power_pct_limit',
      above: 110,
      clear: 100,
    });
  });

  it('every type round-trips its own fields', () => {
    for (const spec of TYPE_SPECS) {
      const d = emptyDraft(spec.type);
      d.id = `r-${spec.type}`;
      for (const p of spec.params) d.params[p.key] = p.kind === 'number' ? '7' : (p.options?.[0] ?? 'x');
      const body = ruleBody(d);
      expect(body.type).toBe(spec.type);
      expect(spec.kinds).toContain((body.target as { kind: string }).kind);
      expect(ruleBody(draftFromRule(body as RuleJson))).toEqual(body);
    }
  });

  it('leaves empty optional fields out and sends a number that does not parse as typed', () => {
    const d = emptyDraft('threshold');
    d.id = 'x';
    d.params.above = '50';
    d.params.clear = '';
    d.for_s = 'ten';
    const body = ruleBody(d);
    expect(body).toMatchObject({ above: 50, for_s: 'ten', metric: 'power_w' });
    expect(body).not.toHaveProperty('clear');
  });

  it('sends only the target fields of its kind, and throttle reasons for throttle rules', () => {
    const d = emptyDraft('throttle');
    d.target = { kind: 'gpu', site: '', host: 'n-1', gpu: '', group: 'rack-0', source: '' };
    const body = ruleBody(d);
    expect(body.target).toEqual({ kind: 'gpu', host: 'n-1' });
    expect(body.reasons).toEqual(['power_brake', 'thermal']);
  });

  it('keeps fields the form has no input for', () => {
    const d = draftFromRule({ ...threshold, window: 'max' } as RuleJson);
    expect(ruleBody(d).window).toBe('max');
    expect(ruleBody(d)).not.toHaveProperty('origin');
  });

  it('changing the type keeps the id and a target kind the new type can watch', () => {
    const d = draftFromRule({ ...threshold, target: { kind: 'host' } });
    expect(changeType(d, 'offline').target.kind).toBe('host');
    const b = changeType(d, 'budget');
    expect(b.id).toBe('gpu-over-limit');
    expect(b.target.kind).toBe('group');
    expect(b.params).toEqual({ above_pct: '', clear_pct: '', capacity_kw: '' });
  });
});

describe('server problems next to their field', () => {
  it('reads the field a problem names', () => {
    expect(problemField('rule.above must be a number, not "x"')).toBe('above');
    expect(problemField('rule.target.group must name a group of the site file (rack-0)')).toBe('target.group');
    expect(problemField('rule.clear (60) must not be above rule.above (50): it is the level the alert resolves at')).toBe('clear');
    expect(problemField('rule: give the budget as kwh or as cost (one of them)')).toBeNull();
    expect(problemField('rule "x" comes from the rules file, which is read-only here')).toBeNull();
  });

  it('groups problems by field, the rest under ""', () => {
    const m = problemsByField(['rule.above must be a number', 'rule.above is wrong again', 'something general']);
    expect(m.get('above')).toHaveLength(2);
    expect(m.get('')).toEqual(['something general']);
  });
});

describe('rules in words', () => {
  it('describes conditions', () => {
    expect(describeCondition(threshold)).toBe('power (window max) above 110 % of the power limit, resolves at 100 %');
    expect(describeCondition({ ...threshold, metric: 'power_w', above: 50, clear: 50 })).toBe('power (window max) above 50 W');
    expect(describeCondition({ ...threshold, type: 'budget', above_pct: 90, clear_pct: 80 })).toBe(
      "summed mean power above 90 % of the source's capacity, resolves at 80 %",
    );
    expect(describeCondition({ ...threshold, type: 'no_data', after_s: 10 })).toBe('no data for more than 10 s');
    expect(describeCondition({ id: 'z', type: 'future', target: { kind: 'fleet' }, severity: 'info', for_s: 0, origin: 'api', knob: 3 })).toBe('knob: 3');
  });

  it('describes targets', () => {
    expect(describeTarget({ kind: 'gpu' })).toBe('every gpu');
    expect(describeTarget({ kind: 'gpu', host: 'node-*', site: 'dc' })).toBe('gpu · site dc · host node-*');
    expect(describeTarget({ kind: 'group', group: 'rack-0' })).toBe('group rack-0');
    expect(describeTarget({ kind: 'source', source: 'fuel cell' })).toBe('source fuel cell');
    expect(describeTarget({ kind: 'fleet' })).toBe('the fleet');
  });
});
