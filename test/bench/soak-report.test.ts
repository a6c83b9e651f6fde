/** The soak run's trends (bench/soak/trend.ts) and its report's verdicts (report.ts). */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../bench/soak/check.js';
import type { Tally } from '../../bench/soak/compare.js';
import type { Occurrence } from '../../bench/soak/faults.js';
import { parseSoakArgs } from '../../bench/soak/options.js';
import type { Incarnation } from '../../bench/soak/procs.js';
import { type RunFacts, passed, perMinute, processRow, renderReport, shortfalls } from '../../bench/soak/report.js';
import { fitLine, slopePerHour, trend, valueAt } from '../../bench/soak/trend.js';

describe('trends', () => {
  it('fits the least-squares slope per hour', () => {
    // 1 MB a minute is 60 MB an hour, whatever the noise around the line.
    const pts = Array.from({ length: 31 }, (_, i) => ({ t: i * 60, v: 100 + i + (i % 2 ? 0.5 : -0.5) }));
    expect(slopePerHour(pts)).toBeCloseTo(60, 0);
    expect(slopePerHour([{ t: 0, v: 1 }])).toBeUndefined();
    expect(slopePerHour([{ t: 5, v: 1 }, { t: 5, v: 2 }])).toBeUndefined();
  });

  it('counts one independent sample a minute in the standard error, however often it samples', () => {
    // A 7-minute swing of ±10 MB over 20 minutes, sampled every minute or every 5 s: the same line, the same uncertainty.
    const swing = (every: number) => Array.from({ length: 1200 / every + 1 }, (_, i) => ({ t: i * every, v: 100 + 10 * Math.sin((2 * Math.PI * i * every) / 420) }));
    const coarse = fitLine(swing(60))!;
    const fine = fitLine(swing(5))!;
    expect(Math.abs(fine.slope - coarse.slope)).toBeLessThan(1);
    expect(fine.se / coarse.se).toBeCloseTo(1, 1);
  });

  it('ignores the first minutes, calls a small or falling slope flat, a steep one rising, and too little time too short', () => {
    const rule = { skipS: 300, minSpanS: 300, maxPerHour: 10 };
    // Start-up growth of 100 MB in the first 5 minutes, then flat: flat.
    const startup = Array.from({ length: 361 }, (_, i) => ({ t: i * 5, v: i * 5 < 300 ? i : 60 }));
    expect(trend(startup, rule)).toMatchObject({ verdict: 'flat', slope: 0 });
    const leak = Array.from({ length: 361 }, (_, i) => ({ t: i * 5, v: 100 + (i * 5) / 60 })); // 1 MB a minute
    expect(trend(leak, rule)).toMatchObject({ verdict: 'rising' });
    expect(trend(leak, rule).slope).toBeCloseTo(60, 5);
    const falling = leak.map((p) => ({ t: p.t, v: 500 - p.v }));
    expect(trend(falling, rule).verdict).toBe('flat');
    expect(trend(leak.slice(0, 100), rule).verdict).toBe('too short'); // 8 minutes: 3 after the first 5
  });

  it('calls a slope above the bound but inside its noise unclear: a GC sawtooth cut off mid-swing', () => {
    const rule = { skipS: 300, minSpanS: 300, maxPerHour: 10 };
    // RSS climbing 85 -> 120 MB over 8 minutes, then dropping back, from the 5th minute on: no leak, yet cut off at a peak the fit slopes up.
    const saw = Array.from({ length: 251 }, (_, i) => ({ t: i * 5, v: 85 + (((i * 5 + 4500) % 480) / 480) * 35 }));
    const t = trend(saw, rule);
    expect(t.slope!).toBeGreaterThan(10);
    expect(t.verdict).toBe('unclear');
  });

  it('reads the value at a time: the first sample at or after it', () => {
    const pts = [{ t: 0, v: 1 }, { t: 290, v: 2 }, { t: 305, v: 3 }];
    expect([valueAt(pts, 0), valueAt(pts, 300), valueAt(pts, 400)]).toEqual([1, 3, undefined]);
  });
});

