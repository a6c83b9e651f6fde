/** VictoriaMetrics' -retentionPeriod as the store reads it from /flags: a bare number counts months. */
import { describe, expect, it } from 'vitest';
import { retentionMs } from '../../../server/store/victoria-write.js';

const DAY = 86_400_000;

describe('retentionMs', () => {
  it('reads months, hours, days, weeks and years, and refuses what it cannot read', () => {
    expect([retentionMs('1'), retentionMs('12'), retentionMs('30d'), retentionMs('2w'), retentionMs('48h'), retentionMs('1y')]).toEqual([31 * DAY, 372 * DAY, 30 * DAY, 14 * DAY, 2 * DAY, 365 * DAY]);
    expect([retentionMs('forever'), retentionMs('')]).toEqual([undefined, undefined]);
  });
});
