/**
 * Every transition of the alert engine, driven with a fake clock: each rule
 * type, hysteresis and `for`, inhibition, silences and acknowledgements,
 * late windows, a rule broken at run time, and rule reloads.
 */
import { describe, expect, it } from 'vitest';
import type { GpuReading, GpuWindow, MeterWindow } from '../../../protocol/payloads.js';
import { type AlertEvent, type AlertState, emptyState } from '../../../server/alerts/alert-state.js';
import { periodBounds } from '../../../server/alerts/energy-budget.js';
import { type AlertInput, acknowledge, addSilence, reduce } from '../../../server/alerts/engine.js';
import { type Rule, parseRules } from '../../../server/alerts/rules.js';
import { siteIndex } from '../../../server/alerts/site-index.js';
import { parse } from 'yaml';
import { parseSiteConfig } from '../../../server/core/site-config.js';

const stat = (mean: number, max = mean) => ({ min: mean, max, mean, last: mean, n: 10 });
const T0 = 1_764_000_000_000;

const site = (() => {
  const r = parseSiteConfig(parse(`
groups:
  - { name: rack-a, kind: rack, hosts: [n1, n2], meters: [n1/pdu-a] }
power_sources:
  - { name: fuel-cell, kind: fuel_cell, capacity_kw: 2, tariff: { per_kwh: 0.2 }, carbon: { g_per_kwh: 400 }, meter: n1/fc }
`), 'site.yaml', () => undefined);
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return siteIndex(r.config);
})();

function rules(raw: unknown[]): Rule[] {
  const r = parseRules(raw, 'config', site);
  if (!r.ok) throw new Error(r.problems.join('\n'));
  return r.rules;
}

function gpuWindow(i: number, gpus: GpuReading[], over: Partial<GpuWindow> = {}): GpuWindow {
  return { v: 1, boot_id: 'b', seq: i, first_seq: 0, ts: T0 + i * 1000, window_ms: 1000, gpus, ...over };
}

/** A tiny harness: one state, a fake clock that follows the windows, and every event kept. */
class Harness {
  readonly s: AlertState;
  readonly events: AlertEvent[] = [];
  now = T0;

  constructor(raw: unknown[]) {
    this.s = emptyState(rules(raw), site);
  }

  put(input: AlertInput, now = this.now): AlertEvent[] {
    this.now = now;
    const { events } = reduce(this.s, input, now);
    this.events.push(...events);
    return events;
  }

  gpu(i: number, gpus: GpuReading[], opts: { host?: string; late?: boolean; over?: Partial<GpuWindow> } = {}): AlertEvent[] {
    return this.put({ kind: 'gpu', site: 'dc', host: opts.host ?? 'n1', window: gpuWindow(i, gpus, opts.over), late: opts.late ?? false }, T0 + (i + 1) * 1000 + 50);
  }

  meter(i: number, meter: string, w: number): AlertEvent[] {
    const mw: MeterWindow = { v: 1, boot_id: 'b', seq: i, first_seq: 0, ts: T0 + i * 10_000, window_ms: 10_000, power_w: stat(w) };
    return this.put({ kind: 'meter', site: 'dc', host: 'n1', meter, window: mw, late: false }, T0 + (i + 1) * 10_000 + 50);
  }

  transitions(): string[] {
    return this.events.map((e) => `${e.to}${e.notify ? '!' : ''}`);
  }
}

