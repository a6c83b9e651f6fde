/**
 * Is a process's memory or event-loop delay flat over a soak run? Pure:
 * the least-squares slope of its samples after its first minutes, per hour,
 * against a stated threshold, and the values at its start, at 5 minutes and
 * at its end.
 */

export interface Point {
  /** Seconds since the process (this incarnation) started. */
  t: number;
  v: number;
}

export interface Fit {
  /** Least-squares slope of v over t, per hour. */
  slope: number;
  /**
   * Its standard error, per hour, counting one independent sample a minute: samples a few seconds apart are
   * not independent (a GC sawtooth swings a Node process's RSS by tens of MB over minutes), so the plain
   * formula would claim far more certainty than the samples hold.
   */
  se: number;
}

/** The least-squares line through the points; undefined with fewer than 2 distinct times. */
export function fitLine(points: readonly Point[]): Fit | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const mv = points.reduce((a, p) => a + p.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.t - mt) * (p.v - mv);
    den += (p.t - mt) ** 2;
  }
  if (den === 0) return undefined;
  const slope = num / den;
  const residual = points.reduce((a, p) => a + (p.v - mv - slope * (p.t - mt)) ** 2, 0);
  const span = points[n - 1]!.t - points[0]!.t;
  const independent = Math.max(3, Math.min(n, span / 60 + 1));
  const se = n > 2 ? Math.sqrt(residual / (n - 2) / den) * Math.sqrt(n / independent) : 0;
  return { slope: slope * 3600, se: se * 3600 };
}

/** Least-squares slope of v over t, per hour; undefined with fewer than 2 distinct times. */
export function slopePerHour(points: readonly Point[]): number | undefined {
  return fitLine(points)?.slope;
}

export interface TrendRule {
  /** Samples before this are the process's start-up, not its trend (the issue: "after the first 5 minutes"). */
  skipS: number;
  /** Less than this span of samples after skipS is too short to call a trend. */
  minSpanS: number;
  /** Flat when the slope is at most this, per hour (a falling value is flat too). */
  maxPerHour: number;
}

/**
 * flat: the slope is at most the threshold. rising: it is above the threshold by more than twice its
 * standard error. unclear: above the threshold, but within twice its standard error of it (the samples swing
 * more than they trend over this span). too short: not enough time after the first minutes to tell.
 */
export type Verdict = 'flat' | 'rising' | 'unclear' | 'too short';

export interface Trend {
  slope?: number;
  se?: number;
  verdict: Verdict;
  /** Samples the slope was fitted on, and the span they cover, s. */
  n: number;
  spanS: number;
}

export function trend(points: readonly Point[], rule: TrendRule): Trend {
  const after = points.filter((p) => p.t >= rule.skipS);
  const spanS = after.length ? after[after.length - 1]!.t - after[0]!.t : 0;
  const fit = fitLine(after);
  if (!fit || spanS < rule.minSpanS) return { ...(fit && { slope: fit.slope, se: fit.se }), verdict: 'too short', n: after.length, spanS };
  const verdict = fit.slope <= rule.maxPerHour ? 'flat' : fit.slope - 2 * fit.se > rule.maxPerHour ? 'rising' : 'unclear';
  return { slope: fit.slope, se: fit.se, verdict, n: after.length, spanS };
}

/** The value of the first sample at or after `t` (the start: 0, "at 5 minutes": 300); none when the process did not live that long. */
export function valueAt(points: readonly Point[], t: number): number | undefined {
  const p = points.find((x) => x.t >= t);
  return p?.v;
}