const tally = (over: Partial<Tally> = {}): Tally => ({ produced: 100, stored: 100, lost: 0, duplicated: 0, mismatched: 0, dropped: 0, unknown: 0, boots: 1, examples: { lost: [], duplicated: [], mismatched: [], unknown: [] }, ...over });
const check = (interval: Partial<Tally> = {}, total: Partial<Tally> = {}): CheckResult => ({ at: 60_000, from: 0, cutoff: 50_000, interval: tally(interval), total: tally(total), readMs: 100, late: 0 });
const occ = (over: Partial<Occurrence> = {}): Occurrence => ({ kind: 'server-kill', n: 1, startedAt: 10_000, endedAt: 60_000, outageMs: 20_000, drainMs: 10_000, recovered: true, check: check(), states: ['ok', 'no answer'], notes: [], ...over });
const inc = (over: Partial<Incarnation> = {}): Incarnation => ({
  id: 'server#1', role: 'server', name: 'server', pid: 42, node: true, startedAt: 0, endedAt: 1_800_000, end: 'stopped (SIGINT, end of run)',
  samples: Array.from({ length: 361 }, (_, i) => ({ t: i * 5, rssMb: 200, cpuPct: 10, elP99: 2 })), ...over,
});
const facts = (over: Partial<RunFacts> = {}): RunFacts => ({
  opts: parseSoakArgs([]), machine: '2 cores', startedAt: 0, endedAt: 1_800_000, workDir: '/tmp/x',
  occurrences: [occ(), ...(['broker-restart', 'collector-kill', 'disk-full', 'storm'] as const).map((kind) => occ({ kind, startedAt: 70_000 }))], final: check(),
  leftInSpools: 0, incarnations: [inc()], unexpected: [], serverMessagesPerS: 44, plannedFaults: 5, ...over,
});

describe('the report', () => {
  it('passes a run with nothing lost or doubled, every fault recovered, and says so', () => {
    const r = renderReport(facts());
    expect(r.ok).toBe(true);
    expect(r.summary).toEqual(['PASS: 100 windows produced, none lost, none stored twice; every fault recovered']);
    expect(r.markdown).toContain('| 1 | server SIGKILL, restarted | 0:10 | 20 s | 10 s | 100 | 100 | 0 | 0 | 0 | 0 | none | ok; no answer | yes |');
    expect(r.markdown).toContain('| server#1 | 42 | 0:00–30:00 | stopped (SIGINT, end of run) | 10.0 | 200 / 200 / 200 | 0.0 ± 0.0 | flat | 2.00 / 2.00 / 2.00 | 0.00 ± 0.00 | flat |');
    expect(r.markdown).toContain('## Shortfalls\n\nNone.');
  });

  it('fails on a lost or doubled window, a fault that did not recover, or a process that died on its own, and lists each', () => {
    expect(passed(facts({ final: check({}, { lost: 1 }) }))).toBe(false);
    expect(passed(facts({ occurrences: [occ({ check: check({ duplicated: 2 }) })] }))).toBe(false);
    expect(passed(facts({ occurrences: [occ({ recovered: false, problem: 'spools not drained' })] }))).toBe(false);
    expect(passed(facts({ unexpected: ['collector-1#1 exited with 1'] }))).toBe(false);
    expect(passed(facts({ final: undefined, finalProblem: 'backup failed' }))).toBe(false);
    const r = renderReport(facts({ occurrences: [occ({ recovered: false, problem: 'a | b' })] }));
    expect(r.ok).toBe(false);
    expect(r.summary[1]).toBe('  - server SIGKILL, restarted #1 did not recover: a | b');
    expect(r.markdown).toContain('**no**: a \\| b |'); // a pipe in a message does not break the table
  });

  it('names the faults a run was too short for', () => {
    const r = facts({ occurrences: [occ(), occ({ kind: 'broker-restart' })], plannedFaults: 2 });
    expect(shortfalls(r, [])).toEqual(['never ran, the run being too short for them: one collector SIGKILL, restarted on its spool; data disk full (tmpfs), then freed; malformed-payload storm among good traffic']);
  });

  it('shows a value per minute, a column per process, a restart marked in its minute', () => {
    const first = inc({ endedAt: 90_000, samples: [{ t: 10, rssMb: 100 }, { t: 50, rssMb: 110 }, { t: 80, rssMb: 130 }] });
    const second = inc({ id: 'server#2', startedAt: 100_000, samples: [{ t: 0, rssMb: 90 }, { t: 30, rssMb: 94 }] });
    const mq = inc({ id: 'mosquitto#1', name: 'mosquitto', role: 'mosquitto', node: false, samples: [{ t: 30, rssMb: 9 }, { t: 150, rssMb: 10 }] });
    expect(perMinute({ startedAt: 0, endedAt: 180_000, incarnations: [first, mq, second] }, (x) => x.rssMb, 0)).toEqual([
      '| minute | server | mosquitto |',
      '|---|---|---|',
      '| 0 | 105 | 9 |',
      '| 1 | 110 ↻ |  |', // 130 from the first incarnation at 80 s, 90 from the second at 100 s
      '| 2 | 94 | 10 |',
    ]);
  });

  it('lists a rising memory trend as a shortfall without failing the run on it', () => {
    const leaky = inc({ samples: Array.from({ length: 361 }, (_, i) => ({ t: i * 5, rssMb: 200 + i * 0.1 })) }); // 72 MB/hour
    const r = facts({ incarnations: [leaky] });
    expect(processRow(leaky).rss.verdict).toBe('rising');
    expect(shortfalls(r, r.incarnations.map(processRow))).toEqual(['server#1: RSS slope after its first 5 minutes 72.0 ± 0.0 MB/hour, above the flat bound of 10 by more than twice its standard error']);
    expect(passed(r)).toBe(true);
  });
});
