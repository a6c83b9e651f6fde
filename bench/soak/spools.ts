/**
 * The collectors' health lines, pure: what a line says (messages still
 * spooled, windows produced and dropped, the process's memory and
 * event-loop delay), and whether the spools have drained after a fault:
 * back to what a collector holds in steady state (the windows waiting for
 * their ack), not to zero.
 */
import type { ProcessStatsSnapshot } from '../../cli/process-stats.js';

export interface CollectorHealth {
  /** When the line was read, ms. */
  at: number;
  /** Unacknowledged messages of every stream (gpu, job, meter/...), summed over hosts. */
  spooled: number;
  produced: number;
  dropped: number;
  process?: ProcessStatsSnapshot;
}

const PREFIX = 'collector health: ';

/** The health in one output line of `kilowatch collector`, or none when the line is something else. */
export function parseHealthLine(line: string, at: number): CollectorHealth | undefined {
  const i = line.indexOf(PREFIX);
  if (i < 0) return undefined;
  let h: Record<string, unknown>;
  try {
    h = JSON.parse(line.slice(i + PREFIX.length)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const sum = (suffix: string) => Object.entries(h).reduce((n, [k, v]) => (k.endsWith(suffix) && typeof v === 'number' ? n + v : n), 0);
  return {
    at,
    spooled: sum('_spooled'),
    produced: typeof h.gpu_produced === 'number' ? h.gpu_produced : 0,
    dropped: sum('_dropped'),
    ...(typeof h.process === 'object' && h.process !== null && { process: h.process as ProcessStatsSnapshot }),
  };
}

/** What a collector holds in steady state: the median of its recent lines' spooled counts. */
export function steadySpooled(lines: readonly CollectorHealth[], last = 6): number {
  const xs = lines.slice(-last).map((l) => l.spooled).sort((a, b) => a - b);
  if (xs.length === 0) return 0;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/**
 * Drained: the last `consecutive` lines read after `since` all hold at most
 * the steady level, with room for the jitter of acks in flight (half again,
 * plus two messages per host).
 */
export function drained(lines: readonly CollectorHealth[], since: number, steady: number, hosts: number, consecutive = 2): boolean {
  const after = lines.filter((l) => l.at >= since);
  if (after.length < consecutive) return false;
  const bound = steady * 1.5 + 2 * hosts;
  return after.slice(-consecutive).every((l) => l.spooled <= bound);
}
