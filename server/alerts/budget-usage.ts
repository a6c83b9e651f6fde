/**
 * What the energy budgets read: the energy (and, with a site file, the
 * cost) of every job in a range, summed per job, user or project. The
 * ledger holds quarter hours, so a day or month is read whole.
 */
import type { Facility } from '../facility.js';
import { queryJobs } from '../store/job-queries.js';
import type { HistoryReader } from '../store/store.js';
import type { UsageRow } from './energy-budget.js';
import type { EnergyBudgetRule } from './rules.js';

/** More jobs than this in one period are read in pages of this size. */
const PAGE = 2000;

export type UsageReader = (scope: EnergyBudgetRule['scope'], from: number, to: number) => Promise<UsageRow[]>;

/** `facility`: the current site's (it changes when SIGHUP reloads the site file). */
export function usageReader(store: HistoryReader, facility: () => Facility | undefined, now: () => number): UsageReader {
  return async (scope, from, to) => {
    const sums = new Map<string, UsageRow>();
    for (let offset = 0; ; offset += PAGE) {
      const page = await queryJobs(store, { from, to }, { offset, limit: PAGE }, now());
      const site = facility();
      const priced = site ? await site.priceJobs(page, from, to) : page;
      for (const j of priced.jobs as (typeof priced.jobs[number] & { cost?: number })[]) {
        const key = scope === 'job' ? j.job : scope === 'user' ? j.user ?? '(unknown)' : j.project ?? '(none)';
        const row = sums.get(key) ?? { key, kwh: 0, ...(site && { cost: 0 }) };
        row.kwh += j.energy_j / 3.6e6;
        if (row.cost !== undefined) row.cost += j.cost ?? 0;
        sums.set(key, row);
      }
      if (offset + PAGE >= page.total) break;
    }
    return [...sums.values()];
  };
}
