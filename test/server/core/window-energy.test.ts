/** Per-window energy: counter differences, edge integrals, late windows and resets (ARCHITECTURE.md §4). */
import { describe, expect, it } from 'vitest';
import { WindowEnergy } from '../../../server/core/window-energy.js';

const w = (ts: number, over: object = {}) => ({ key: 'g', ts, window_ms: 1000, power_mean_w: 300, ...over });

describe('WindowEnergy', () => {
  it('takes counter differences, which stay exact across a gap', () => {
    const e = new WindowEnergy();
    expect(e.of(w(0, { energy_mj: 1_000_000 }))).toEqual({ energy_j: 300, from: 'mean' }); // no previous counter yet
    expect(e.of(w(1000, { energy_mj: 1_310_000 }))).toEqual({ energy_j: 310, from: 'counter' });
    expect(e.of(w(5000, { energy_mj: 2_510_000 }))).toEqual({ energy_j: 1200, from: 'counter', since: 2000, sinceMj: 1_310_000 }); // a 3 s gap: 300 W each of 4 s, from the previous reading
    e.commit();
  });

  it('counts a late window as covered by the later counter difference, and integrates windows without a counter', () => {
    const e = new WindowEnergy();
    e.of(w(0, { energy_mj: 0 }));
    e.of(w(2000, { energy_mj: 600_000 }));
    expect(e.of(w(1000, { energy_mj: 300_000 }))).toEqual({ energy_j: 0, from: 'covered' });
    const n = new WindowEnergy();
    expect(n.of(w(0, { window_energy_mj: 290_500 }))).toEqual({ energy_j: 290.5, from: 'integral' });
    expect(n.of(w(0, { window_energy_mj: 290_500 }))).toEqual({ energy_j: 290.5, from: 'integral' }); // late without a counter: its own energy
    expect(n.of(w(1000, { power_mean_w: undefined }))).toEqual({});
  });

  it('integrates a late window that no counter chain counted, and covers one inside an earlier chain after a reset', () => {
    const e = new WindowEnergy();
    e.of(w(5000, { energy_mj: 5_000_000 })); // arrives first: counted by its mean, a chain starts at 5 s
    expect(e.of(w(3000, { energy_mj: 4_400_000 }))).toEqual({ energy_j: 300, from: 'mean' }); // before the chain: never counted
    expect(e.of(w(8000, { energy_mj: 5_900_000 }))).toEqual({ energy_j: 900, from: 'counter', since: 6000, sinceMj: 5_000_000 });
    expect(e.of(w(9000, { energy_mj: 100 }))).toEqual({ energy_j: 300, from: 'mean' }); // reset: a new chain from 9 s
    expect(e.of(w(7000, { energy_mj: 5_600_000 }))).toEqual({ energy_j: 0, from: 'covered' }); // inside the 5-9 s chain
    expect(e.of(w(4000, { energy_mj: 4_700_000 }))).toEqual({ energy_j: 300, from: 'mean' });
  });

  it('reads a counter that goes backwards or jumps impossibly far as a reset', () => {
    const e = new WindowEnergy();
    e.of(w(0, { energy_mj: 9_000_000 }));
    expect(e.of(w(1000, { energy_mj: 100 }))).toEqual({ energy_j: 300, from: 'mean' });
    expect(e.of(w(2000, { energy_mj: 100 + 6_000_000 }))).toEqual({ energy_j: 300, from: 'mean' }); // 6 kJ in 1 s is 6 kW
    expect(e.of(w(3000, { energy_mj: 100 + 6_000_000 + 250_000 }))).toEqual({ energy_j: 250, from: 'counter' });
  });

  it('forgets a failed batch, so its retry is not mistaken for a late window, and keeps state after commit', () => {
    const e = new WindowEnergy();
    e.seed('g', 1000, 1_000_000);
    expect(e.of(w(1000, { energy_mj: 1_300_000 }))).toEqual({ energy_j: 300, from: 'counter' });
    e.rollback();
    expect(e.of(w(1000, { energy_mj: 1_300_000 }))).toEqual({ energy_j: 300, from: 'counter' });
    e.commit();
    expect(e.of(w(2000, { energy_mj: 1_600_000 }))).toEqual({ energy_j: 300, from: 'counter' });
  });

  it('stays bounded, forgetting the least recently written GPU first', () => {
    const e = new WindowEnergy(2);
    ['a', 'b', 'a', 'c'].forEach((key, i) => {
      e.of({ key, ts: i * 1000, window_ms: 1000, energy_mj: i });
      e.commit();
    });
    expect(e.evicted).toBe(1);
    expect(e.of({ key: 'b', ts: 9000, window_ms: 1000, energy_mj: 9, power_mean_w: 1 })).toEqual({ energy_j: 1, from: 'mean' }); // b was forgotten
    expect(e.of({ key: 'a', ts: 9000, window_ms: 1000, energy_mj: 9, power_mean_w: 1 }).from).toBe('counter');
  });
});
