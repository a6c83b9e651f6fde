import { describe, expect, it } from 'vitest';
import { jobAccuracy } from '../../bench/accuracy.js';

// The bench's accuracy row in small: simulated jobs through the sampler, job tracker, DuckDB store and
// ledger, each against the simulator's closed-form energy and the bound README "Energy" states.
describe('job energy against the analytic truth', () => {
  it.each([true, false])('stays within the stated bound (counter: %s)', async (withCounter) => {
    const r = await jobAccuracy(1, 12, withCounter);
    expect(r.jobs.length).toBeGreaterThanOrEqual(3);
    for (const j of r.jobs) {
      expect(j.truthJ).toBeGreaterThan(10_000); // a real job: 2 GPUs for 5 minutes
      expect(Math.abs(j.kilowatchJ - j.truthJ)).toBeLessThanOrEqual(j.boundJ);
    }
    expect(r.within).toBe(r.jobs.length);
    // The bound is not vacuous: it is a small share of each job's energy.
    for (const j of r.jobs) expect(j.boundJ / j.truthJ).toBeLessThan(withCounter ? 5e-4 : 2e-3);
  });
});
