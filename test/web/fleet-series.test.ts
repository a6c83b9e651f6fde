import { describe, expect, it } from 'vitest';
import { FLEET_COLUMNS } from '../../protocol/ws.js';
import {
  columnOrder,
  emptyColumns,
  formatPower,
  lastValue,
  mergeColumns,
  newestFullRow,
  pickColumns,
  scalePower,
  settledRowCount,
  trimToWindow,
  type Columns,
} from '../../web/src/lib/fleet-series.js';

const MIN = 60_000;
const WINDOW = 15 * MIN;

/** Columns [ts, power_w, peak_upper_w] from rows, to keep expectations readable. */
function cols(...rows: (number | null)[][]): Columns {
  return [0, 1, 2].map((c) => rows.map((r) => r[c] ?? null));
}

function rowsOf(columns: Columns): (number | null)[][] {
  return (columns[0] ?? []).map((_, r) => columns.map((col) => col[r] ?? null));
}

describe('mergeColumns', () => {
  const base = cols([1000, 10, 12], [2000, 20, 24], [3000, 30, 36]);

  it('replace sets the whole history and ignores what was there', () => {
    const { columns, dropped } = mergeColumns(base, cols([5000, 50, 60], [6000, 60, 70]), true, WINDOW);
    expect(rowsOf(columns)).toEqual([
      [5000, 50, 60],
      [6000, 60, 70],
    ]);
    expect(dropped).toBe(0);
  });

  it('replace with no rows empties the series', () => {
    const { columns } = mergeColumns(base, cols(), true, WINDOW);
    expect(columns).toEqual([[], [], []]);
  });

  it('a newer ts appends', () => {
    const { columns } = mergeColumns(base, cols([4000, 40, 48]), false, WINDOW);
    expect(columns[0]).toEqual([1000, 2000, 3000, 4000]);
    expect(columns[1]).toEqual([10, 20, 30, 40]);
    expect(columns[2]).toEqual([12, 24, 36, 48]);
  });

  it('the same ts replaces that row instead of adding one', () => {
    const { columns } = mergeColumns(base, cols([2000, 21, 25]), false, WINDOW);
    expect(rowsOf(columns)).toEqual([
      [1000, 10, 12],
      [2000, 21, 25],
      [3000, 30, 36],
    ]);
  });

  it('an out-of-order row is inserted at its place, keeping ts ascending', () => {
    const { columns } = mergeColumns(base, cols([4000, 40, 48], [2500, 25, 30]), false, WINDOW);
    expect(columns[0]).toEqual([1000, 2000, 2500, 3000, 4000]);
    expect(columns[1]).toEqual([10, 20, 25, 30, 40]);
  });

  it('a row older than everything goes first', () => {
    const { columns } = mergeColumns(base, cols([500, 5, 6]), false, WINDOW);
    expect(columns[0]).toEqual([500, 1000, 2000, 3000]);
  });

  it('an unsorted replace comes out sorted, later duplicates winning', () => {
    const { columns } = mergeColumns(emptyColumns(3), cols([3000, 3, 3], [1000, 1, 1], [3000, 33, 33]), true, WINDOW);
    expect(rowsOf(columns)).toEqual([
      [1000, 1, 1],
      [3000, 33, 33],
    ]);
  });

  it('never mutates its inputs', () => {
    const current = cols([1000, 10, 12]);
    const incoming = cols([1000, 11, 13], [2000, 20, 24]);
    const before = JSON.stringify([current, incoming]);
    const { columns } = mergeColumns(current, incoming, false, WINDOW);
    expect(JSON.stringify([current, incoming])).toBe(before);
    expect(columns).not.toBe(current);
    expect(columns[0]).not.toBe(current[0]);
  });

  it('returns the same object for an empty delta, so nothing redraws', () => {
    const { columns } = mergeColumns(base, cols(), false, WINDOW);
    expect(columns).toBe(base);
  });

  it('drops and counts rows whose ts is not a number', () => {
    const incoming: Columns = [
      [4000, null, 5000],
      [40, 45, 50],
      [48, 54, 60],
    ];
    const { columns, dropped } = mergeColumns(base, incoming, false, WINDOW);
    expect(dropped).toBe(1);
    expect(columns[0]).toEqual([1000, 2000, 3000, 4000, 5000]);
    expect(columns[1]).toEqual([10, 20, 30, 40, 50]);
  });

  it('missing value columns become null gaps', () => {
    const { columns } = mergeColumns(base, [[4000]], false, WINDOW);
    expect(rowsOf(columns).at(-1)).toEqual([4000, null, null]);
  });

  it('trims to the window before the newest row', () => {
    const start = 1_700_000_000_000;
    const history = cols(...Array.from({ length: 16 }, (_, i) => [start + i * MIN, i, i]));
    // 16 rows one minute apart span 15 minutes: the first falls on the cutoff and goes.
    const { columns } = mergeColumns(emptyColumns(3), history, true, WINDOW);
    expect(columns[0]).toHaveLength(15);
    expect(columns[0]?.[0]).toBe(start + MIN);
    // One more minute pushes the next oldest row out.
    const next = mergeColumns(columns, cols([start + 16 * MIN, 16, 16]), false, WINDOW).columns;
    expect(next[0]).toHaveLength(15);
    expect(next[0]?.[0]).toBe(start + 2 * MIN);
    expect(next[1]?.at(-1)).toBe(16);
  });

  it('a late row older than the window is trimmed away at once', () => {
    const start = 1_700_000_000_000;
    const current = cols([start, 1, 1], [start + 20 * MIN, 2, 2]);
    const { columns } = mergeColumns(current, cols([start + 10 * MIN, 3, 3]), false, WINDOW);
    expect(columns[0]).toEqual([start + 10 * MIN, start + 20 * MIN]);
  });
});

