/**
 * Counter gaps that may still fill (ARCHITECTURE.md §4, "Order"). When a
 * GPU's windows stop for a while and a later window arrives first, its
 * counter difference covers the whole gap, and the ledger spreads that
 * energy evenly over it. If the missing windows then arrive late (replayed
 * from a spool), each one splits the gap at its own counter reading: the
 * ledger reverses what it attributed for the covering window and attributes
 * both parts again, now with the late window's own time, utilization and
 * processes. Each part is again exact (a counter difference), so the total
 * never changes; only where in time, and to whom, it goes.
 *
 * Pure bookkeeping: this file remembers the covering windows (rare: one
 * per GPU per outage) and answers "which gap holds this late window, and
 * what are the two parts". Changes are journaled per batch so a batch that
 * the store rolls back leaves the memory as it was.
 */
import type { GpuReading, GpuWindow } from '../../protocol/payloads.js';

/** A window whose counter difference spans a gap [since, window.ts), with what its attribution needs. */
export interface GapWindow {
  site: string;
  host: string;
  window: GpuWindow;
  board: GpuReading;
  /** The MIG instances of the board in that window (their readings split its energy); empty for a whole GPU. */
  instances: readonly GpuReading[];
  /** Where the covered time begins: the previous counter reading's instant. */
  since: number;
  /** The counter at `since` and at the window's end, mJ. */
  sinceMj: number;
  endMj: number;
}

/** How a late window splits the gap that holds it. */
export interface GapSplit {
  /** The covering window as attributed so far: to be reversed. */
  before: GapWindow;
  /** The late window's part: from the gap's start to its own end. */
  lateEnergyJ: number;
  lateSince: number;
  /** The covering window's new part: from the late window's end to its own end. */
  after: GapWindow;
}

export type GapLookup = { split: GapSplit } | { refused: 'no_gap' | 'not_monotonic' };

/** Gaps kept per GPU; older ones are forgotten (and counted): their late windows add 0 J, as before. */
const MAX_GAPS_PER_GPU = 8;

export class GapMemory {
  private readonly gaps = new Map<string, readonly GapWindow[]>();
  /** The lists as they were before this batch touched them; undefined: the GPU had none. */
  private readonly journal = new Map<string, readonly GapWindow[] | undefined>();
  forgotten = 0;

  /** Remembers a window whose counter difference covered a gap. */
  remember(key: string, g: GapWindow): void {
    const list = (this.gaps.get(key) ?? []).filter((x) => x.window.ts !== g.window.ts); // a retried batch replaces its own
    list.push(g);
    list.sort((a, b) => a.window.ts - b.window.ts);
    while (list.length > MAX_GAPS_PER_GPU) {
      list.shift();
      this.forgotten += 1;
    }
    this.set(key, list);
  }

  /**
   * Splits the gap holding a late window that ends with counter `lateMj`,
   * and remembers the parts that are still gaps. A counter outside the
   * gap's two readings (a reset inside the gap) cannot be placed: refused.
   */
  split(key: string, late: { ts: number; window_ms: number; lateMj: number; reading: GpuReading; instances: readonly GpuReading[]; window: GpuWindow }): GapLookup {
    const list = this.gaps.get(key) ?? [];
    const end = late.ts + late.window_ms;
    const g = list.find((x) => x.since <= late.ts && end <= x.window.ts);
    if (!g) return { refused: 'no_gap' };
    if (!(late.lateMj >= g.sinceMj && late.lateMj <= g.endMj)) return { refused: 'not_monotonic' };
    const after: GapWindow = { ...g, since: end, sinceMj: late.lateMj };
    const rest = list.filter((x) => x !== g);
    if (after.since < after.window.ts) rest.push(after);
    if (g.since < late.ts) {
      rest.push({ site: g.site, host: g.host, window: late.window, board: late.reading, instances: late.instances, since: g.since, sinceMj: g.sinceMj, endMj: late.lateMj });
    }
    rest.sort((a, b) => a.window.ts - b.window.ts);
    this.set(key, rest);
    return { split: { before: g, lateEnergyJ: (late.lateMj - g.sinceMj) / 1000, lateSince: g.since, after } };
  }

  /** Forgets gaps closed before `before`: windows that old are refused as too old anyway. */
  prune(before: number): void {
    for (const [key, list] of this.gaps) {
      const kept = list.filter((x) => x.window.ts >= before);
      if (kept.length === 0) this.gaps.delete(key);
      else if (kept.length < list.length) this.gaps.set(key, kept);
    }
  }

  commit(): void {
    this.journal.clear();
  }

  rollback(): void {
    for (const [key, list] of this.journal) {
      if (list) this.gaps.set(key, list);
      else this.gaps.delete(key);
    }
    this.journal.clear();
  }

  get size(): number {
    let n = 0;
    for (const list of this.gaps.values()) n += list.length;
    return n;
  }

  private set(key: string, list: readonly GapWindow[]): void {
    if (!this.journal.has(key)) this.journal.set(key, this.gaps.get(key));
    if (list.length === 0) this.gaps.delete(key);
    else this.gaps.set(key, list);
  }
}
