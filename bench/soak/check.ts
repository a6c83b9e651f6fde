/**
 * How each fault ends: wait until every collector's spool is back to its
 * steady level, then compare the store with every collector's record.
 * Windows that started before the cutoff (a little before the spools were
 * seen drained) must be stored; later ones may still be on their way. Each
 * check reports the windows since the previous check's cutoff (this fault's
 * share) and the whole run so far (so a store that loses what it had
 * acknowledged earlier, as a killed VictoriaMetrics might, shows too). A
 * window missing at the first read is looked for once more 20 s later.
 */
import { join } from 'node:path';
import { type Records, type StoredWindow, type Tally, byBootSeq, byHostTs, collectRecords, compareWindows } from './compare.js';
import { type Fleet, SITE } from './fleet.js';
import { drained, steadySpooled } from './spools.js';
import { duckdbWindows, readRecordFiles, victoriaWindows } from './store-read.js';

export interface CheckResult {
  at: number;
  from: number;
  cutoff: number;
  /** Windows that started in [from, cutoff). */
  interval: Tally;
  /** Windows that started in [run start, cutoff). */
  total: Tally;
  /** How long reading the store took, and the backup's size (DuckDB). */
  readMs: number;
  bytes?: number;
  /** Lost windows that the second look found stored after all. */
  late: number;
}

/** Each collector's steady spool level before a fault, to know when it has drained after. */
export function steadyLevels(fleet: Fleet): number[] {
  return fleet.collectors.map((c) => steadySpooled(c.health));
}

/** Resolves once every collector's last two health lines after `since` are back near `steady`; fails after `timeoutMs`. */
export async function waitDrained(fleet: Fleet, steady: number[], since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (fleet.collectors.every((c, i) => drained(c.health, since, steady[i] ?? 0, fleet.opts.hosts))) return Date.now();
    if (Date.now() > deadline) {
      const now = fleet.collectors.map((c) => `${c.name}: ${c.health.at(-1)?.spooled ?? '?'} spooled (steady ${steady[c.index]})`).join(', ');
      throw new Error(`spools not drained in ${Math.round(timeoutMs / 1000)} s: ${now}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export class StoreChecker {
  private prevCutoff: number;
  private n = 0;

  constructor(private readonly fleet: Fleet, private readonly runStart: number) {
    this.prevCutoff = runStart - 60_000;
  }

  /** How far behind the drain the cutoff sits: VictoriaMetrics acknowledges 15 s after the write. */
  get marginMs(): number {
    return this.fleet.opts.store === 'victoriametrics' ? 30_000 : 10_000;
  }

  private records(): Records {
    return collectRecords(readRecordFiles(this.fleet.collectors.map((c) => c.record)));
  }

  private async stored(cutoff: number): Promise<{ windows: StoredWindow[]; ms: number; bytes?: number }> {
    if (this.fleet.opts.store === 'victoriametrics') return victoriaWindows(this.fleet.vm!.url, SITE, this.runStart - 120_000, Math.min(cutoff, Date.now()) + 120_000);
    return duckdbWindows(this.fleet.dirs.data, join(this.fleet.dirs.backups, `check-${++this.n}`), SITE);
  }

  /** `cutoff`: windows that started before it must be stored; Infinity after a clean stop of every collector. */
  async check(cutoff: number): Promise<CheckResult> {
    const key = this.fleet.opts.store === 'victoriametrics' ? byHostTs : byBootSeq;
    const from = this.prevCutoff;
    let records = this.records();
    let read = await this.stored(cutoff);
    let total = compareWindows(records, read.windows, key, this.runStart - 60_000, cutoff);
    let late = 0;
    if (total.lost > 0) {
      const before = total.lost;
      await new Promise((r) => setTimeout(r, 20_000));
      records = this.records();
      read = await this.stored(cutoff);
      total = compareWindows(records, read.windows, key, this.runStart - 60_000, cutoff);
      late = before - total.lost;
    }
    const interval = compareWindows(records, read.windows, key, from, cutoff);
    if (Number.isFinite(cutoff)) this.prevCutoff = cutoff;
    return { at: Date.now(), from, cutoff, interval, total, readMs: read.ms, ...(read.bytes !== undefined && { bytes: read.bytes }), late };
  }
}
