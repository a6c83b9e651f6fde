import { describe, expect, it } from 'vitest';
import type { EfficiencyReport, EfficiencyRow } from '../../web/src/lib/api.js';
import {
  csvField,
  csvFileName,
  efficiencyCsv,
  historyRows,
  historyTotals,
  historyWindow,
  toCsv,
  toLocalInput,
} from '../../web/src/lib/history-view.js';

const row = (key: string, energy_j: number, extra: Partial<EfficiencyRow> = {}): EfficiencyRow => ({
  key,
  jobs: 2,
  energy_j,
  kwh: energy_j / 3.6e6,
  gpu_hours: 1.5,
  w_per_gpu: 300,
  allocated_idle_j: energy_j / 10,
  method: 'counter',
  mean_util_pct: 55.5,
  j_per_unit: {},
  ...extra,
});

const report = (by: EfficiencyReport['by'], rows: EfficiencyRow[]): EfficiencyReport => ({ by, time_zone: 'UTC', rows, idle_j: 200, unattributed_j: 0 });

describe('historyWindow', () => {
  const now = new Date(2026, 10, 28, 14, 3).getTime();

  it('presets end now; today starts at local midnight', () => {
    expect(historyWindow({ range: 'today', by: 'user', from: '', to: '' }, now)).toEqual({ ok: true, from: new Date(2026, 10, 28).getTime(), to: now });
    expect(historyWindow({ range: '7d', by: 'user', from: '', to: '' }, now)).toEqual({ ok: true, from: now - 7 * 86_400_000, to: now });
  });

  it('reads a custom range in the browser time zone, and says what is wrong with a bad one', () => {
    const q = { range: 'custom' as const, by: 'day' as const, from: '2026-11-20T00:00', to: '2026-11-27T12:30' };
    expect(historyWindow(q, now)).toEqual({ ok: true, from: new Date(2026, 10, 20).getTime(), to: new Date(2026, 10, 27, 12, 30).getTime() });
    expect(historyWindow({ ...q, to: '' }, now)).toEqual({ ok: false, problem: 'Pick both a start and an end.' });
    expect(historyWindow({ ...q, from: q.to, to: q.from }, now)).toEqual({ ok: false, problem: 'The start must be before the end.' });
  });

  it('writes a time back as a datetime-local value', () => {
    expect(toLocalInput(new Date(2026, 0, 5, 7, 9).getTime())).toBe('2026-01-05T07:09');
  });
});

describe('rows and totals', () => {
  it('sorts days in time order and other groups by energy', () => {
    expect(historyRows(report('day', [row('2026-11-28', 1), row('2026-11-27', 5)])).map((r) => r.key)).toEqual(['2026-11-27', '2026-11-28']);
    expect(historyRows(report('user', [row('ada', 1), row('ken', 5)])).map((r) => r.key)).toEqual(['ken', 'ada']);
  });

  it('gives each row its allocated-idle share, none for a row without energy', () => {
    const [a, b] = historyRows(report('user', [row('ada', 1000), row('nil', 0)]));
    expect(a!.allocatedIdleShare).toBeCloseTo(0.1);
    expect(b!.allocatedIdleShare).toBeNull();
  });

  it('totals: jobs, idle and unattributed make all GPU energy', () => {
    const t = historyTotals({ ...report('user', [row('ada', 600), row('ken', 200)]), unattributed_j: 0 });
    expect(t).toMatchObject({ jobsJ: 800, idleJ: 200, totalJ: 1000, idleShare: 0.2, allocatedIdleJ: 80, allocatedIdleShare: 0.1, gpuHours: 3 });
  });
});

describe('CSV (RFC 4180)', () => {
  it('quotes fields with commas, quotes or line breaks, and doubles the quotes', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField(null)).toBe('');
    expect(csvField(Number.NaN)).toBe('');
    expect(csvField(0.1)).toBe('0.1');
  });

  it('ends every record with CRLF', () => {
    expect(toCsv([['a', 'b'], [1, null]])).toBe('a,b\r\n1,\r\n');
  });

  it('writes the report unrounded, one column per work unit', () => {
    const r = report('project', [
      row('llm, "big"', 3_600_000, { j_per_unit: { tokens: 0.0114, samples: 0.65 } }),
      row('vision', 1800, { method: null, mean_util_pct: null }),
    ]);
    const lines = efficiencyCsv(r).split('\r\n');
    expect(lines[0]).toBe('project,jobs,energy_j,kwh,gpu_hours,w_per_gpu,allocated_idle_j,allocated_idle_share,method,mean_util_pct,j_per_samples,j_per_tokens');
    expect(lines[1]).toBe('"llm, ""big""",2,3600000,1,1.5,300,360000,0.1,counter,55.5,0.65,0.0114');
    expect(lines[2]).toBe('vision,2,1800,0.0005,1.5,300,180,0.1,,,,');
    expect(lines[3]).toBe('');
  });

  it('adds cost and carbon when the server sends them', () => {
    const csv = efficiencyCsv(report('user', [row('ada', 10, { cost: 0.5, carbon_g: 3 })]));
    expect(csv.split('\r\n')[0]).toMatch(/,cost,carbon_g$/);
    expect(csv.split('\r\n')[1]).toMatch(/,0\.5,3$/);
  });

  it('names the file with the grouping and the range', () => {
    expect(csvFileName('user', new Date(2026, 10, 21, 14, 3).getTime(), new Date(2026, 10, 28, 9, 5).getTime())).toBe(
      'kilowatch-efficiency-by-user-20261121-1403-to-20261128-0905.csv',
    );
  });
});