describe('trimToWindow', () => {
  it('keeps the same object when nothing is older than the window', () => {
    const c = cols([1000, 1, 1], [2000, 2, 2]);
    expect(trimToWindow(c, WINDOW)).toBe(c);
  });

  it('cuts by the newest row, not by the clock', () => {
    const c = cols([0, 1, 1], [5000, 2, 2], [10_000, 3, 3]);
    expect(trimToWindow(c, 6000)[0]).toEqual([5000, 10_000]);
  });
});

describe('columnOrder and pickColumns', () => {
  it('reorders wire columns by name and fills unknown ones with nulls', () => {
    const schema = [
      { name: 'power_w', unit: 'W' as const, label: '' },
      { name: 'ts', unit: 'ms' as const, label: '' },
      { name: 'extra', unit: 'count' as const, label: '' },
    ];
    const order = columnOrder(schema, ['ts', 'power_w', 'peak_upper_w']);
    expect(order).toEqual([1, 0, -1]);
    const picked = pickColumns(
      [
        [100, 200],
        [1000, 2000],
        [7, 8],
      ],
      order,
    );
    expect(picked).toEqual([
      [1000, 2000],
      [100, 200],
      [null, null],
    ]);
  });

  it('maps the contract columns onto themselves', () => {
    const names = FLEET_COLUMNS.map((c) => c.name);
    expect(columnOrder(FLEET_COLUMNS, names)).toEqual([0, 1, 2, 3]);
  });

  it('turns non-numbers and non-finite values into gaps', () => {
    expect(pickColumns([[1, 2, 3], ['x', Infinity, 5]], [0, 1])).toEqual([
      [1, 2, 3],
      [null, null, 5],
    ]);
  });
});

describe('lastValue', () => {
  it('skips trailing gaps', () => {
    expect(lastValue(cols([1, 5, 9], [2, null, 8]), 1)).toBe(5);
    expect(lastValue(cols(), 1)).toBeNull();
  });
});

describe('formatPower', () => {
  it.each([
    [0, '0 W'],
    [845, '845 W'],
    [845.4, '845 W'],
    [999.4, '999 W'],
    [999.6, '1.00 kW'],
    [1234, '1.23 kW'],
    [12_345, '12.3 kW'],
    [123_456, '123 kW'],
    [999_999, '1.00 MW'],
    [1_250_000, '1.25 MW'],
    [2_500_000_000, '2500 MW'],
    [-0.001, '0 W'],
  ])('%s W reads %s', (watts, text) => {
    expect(formatPower(watts)).toBe(text);
  });

  it('shows a dash for unknown values', () => {
    expect(formatPower(null)).toBe('–');
    expect(formatPower(undefined)).toBe('–');
    expect(formatPower(Number.NaN)).toBe('–');
  });

  it('splits value and unit for the big number', () => {
    expect(scalePower(48_210)).toEqual({ value: '48.2', unit: 'kW' });
  });
});

describe('newestFullRow', () => {
  it('takes the newest row every host reported in, else the best covered recent one', () => {
    const cols = [
      [1, 2, 3, 4],
      [10, 11, 12, 9],
      [12, 13, 14, 10],
      [1, 1, 0.5, 0.875],
    ];
    expect(newestFullRow(cols, 3)).toBe(1);
    expect(newestFullRow([[1, 2], [1, 1], [1, 1], [0.5, 0.75]], 3)).toBe(1);
    expect(newestFullRow([[1, 2, 3], [1, 1, 1], [1, 1, 1], [0.5, 0.9, 0.75]], 3)).toBe(1);
    expect(newestFullRow([[], [], [], []], 3)).toBe(-1);
  });
});

describe('settledRowCount', () => {
  const cols = (coverage: (number | null)[]) => [coverage.map((_, i) => i * 1000), coverage.map(() => 100), coverage.map(() => 120), coverage];
  it('holds back the trailing buckets that are still filling, at most three', () => {
    expect(settledRowCount(cols([1, 1, 1, 0.5, 0.2]), 3)).toBe(3);
    expect(settledRowCount(cols([1, 1, 1]), 3)).toBe(3);
    expect(settledRowCount(cols([0.8, 0.8, 0.8, 0.8, 0.8]), 3)).toBe(5); // a host is gone: the lower sum is real
    expect(settledRowCount(cols([]), 3)).toBe(0);
  });
});
