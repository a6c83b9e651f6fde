import { describe, expect, it } from 'vitest';
import { HostWindow, StatAccumulator, publishOffsetMs, windowStart } from '../../collector/window.js';
import { validateGpuWindow } from '../../protocol/validate.js';

describe('edge windows', () => {
  it('are aligned to multiples of their length since the epoch', () => {
    expect(windowStart(1_764_000_000_999, 1000)).toBe(1_764_000_000_000);
    expect(windowStart(1_764_000_001_000, 1000)).toBe(1_764_000_001_000);
    expect(windowStart(1_764_000_004_000, 5000)).toBe(1_764_000_000_000);
  });

  it('keep a 200 ms spike inside a 1 s window as its max', () => {
    const w = new HostWindow(0, 1000);
    const powers = [300, 300, 300, 1050, 1050, 300, 300, 300, 300, 300]; // 10 Hz, spike at 300-500 ms
    powers.forEach((p) => w.add([{ id: 'GPU-a', power_w: p, power_limit_w: 700 }]));
    const body = w.close();
    expect(body.gpus[0]!.power_w).toEqual({ min: 300, max: 1050, mean: 450, last: 300, n: 10 });
  });

  it('sum the host total per sample, so its max is a true peak and not a sum of maxima', () => {
    const w = new HostWindow(0, 1000);
    w.add([{ id: 'a', power_w: 500 }, { id: 'b', power_w: 100 }]);
    w.add([{ id: 'a', power_w: 100 }, { id: 'b', power_w: 500 }]);
    const body = w.close();
    expect(body.host_power_w!.max).toBe(600); // each GPU peaked at 500, but never together
    expect(body.gpus.map((g) => g.power_w!.max)).toEqual([500, 500]);
  });

  it('leave fields the source did not read absent, and keep the last counter', () => {
    const w = new HostWindow(1000, 1000);
    w.add([{ id: 'a', power_w: 10, energy_mj: 100 }]);
    w.add([{ id: 'a', power_w: 12, energy_mj: 111 }]);
    const g = w.close().gpus[0]!;
    expect(g.energy_mj).toBe(111);
    expect(g).not.toHaveProperty('util_pct');
    expect(g).not.toHaveProperty('temp_c');
  });

  it('carry the last Xid code the source reported, and none when it reports 0', () => {
    const w = new HostWindow(1000, 1000);
    w.add([{ id: 'a', xid: 13 }, { id: 'b', xid: 0 }]);
    w.add([{ id: 'a', xid: 79 }, { id: 'b', xid: 0 }]);
    const [a, b] = w.close().gpus;
    expect(a!.xid).toBe(79);
    expect(b).not.toHaveProperty('xid');
    expect(validateGpuWindow({ v: 1, boot_id: 'b', seq: 0, first_seq: 0, ts: 1000, window_ms: 1000, gpus: [a, b] }).ok).toBe(true);
  });

  it('produce windows the protocol validator accepts', () => {
    const w = new HostWindow(2000, 1000);
    for (let i = 0; i < 10; i++) w.add([{ id: 'GPU-x', power_w: 100 + i * 0.1, util_pct: 50, temp_c: 40, power_limit_w: 700, energy_mj: 5000 + i }]);
    const r = validateGpuWindow({ v: 1, boot_id: 'b', seq: 0, first_seq: 0, ...w.close() });
    expect(r.ok).toBe(true);
  });

  it('keep the mean inside [min, max] despite float rounding', () => {
    const acc = new StatAccumulator();
    for (let i = 0; i < 10; i++) acc.add(0.1 + 0.2);
    const s = acc.toStat()!;
    expect(s.mean).toBeGreaterThanOrEqual(s.min);
    expect(s.mean).toBeLessThanOrEqual(s.max);
  });

  it('spread hosts over the first half of the window', () => {
    const offsets = Array.from({ length: 100 }, (_, i) => publishOffsetMs(i * 2654435761, 1000));
    expect(Math.max(...offsets)).toBeLessThan(500);
    expect(new Set(offsets).size).toBeGreaterThan(50);
  });
});
