/** The soak run's fault schedule (bench/soak/schedule.ts) and its options (bench/soak/options.ts). */
import { describe, expect, it } from 'vitest';
import { parseSoakArgs } from '../../bench/soak/options.js';
import { SERVER_KILL_SPACING_S, type Timing, expectedSeconds, faultCycle, nextFault, planFaults } from '../../bench/soak/schedule.js';

const timing: Timing = { outageS: 60, stormMessages: 1_000_000, stormPerSecond: 1500, settleS: 45 };

describe('the fault cycle', () => {
  it('fills the disk only under DuckDB, and stops and kills VictoriaMetrics only when it is the store', () => {
    expect(faultCycle('duckdb')).toEqual(['broker-restart', 'server-kill', 'collector-kill', 'disk-full', 'storm']);
    expect(faultCycle('victoriametrics')).toEqual(['broker-restart', 'server-kill', 'collector-kill', 'vm-stop', 'vm-kill', 'storm']);
  });

  it('expects an outage plus the settling time, a storm by its size, a collector down at most 10 s', () => {
    expect(expectedSeconds('broker-restart', timing)).toBe(105);
    expect(expectedSeconds('vm-stop', timing)).toBe(105);
    expect(expectedSeconds('vm-kill', timing)).toBe(50);
    expect(expectedSeconds('collector-kill', timing)).toBe(55);
    expect(expectedSeconds('storm', timing)).toBe(667 + 45);
  });

  it('passes over a fault too long for the time left for a shorter one later in the cycle, and gives up when none fits', () => {
    const cycle = faultCycle('duckdb');
    // At the storm with 200 s left: the storm (712 s) does not fit, the broker restart (105 s) does.
    expect(nextFault(cycle, 4, 200, timing)).toEqual({ kind: 'broker-restart', index: 5 });
    expect(nextFault(cycle, 0, 60, timing)).toEqual({ kind: 'collector-kill', index: 2 });
    expect(nextFault(cycle, 0, 50, timing)).toBeUndefined();
  });
});

describe('server kills', () => {
  it('come at most every SERVER_KILL_SPACING_S, so one server incarnation lives long enough to show its memory trend', () => {
    const cycle = faultCycle('duckdb');
    expect(nextFault(cycle, 1, 1000, timing, SERVER_KILL_SPACING_S - 1)).toEqual({ kind: 'collector-kill', index: 2 });
    expect(nextFault(cycle, 1, 1000, timing, SERVER_KILL_SPACING_S)).toEqual({ kind: 'server-kill', index: 1 });
    // A two-hour run with short faults: kills at least SERVER_KILL_SPACING_S apart, and more than one of them.
    const quick = { outageS: 15, stormMessages: 100_000, stormPerSecond: 2500, settleS: 45 };
    const kills = planFaults('duckdb', { totalS: 7200, warmupS: 300, gapS: 30, finalS: 60 }, quick).filter((p) => p.kind === 'server-kill');
    expect(kills.length).toBeGreaterThan(2);
    for (let i = 1; i < kills.length; i++) expect(kills[i]!.atS - kills[i - 1]!.atS).toBeGreaterThanOrEqual(SERVER_KILL_SPACING_S);
  });
});

describe('the plan of a run', () => {
  it('the default 30 minutes: a 5-minute warm-up, every DuckDB fault once, then the cycle again while time is left, all ending before the last minute', () => {
    const plan = planFaults('duckdb', { totalS: 1800, warmupS: 300, gapS: 30, finalS: 60 }, timing);
    expect(plan[0]).toEqual({ kind: 'broker-restart', atS: 300 });
    // After the storm (712 s expected) 213 s are left: a broker restart fits, then only the short collector kill.
    expect(plan.map((p) => p.kind)).toEqual(['broker-restart', 'server-kill', 'collector-kill', 'disk-full', 'storm', 'broker-restart', 'collector-kill']);
    const last = plan.at(-1)!;
    expect(last.atS + expectedSeconds(last.kind, timing)).toBeLessThanOrEqual(1800 - 60);
    // One at a time: each starts after the previous one's expected end and the gap.
    for (let i = 1; i < plan.length; i++) expect(plan[i]!.atS).toBe(plan[i - 1]!.atS + expectedSeconds(plan[i - 1]!.kind, timing) + 30);
  });

  it('a short run with a small storm gets every fault of its store', () => {
    const t = { outageS: 15, stormMessages: 100_000, stormPerSecond: 2500, settleS: 60 };
    const plan = planFaults('victoriametrics', { totalS: 720, warmupS: 60, gapS: 20, finalS: 60 }, t);
    expect(new Set(plan.map((p) => p.kind))).toEqual(new Set(faultCycle('victoriametrics')));
  });

  it('plans nothing when no fault fits after the warm-up', () => {
    expect(planFaults('duckdb', { totalS: 120, warmupS: 60, gapS: 20, finalS: 60 }, timing)).toEqual([]);
  });
});

describe('npm run soak options', () => {
  it('defaults to 30 minutes of DuckDB, 4 x 8 x 8 GPUs, 60 s outages and storms of a million', () => {
    expect(parseSoakArgs([])).toMatchObject({ minutes: 30, store: 'duckdb', collectors: 4, hosts: 8, gpus: 8, warmupMinutes: 5, outageS: 60, gapS: 30, storm: 1_000_000, report: 'bench/SOAK.md' });
  });

  it('shortens the warm-up and the gaps of a short run, and takes --flag value and --flag=value', () => {
    expect(parseSoakArgs(['--minutes', '9', '--store=victoriametrics', '--storm', '100000', '--keep'])).toMatchObject({ minutes: 9, store: 'victoriametrics', warmupMinutes: 1.5, gapS: 20, storm: 100_000, keep: true });
  });

  it('refuses unknown options, bad stores and bad numbers with the reason', () => {
    expect(() => parseSoakArgs(['--minuets', '5'])).toThrow(/unknown option --minuets/);
    expect(() => parseSoakArgs(['--store', 'influx'])).toThrow(/duckdb or victoriametrics, not "influx"/);
    expect(() => parseSoakArgs(['--hosts', '0'])).toThrow(/at least 1/);
    expect(() => parseSoakArgs(['--storm', '1.5'])).toThrow(/whole/);
    expect(() => parseSoakArgs(['--minutes'])).toThrow(/needs a value/);
  });
});
