/** Meter windows: aligned by receive time, stats per quantity, counters as read, resets counted. */
import { describe, expect, it } from 'vitest';
import { MeterWindows } from '../../../collector/meters/meter-windows.js';

const T0 = 1_795_867_200_000; // a multiple of 10 s

describe('MeterWindows', () => {
  it('aggregates the readings of one window and keeps absent quantities absent', () => {
    const w = new MeterWindows(10_000);
    w.add({ meter: 'pv', power_w: -2061, energy_export_wh: 5120077 }, T0 + 1000);
    w.add({ meter: 'pv', power_w: -2039.6, energy_export_wh: 5120083 }, T0 + 6000);
    expect(w.takeDue(T0 + 9999)).toEqual([]); // not over yet
    expect(w.takeDue(T0 + 10_000)).toEqual([
      { meter: 'pv', body: { ts: T0, window_ms: 10_000, power_w: { min: -2061, max: -2039.6, mean: -2050.3, last: -2039.6, n: 2 }, energy_export_wh: 5120083 } },
    ]);
    expect(w.takeDue(T0 + 20_000)).toEqual([]); // taken once
  });

  it('closes a window when the next reading of the same meter falls in a later window', () => {
    const w = new MeterWindows(10_000);
    w.add({ meter: 'a', voltage_v: 230 }, T0);
    w.add({ meter: 'b', current_a: 2 }, T0 + 500);
    w.add({ meter: 'a', voltage_v: 231 }, T0 + 10_000);
    // a's first window went out with its own reading only; b's is still open until the clock passes it.
    expect(w.takeDue(T0 + 9_000)).toEqual([{ meter: 'a', body: { ts: T0, window_ms: 10_000, voltage_v: { min: 230, max: 230, mean: 230, last: 230, n: 1 } } }]);
    expect(w.takeAll().map((c) => [c.meter, c.body.ts]).sort()).toEqual([['a', T0 + 10_000], ['b', T0]]);
  });

  it('flags a counter that goes backwards and still reports the value as read', () => {
    const w = new MeterWindows(1000);
    expect(w.add({ meter: 'plug', energy_import_wh: 1890 }, T0)).toBe(false);
    expect(w.add({ meter: 'plug', energy_import_wh: 1890 }, T0 + 100)).toBe(false); // unchanged is not a reset
    expect(w.add({ meter: 'plug', energy_import_wh: 3 }, T0 + 1500)).toBe(true);
    expect(w.counterResets).toBe(1);
    expect(w.takeAll().map((c) => c.body.energy_import_wh)).toEqual([1890, 3]);
  });
});
