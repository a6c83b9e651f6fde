import { describe, expect, it } from 'vitest';
import { DASH } from '../../web/src/lib/format-energy.js';
import {
  formatClock,
  formatCost,
  formatDateTime,
  formatDuration,
  formatEventTime,
  formatGpuHours,
  formatPercent,
  formatRatio,
  formatShare,
  formatShortDateTime,
  formatUtc,
  formatWatts,
} from '../../web/src/lib/format-values.js';

const ABSENT = [null, undefined, Number.NaN, Infinity, -Infinity];

describe('every formatter prints a dash for an absent value, never NaN', () => {
  const all = { formatShare, formatPercent, formatRatio, formatGpuHours, formatWatts, formatDuration, formatUtc };
  for (const [name, fn] of Object.entries(all)) {
    it(name, () => {
      for (const v of ABSENT) expect(fn(v)).toBe(DASH);
    });
  }

  it('formatCost and formatDateTime', () => {
    for (const v of ABSENT) {
      expect(formatCost(v, 'EUR')).toBe(DASH);
      expect(formatDateTime(v, 'UTC')).toBe(DASH);
      expect(formatShortDateTime(v, 0, 'UTC')).toBe(DASH);
    }
  });
});

describe('shares and percentages', () => {
  it.each([
    [0, '0 %'],
    [0.004, '<1 %'],
    [0.5244, '52 %'],
    [1, '100 %'],
  ])('share %s reads %s', (f, text) => {
    expect(formatShare(f)).toBe(text);
  });

  it.each([
    [4.4358, '4.4 %'],
    [0, '0.0 %'],
    [88.93, '89 %'],
    [100, '100 %'],
  ])('utilization %s reads %s', (p, text) => {
    expect(formatPercent(p)).toBe(text);
  });

  it('meter to GPU ratio', () => {
    expect(formatRatio(1.40425)).toBe('1.40×');
    expect(formatRatio(0.98)).toBe('0.98×');
  });
});

describe('GPU-hours and power', () => {
  it('GPU-hours keep three significant digits', () => {
    expect(formatGpuHours(0.00993)).toBe('0.00993 GPU·h');
    expect(formatGpuHours(12.345)).toBe('12.3 GPU·h');
    expect(formatGpuHours(0)).toBe('0 GPU·h');
  });

  it('power scales like the overview', () => {
    expect(formatWatts(173.02)).toBe('173 W');
    expect(formatWatts(1249.8)).toBe('1.25 kW');
  });
});

describe('formatCost', () => {
  it('keeps three significant digits below one unit, so a job does not read as free', () => {
    expect(formatCost(0.00014838, 'EUR')).toBe('€0.000148');
    expect(formatCost(0.0013, 'EUR')).toBe('€0.00130');
    expect(formatCost(0.5, 'USD')).toBe('$0.500');
  });

  it('two decimals from one unit up, and zero as zero', () => {
    expect(formatCost(1234.567, 'EUR')).toBe('€1,234.57');
    expect(formatCost(0, 'EUR')).toBe('€0.00');
  });

  it('an unknown currency code follows the number; no code gives a bare number', () => {
    expect(formatCost(2, 'KWATT')).toBe('2.00 KWATT');
    expect(formatCost(2, undefined)).toBe('2.00');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0 s'],
    [45_900, '45 s'],
    [12 * 60_000 + 5000, '12 min'],
    [3 * 3_600_000 + 5 * 60_000, '3 h 05 min'],
    [(2 * 24 + 4) * 3_600_000, '2 d 4 h'],
  ])('%s ms reads %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('a negative duration (clock skew) is a dash', () => {
    expect(formatDuration(-1)).toBe(DASH);
  });
});

describe('times', () => {
  const t = Date.UTC(2026, 10, 28, 23, 5, 9);

  it('prints year-month-day and a 24-hour clock in the given zone', () => {
    expect(formatDateTime(t, 'UTC')).toBe('2026-11-28 23:05');
    expect(formatDateTime(t, 'Europe/Berlin')).toBe('2026-11-29 00:05');
    expect(formatDateTime(Date.UTC(2026, 0, 1, 0, 0), 'UTC')).toBe('2026-01-01 00:00');
  });

  it('UTC to the second for the hover title', () => {
    expect(formatUtc(t)).toBe('2026-11-28 23:05:09 UTC');
  });

  it('short form drops what today already says', () => {
    expect(formatShortDateTime(t, t + 3_600_000 * 0.5, 'UTC')).toBe('23:05');
    expect(formatShortDateTime(t, t + 86_400_000, 'UTC')).toBe('11-28 23:05');
    expect(formatShortDateTime(t, t + 40 * 86_400_000, 'UTC')).toBe('2026-11-28 23:05');
    // "Today" is the zone's today: 23:05 UTC is already tomorrow in Berlin.
    expect(formatShortDateTime(t, t + 3_600_000 * 0.5, 'Europe/Berlin')).toBe('00:05');
  });
});

describe('formatEventTime', () => {
  const t = Date.UTC(2026, 10, 28, 23, 5, 7);
  it('shows seconds today and the date on other days', () => {
    expect(formatClock(t, 'UTC')).toBe('23:05:07');
    expect(formatEventTime(t, t + 60_000, 'UTC')).toBe('23:05:07');
    expect(formatEventTime(t, t + 86_400_000, 'UTC')).toBe('11-28 23:05');
    expect(formatEventTime(undefined, t, 'UTC')).toBe(DASH);
  });
});