describe('threshold rules', () => {
  const spike = { id: 'spike', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_pct_limit', above: 110, clear: 100, severity: 'critical' };

  it('fire on a spike inside a window (the window max), and resolve only at the clear level (hysteresis)', () => {
    const h = new Harness([spike]);
    const g = (mean: number, max: number): GpuReading => ({ id: 'G0', power_w: stat(mean, max), power_limit_w: 700 });
    expect(h.gpu(0, [g(600, 650)])).toEqual([]);
    const fired = h.gpu(1, [g(640, 910)]); // a 300 ms spike to 130 % lifts the max, barely the mean
    expect(fired.map((e) => e.to)).toEqual(['pending', 'firing']);
    expect(fired[1]).toMatchObject({ notify: true, value: 130, key: 'spike|gpu:dc/n1/G0', severity: 'critical' });
    expect(fired[1]!.message).toMatch(/130\.0 % of the power limit/);
    expect(h.gpu(2, [g(650, 735)])).toEqual([]); // 105 %: between clear and above, it stays firing
    expect(h.gpu(3, [g(650, 770.7)])).toEqual([]); // 110.1 %: still firing, no new notification
    const resolved = h.gpu(4, [g(600, 700)]); // 100 %: at the clear level
    expect(resolved).toMatchObject([{ from: 'firing', to: 'resolved', notify: true }]);
  });

  it('with `for` stay pending until the condition held that long, and a dip below clear cancels them', () => {
    const h = new Harness([{ id: 'hot', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_w', above: 500, for_s: 3 }]);
    const g = (w: number): GpuReading[] => [{ id: 'G0', power_w: stat(w) }];
    h.gpu(0, g(600)); // pending since the window's end, 1 s
    h.gpu(1, g(600));
    h.gpu(2, g(400)); // cancelled
    expect(h.transitions()).toEqual(['pending', 'resolved']);
    for (let i = 3; i < 8; i++) h.gpu(i, g(600));
    expect(h.transitions()).toEqual(['pending', 'resolved', 'pending', 'firing!']);
    expect(h.events[3]!.at - h.events[2]!.at).toBe(3000);
  });

  it('watch a host by its edge-summed power, and ignore absent data instead of clearing', () => {
    const h = new Harness([{ id: 'host', type: 'threshold', target: { kind: 'host', host: 'n*' }, metric: 'power_w', above: 1000 }]);
    h.gpu(0, [{ id: 'G0' }], { over: { host_power_w: stat(900, 1200) } });
    h.gpu(1, [{ id: 'G0' }]); // no power at all this window
    expect(h.transitions()).toEqual(['pending', 'firing!']);
    expect(h.events[1]!.target.label).toBe('host:dc/n1');
  });
});

describe('late windows', () => {
  it('are evaluated and recorded as late, never sent, and change no live state', () => {
    const h = new Harness([{ id: 'spike', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_w', above: 700 }]);
    h.gpu(10, [{ id: 'G0', power_w: stat(300) }]);
    const late = h.gpu(3, [{ id: 'G0', power_w: stat(300, 900) }], { late: true });
    expect(late).toMatchObject([{ to: 'late', from: 'inactive', notify: false, value: 900 }]);
    expect(h.s.alerts.size).toBe(0);
  });
});

describe('rate, throttle and counter rules', () => {
  it('rate: fires when power rises more than X W within T', () => {
    const h = new Harness([{ id: 'ramp', type: 'rate', target: { kind: 'gpu' }, rise_w: 300, within_s: 3 }]);
    for (const [i, w] of [[0, 100], [1, 150], [2, 300], [3, 450], [4, 460], [5, 470], [6, 480], [7, 480]] as const) h.gpu(i, [{ id: 'G0', power_w: stat(w) }]);
    expect(h.transitions()).toEqual(['pending', 'firing!', 'resolved!']);
    expect(h.events[1]!.value).toBe(350); // 450 W against the 100 W three seconds before
  });

  it('throttle: fires while power-brake or thermal throttling is active, not on a power cap', () => {
    const h = new Harness([{ id: 'brake', type: 'throttle', target: { kind: 'gpu' } }]);
    h.gpu(0, [{ id: 'G0', throttle: ['power_cap'] }]);
    h.gpu(1, [{ id: 'G0', throttle: ['power_cap', 'power_brake'] }]);
    h.gpu(2, [{ id: 'G0' }]);
    expect(h.transitions()).toEqual(['pending', 'firing!', 'resolved!']);
    expect(h.events[1]!.message).toMatch(/power_brake/);
  });

  it('counter going backwards fires on the reload and resolves clear_s later', () => {
    const h = new Harness([{ id: 'ctr', type: 'counter_backwards', target: { kind: 'gpu' }, clear_s: 5 }]);
    h.gpu(0, [{ id: 'G0', energy_mj: 9_000_000 }]);
    h.gpu(1, [{ id: 'G0', energy_mj: 9_300_000 }]);
    h.gpu(2, [{ id: 'G0', energy_mj: 200 }]);
    expect(h.transitions()).toEqual(['pending', 'firing!']);
    expect(h.events[1]!.value).toBeCloseTo(9300 - 0.2, 6);
    h.put({ kind: 'tick' }, T0 + 6000);
    expect(h.transitions()).toHaveLength(2);
    h.put({ kind: 'tick' }, T0 + 8100);
    expect(h.transitions()).toEqual(['pending', 'firing!', 'resolved!']);
  });

  it('xid fires when the driver reports a new Xid code, not on the first code it sees (a baseline)', () => {
    const h = new Harness([{ id: 'xid', type: 'xid', target: { kind: 'gpu' }, clear_s: 60 }]);
    h.gpu(0, [{ id: 'G0', xid: 13 }]); // an old error, still in the gauge
    h.gpu(1, [{ id: 'G0', xid: 13 }]);
    expect(h.transitions()).toEqual([]);
    h.gpu(2, [{ id: 'G0', xid: 79 }]); // fell off the bus
    expect(h.events.at(-1)).toMatchObject({ to: 'firing', value: 79, message: 'gpu:dc/n1/G0: Xid 79 reported by the driver (was 13)' });
    h.put({ kind: 'tick' }, T0 + 70_000);
    expect(h.transitions()).toEqual(['pending', 'firing!', 'resolved!']);
  });

  it('seq gap fires when windows are missing from a host stream, not on a resend or a new boot', () => {
    const h = new Harness([{ id: 'gap', type: 'seq_gap', target: { kind: 'host' }, clear_s: 10 }]);
    h.gpu(0, [{ id: 'G0' }]);
    h.gpu(1, [{ id: 'G0' }]);
    h.gpu(5, [{ id: 'G0' }]);
    expect(h.events.at(-1)).toMatchObject({ to: 'firing', value: 3 });
    h.gpu(3, [{ id: 'G0' }], { late: true }); // the hole fills from the spool
    h.gpu(0, [{ id: 'G0' }], { over: { boot_id: 'b2', ts: T0 + 6000 } }); // a restarted collector
    expect(h.transitions()).toEqual(['pending', 'firing!']);
  });
});

describe('health rules, inhibition', () => {
  const noData = { id: 'quiet', type: 'no_data', target: { kind: 'gpu' }, after_s: 5 };
  const offline = { id: 'down', type: 'offline', target: { kind: 'host' }, severity: 'critical' };

  it('no data fires after N s of silence and resolves when data comes back', () => {
    const h = new Harness([noData]);
    h.gpu(0, [{ id: 'G0' }]); // seen at 1.05 s
    h.put({ kind: 'tick' }, T0 + 6000);
    expect(h.transitions()).toEqual([]);
    h.put({ kind: 'tick' }, T0 + 6100);
    expect(h.transitions()).toEqual(['pending', 'firing!']);
    h.gpu(9, [{ id: 'G0' }]);
    expect(h.transitions()).toEqual(['pending', 'firing!', 'resolved!']);
  });

  it('while a host is offline by its Last Will, its no-data alerts fire inhibited (not sent)', () => {
    const h = new Harness([noData, offline]);
    h.gpu(0, [{ id: 'G0' }, { id: 'G1' }]);
    h.put({ kind: 'status', site: 'dc', host: 'n1', online: false }, T0 + 2000);
    expect(h.transitions()).toEqual(['pending', 'firing!']);
    h.put({ kind: 'tick' }, T0 + 10_000);
    const quiet = h.events.filter((e) => e.rule === 'quiet' && e.to === 'firing');
    expect(quiet).toHaveLength(2);
    expect(quiet.every((e) => !e.notify && e.inhibited)).toBe(true);
    h.put({ kind: 'status', site: 'dc', host: 'n1', online: true }, T0 + 11_000);
    expect(h.events.at(-1)).toMatchObject({ rule: 'down', to: 'resolved', notify: true });
  });
});

describe('budgets and drift', () => {
  it('a group budget reads the summed mean power of its hosts (never the sum of peaks)', () => {
    const h = new Harness([{ id: 'rack', type: 'budget', target: { kind: 'group', group: 'rack-a' }, capacity_kw: 2, above_pct: 90, clear_pct: 80 }]);
    h.gpu(0, [{ id: 'G0', power_w: stat(800, 2000) }], { host: 'n1' }); // a 2 kW peak alone does not count
    h.gpu(0, [{ id: 'G0', power_w: stat(900, 1000) }], { host: 'n2' }); // 1.7 kW: 85 %
    h.gpu(0, [{ id: 'G0', power_w: stat(700, 700) }], { host: 'n9' }); // not in the rack
    expect(h.transitions()).toEqual([]);
    h.gpu(1, [{ id: 'G0', power_w: stat(950) }], { host: 'n1' }); // 1.85 kW: 92.5 %
    expect(h.events.at(-1)).toMatchObject({ to: 'firing', value: 92.5, notify: true, target: { label: 'group:rack-a' } });
    h.gpu(2, [{ id: 'G0', power_w: stat(800) }], { host: 'n1' }); // 85 %: above clear, still firing
    h.gpu(3, [{ id: 'G0', power_w: stat(650) }], { host: 'n1' }); // 77.5 %
    expect(h.transitions()).toEqual(['pending', 'firing!', 'resolved!']);
  });

  it('a source budget reads its meter against the site file capacity; a stale host drops out of a fleet sum', () => {
    const h = new Harness([
      { id: 'fc', type: 'budget', target: { kind: 'source', source: 'fuel-cell' }, above_pct: 90 },
      { id: 'fleet', type: 'budget', target: { kind: 'fleet' }, capacity_kw: 1, above_pct: 100 },
    ]);
    h.meter(0, 'fc', 1900); // 95 % of 2 kW
    expect(h.events.at(-1)).toMatchObject({ rule: 'fc', to: 'firing', value: 95 });
    h.gpu(0, [{ id: 'G0', power_w: stat(600) }], { host: 'n1' });
    h.gpu(0, [{ id: 'G0', power_w: stat(600) }], { host: 'n2' });
    expect(h.events.at(-1)).toMatchObject({ rule: 'fleet', to: 'firing', value: 120 });
    h.put({ kind: 'tick' }, T0 + 40_000); // both hosts silent for 39 s
    h.gpu(40, [{ id: 'G0', power_w: stat(600) }], { host: 'n1' });
    expect(h.events.at(-1)).toMatchObject({ rule: 'fleet', to: 'resolved' });
  });

  it('drift: a group meter against its GPUs, outside the band', () => {
    const h = new Harness([{ id: 'pdu', type: 'drift', target: { kind: 'group', group: 'rack-a' }, min_ratio: 1, max_ratio: 1.6 }]);
    h.gpu(0, [{ id: 'G0', power_w: stat(1000) }], { host: 'n1' });
    h.meter(0, 'pdu-a', 1400);
    expect(h.transitions()).toEqual([]);
    h.meter(1, 'pdu-a', 900); // the meter reads less than the GPUs alone: a wiring or calibration problem
    expect(h.events.at(-1)).toMatchObject({ to: 'firing', value: 0.9 });
  });
});

describe('energy budgets', () => {
  it('periods are local days and months, across a DST change', () => {
    const nov = periodBounds(Date.UTC(2026, 10, 10, 12), 'month', 'Europe/Berlin');
    expect(new Date(nov.from).toISOString()).toBe('2026-10-31T23:00:00.000Z'); // midnight CET
    expect(new Date(nov.to).toISOString()).toBe('2026-11-30T23:00:00.000Z');
    const oct = periodBounds(Date.UTC(2026, 9, 10, 12), 'month', 'Europe/Berlin');
    expect(new Date(oct.from).toISOString()).toBe('2026-09-30T22:00:00.000Z'); // midnight CEST
    expect(new Date(oct.to).toISOString()).toBe('2026-10-31T23:00:00.000Z'); // the month ends in CET
    const day = periodBounds(Date.UTC(2026, 9, 25, 12), 'day', 'Europe/Berlin'); // the 25-hour day
    expect(day.to - day.from).toBe(25 * 3_600_000);
  });

  it('fires on the forecast with the day it is reached, and resolves below 95 % of the budget', () => {
    const h = new Harness([{ id: 'llm-month', type: 'energy_budget', scope: 'project', match: 'llm*', period: 'month', kwh: 500 }]);
    const tz = 'UTC';
    const bounds = periodBounds(Date.UTC(2026, 10, 11), 'month', tz);
    const at10days = bounds.from + 10 * 86_400_000;
    const usage = (rows: { key: string; kwh: number }[], now: number) => h.put({ kind: 'usage', rule: 'llm-month', rows, bounds, timeZone: tz }, now);
    usage([{ key: 'llm-train', kwh: 300 }, { key: 'vision', kwh: 5000 }], at10days); // 30 kWh a day: 500 kWh on day 16.7
    expect(h.events.at(-1)).toMatchObject({ to: 'firing', target: { label: 'project:llm-train' }, value: 300 * 3 / 5 });
    expect(h.events.at(-1)!.message).toBe('project llm-train: 300.0 kWh of its monthly budget of 500 kWh (60 %); at this rate exceeds it on 2026-11-17');
    expect(h.events.some((e) => e.target.label === 'project:vision')).toBe(false); // not matched by llm*
    usage([{ key: 'llm-train', kwh: 310 }], bounds.from + 20 * 86_400_000); // slowed down: forecast 465 kWh
    expect(h.events.at(-1)).toMatchObject({ to: 'resolved' });
  });

  it('needs exactly one of kwh and cost', () => {
    const r = parseRules([{ id: 'b', type: 'energy_budget', scope: 'user', period: 'day', kwh: 5, cost: 3 }], 'api', site);
    expect(r).toEqual({ ok: false, problems: ['rules[0]: give the budget as kwh or as cost (one of them)'] });
  });
});

describe('operator actions and rule changes', () => {
  const rule = { id: 'spike', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_w', above: 700 };

  it('a silence keeps a firing alert from being sent (and its resolution), an acknowledgement is kept on the alert', () => {
    const h = new Harness([rule]);
    addSilence(h.s, { id: 's1', rule: 'spike', target: 'gpu:dc/n1/*', until: T0 + 60_000, reason: 'burn-in test', by: 'ops', created: T0 });
    h.gpu(0, [{ id: 'G0', power_w: stat(800) }, { id: 'G1', power_w: stat(800) }], { host: 'n1' });
    h.gpu(0, [{ id: 'G0', power_w: stat(800) }], { host: 'n2' });
    const fired = h.events.filter((e) => e.to === 'firing');
    expect(fired.map((e) => [e.target.label, e.notify, e.silenced])).toEqual([
      ['gpu:dc/n1/G0', false, 's1'], ['gpu:dc/n1/G1', false, 's1'], ['gpu:dc/n2/G0', true, undefined],
    ]);
    expect(acknowledge(h.s, 'spike|gpu:dc/n2/G0', 'ada', T0 + 2000)).toBe(true);
    expect(h.s.alerts.get('spike|gpu:dc/n2/G0')!.acked).toEqual({ by: 'ada', at: T0 + 2000 });
    expect(acknowledge(h.s, 'spike|gpu:dc/n9/G0', 'ada', T0)).toBe(false);
    h.gpu(1, [{ id: 'G0', power_w: stat(100) }, { id: 'G1', power_w: stat(100) }], { host: 'n1' });
    expect(h.events.filter((e) => e.to === 'resolved').every((e) => !e.notify)).toBe(true); // never sent, so no resolution sent
  });

  it('a rule that throws at run time is marked broken and the others go on', () => {
    const h = new Harness([rule, { id: 'other', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_w', above: 100 }]);
    Object.defineProperty(h.s.rules[0]!, 'above', { get: () => { throw new Error('target vanished'); } });
    h.gpu(0, [{ id: 'G0', power_w: stat(800) }]);
    expect(h.s.broken.get('spike')).toBe('target vanished');
    expect(h.events.map((e) => `${e.rule}:${e.to}`)).toEqual(['other:pending', 'other:firing']);
  });

  it('a reload that removes or changes a rule resolves its alerts', () => {
    const h = new Harness([rule]);
    h.gpu(0, [{ id: 'G0', power_w: stat(800) }]);
    h.put({ kind: 'rules', rules: rules([{ ...rule, above: 900 }]) });
    expect(h.events.at(-1)).toMatchObject({ to: 'resolved', message: 'gpu:dc/n1/G0: rule changed', notify: true });
    expect(h.s.alerts.size).toBe(0);
  });
});

describe('rule validation', () => {
  const bad = (raw: object) => {
    const r = parseRules([raw], 'api', site);
    return r.ok ? [] : r.problems;
  };

  it('names the field of every problem', () => {
    expect(bad({ id: 'x', type: 'threshold', target: { kind: 'gpu' }, metric: 'watts', above: 1 })).toEqual(['rules[0].metric must be one of power_w, power_pct_limit, temp_c, not "watts"']);
    expect(bad({ id: 'x', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_w', above: 1, for_s: -5 })).toEqual(['rules[0].for_s must be a number >= 0, not -5']);
    expect(bad({ id: 'x', type: 'budget', target: { kind: 'group', group: 'rack-z' }, capacity_kw: 5, above_pct: 90 })[0]).toMatch(/^rules\[0\]\.target\.group must name a group of the site file \(rack-a\)/);
    expect(bad({ id: 'x', type: 'offline', target: { kind: 'gpu' } })).toEqual(['rules[0].target.kind must be one of host for a offline rule']);
    expect(bad({ id: 'x', type: 'threshold', target: { kind: 'gpu' }, metric: 'power_w', above: 500, clear: 600 })[0]).toMatch(/rules\[0\]\.clear \(600\) must not be above/);
    expect(bad({ id: 'bad id!', type: 'offline', target: { kind: 'host' }, colour: 'red' })).toEqual(['rules[0].colour is not a rule field', 'rules[0].id must be 1-64 characters of letters, digits, ".", "_" or "-"']);
    expect(parseRules([{ id: 'a', type: 'offline', target: { kind: 'host' } }, { id: 'a', type: 'offline', target: { kind: 'host' } }], 'config', site)).toEqual({ ok: false, problems: ['rules[1].id "a" is used twice'] });
  });
});
