/**
 * Sanity checks shared by the GPU sources (nvml, nvidia-smi): bad device data
 * is dropped with a reason and counted, never passed on and never thrown
 * (ARCHITECTURE §6.5). Pure functions plus a small counter.
 *
 * - a non-finite number is dropped ('nan');
 * - negative power is dropped ('negative_power');
 * - power above 10x the enforced limit is a sensor glitch, not a spike
 *   ('power_over_limit'): real transients stay well under 2x the limit;
 * - an energy counter that goes backwards was reset (driver reload, GPU
 *   reset): the new value is kept as the new baseline and flagged
 *   counter_reset (counted as `<prefix>_counter_reset`), so no one ever
 *   computes a negative energy across it.
 */

export type DropReason = 'nan' | 'negative_power' | 'power_over_limit' | 'out_of_range';

/** Power above this multiple of the enforced limit is rejected as impossible. */
export const MAX_POWER_OVER_LIMIT = 10;

export interface Checked {
  value?: number;
  drop?: DropReason;
}

export function checkPower(watts: number | undefined, limitW: number | undefined): Checked {
  if (watts === undefined) return {};
  if (!Number.isFinite(watts)) return { drop: 'nan' };
  if (watts < 0) return { drop: 'negative_power' };
  if (limitW !== undefined && limitW > 0 && watts > MAX_POWER_OVER_LIMIT * limitW) return { drop: 'power_over_limit' };
  return { value: watts };
}

/** A finite value within [min, max], else dropped. */
export function checkRange(v: number | undefined, min: number, max: number): Checked {
  if (v === undefined) return {};
  if (!Number.isFinite(v)) return { drop: 'nan' };
  if (v < min || v > max) return { drop: 'out_of_range' };
  return { value: v };
}

export interface CheckedEnergy extends Checked {
  /** True when the counter went backwards: value is the new baseline, differences across it are invalid. */
  reset?: boolean;
}

export function checkEnergy(mj: number | undefined, previousMj: number | undefined): CheckedEnergy {
  if (mj === undefined) return {};
  if (!Number.isFinite(mj) || mj < 0) return { drop: 'nan' };
  if (previousMj !== undefined && mj < previousMj) return { value: mj, reset: true };
  return { value: mj };
}

/** Named counters for health(): `<prefix>_dropped_<reason>` and free-form events. */
export class HealthCounters {
  private readonly counts = new Map<string, number>();

  constructor(private readonly prefix: string) {}

  add(name: string, n = 1): void {
    const key = `${this.prefix}_${name}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + n);
  }

  drop(reason: DropReason): void {
    this.add(`dropped_${reason}`);
  }

  get(name: string): number {
    return this.counts.get(`${this.prefix}_${name}`) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}
