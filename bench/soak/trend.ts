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

/** Least-squares slope of v over t, per hour; undefined with fewer than 2 distinct times. */
export function slopePerHour(points: readonly Point[]): number | undefined {
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
  return den === 0 ? undefined : (num / den) * 3600;
}

export interface TrendRule {
  /** Samples before this are the process's start-up, not its trend (the issue: "after the first 5 minutes"). */
  skipS: number;
  /** Less than this span of samples after skipS is too short to call a trend. */
  minSpanS: number;
  /** Flat when the slope is at most this, per hour (a falling value is flat too). */
  maxPerHour: number;
}

export type Verdict = 'flat' | 'rising' | 'too short';

export interface Trend {
  slope?: number;
  verdict: Verdict;
  /** Samples the slope was fitted on, and the span they cover, s. */
  n: number;
  spanS: number;
}

export function trend(points: readonly Point[], rule: TrendRule): Trend {
  const after = points.filter((p) => p.t >= rule.skipS);
  const spanS = after.length ? after[after.length - 1]!.t - after[0]!.t : 0;
  const slope = slopePerHour(after);
  if (slope === undefined || spanS < rule.minSpanS) return { ...(slope !== undefined && { slope }), verdict: 'too short', n: after.length, spanS };
  return { slope, verdict: slope <= rule.maxPerHour ? 'flat' : 'rising', n: after.length, spanS };
}

/** The value of the first sample at or after `t` (the start: 0, "at 5 minutes": 300); none when the process did not live that long. */
export function valueAt(points: readonly Point[], t: number): number | undefined {
  const p = points.find((x) => x.t >= t);
  return p?.v;
}
