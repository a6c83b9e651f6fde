import { describe, expect, it } from 'vitest';
import { HostRate } from '../../../server/core/host-rate.js';

describe('per-host rate limits', () => {
  it('let a burst through, then the sustained rate, per host, and count what they refuse', () => {
    const r = new HostRate({ perSecond: 10, burst: 50, maxHosts: 10 });
    let passed = 0;
    for (let i = 0; i < 80; i++) if (r.take('dc', 'a', 0)) passed += 1;
    expect(passed).toBe(50);
    expect(r.take('dc', 'b', 0)).toBe(true); // another host has its own bucket
    expect(r.take('dc', 'a', 100)).toBe(true); // 100 ms later: one token back
    expect(r.take('dc', 'a', 100)).toBe(false);
    expect(r.refused).toBe(31);
  });

  it('keep the map bounded: hosts beyond the bound share one bucket', () => {
    const r = new HostRate({ perSecond: 1, burst: 3, maxHosts: 2 });
    expect([r.take('s', 'h1', 0), r.take('s', 'h2', 0)]).toEqual([true, true]);
    expect([r.take('s', 'h3', 0), r.take('s', 'h4', 0), r.take('s', 'h5', 0), r.take('s', 'h6', 0)]).toEqual([true, true, true, false]);
  });
});
