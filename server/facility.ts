/**
 * The site file at work: reads it once at start (groups, meters, power
 * sources, an hourly carbon CSV beside it), then answers the facility report
 * and prices jobs from the store's quarter-hour energies. I/O at this edge;
 * the arithmetic is server/core/facility.ts and power-sources.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type FacilityReport, facilityReport, meteredBySource } from './core/facility.js';
import { costAndCarbon } from './core/power-sources.js';
import { type SiteConfig, parseSiteConfig } from './core/site-config.js';
import { OperatorError } from './operator-error.js';
import { type Efficiency, type EfficiencyGroup, type JobsPage, efficiencyKey } from './store/job-queries.js';
import type { HistoryReader, JobFilter } from './store/store.js';

export function loadSiteConfig(file: string): SiteConfig {
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OperatorError(`server.site_config: cannot read ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const near = (p: string) => {
    try {
      return readFileSync(resolve(dirname(file), p), 'utf8');
    } catch {
      return undefined;
    }
  };
  const r = parseSiteConfig(doc, file, near);
  if (!r.ok) throw new OperatorError(`the site file has ${r.problems.length} problem(s):\n  - ${r.problems.join('\n  - ')}`);
  return r.config;
}

export class Facility {
  constructor(
    private readonly site: SiteConfig,
    private readonly timeZone: string,
    private readonly store: HistoryReader,
  ) {}

  async report(from: number, to: number): Promise<FacilityReport> {
    return facilityReport(this.site, await this.store.facilityEnergy({ from, to }), this.timeZone, to, from);
  }

  /**
   * Adds each efficiency row's cost and carbon: the energy of its jobs per
   * quarter hour, priced with the source mix and tariff of each quarter.
   */
  async priceEfficiency(eff: Efficiency, filter: JobFilter, by: EfficiencyGroup): Promise<Efficiency & { currency: string }> {
    const [jobs, totals, energy] = await Promise.all([this.store.jobs(filter), this.store.ledger({ from: filter.from, to: filter.to, byTime: true }), this.store.facilityEnergy({ from: filter.from, to: filter.to })]);
    const byJob = new Map(jobs.map((j) => [j.job, j]));
    const quartersOf = new Map<string, Map<number, number>>();
    for (const t of totals) {
      const job = byJob.get(t.job);
      if (t.category !== 'job' || !job) continue;
      const key = efficiencyKey(by, job, t.t, this.timeZone);
      const q = quartersOf.get(key) ?? new Map<number, number>();
      q.set(t.t, (q.get(t.t) ?? 0) + t.energy_j);
      quartersOf.set(key, q);
    }
    const metered = meteredBySource(this.site, energy.meters);
    return {
      ...eff,
      currency: this.site.currency,
      rows: eff.rows.map((r) => {
        const priced = costAndCarbon(quartersOf.get(r.key) ?? new Map(), this.site.sources, metered, this.timeZone);
        return { ...r, cost: priced.cost, carbon_g: priced.carbon_g };
      }),
    };
  }

  /** Adds each job's cost and carbon, from its energy per quarter hour and the source mix of each. */
  async priceJobs(page: JobsPage, from: number, to: number): Promise<JobsPage & { currency: string }> {
    const jobs = page.jobs.map((j) => j.job);
    if (jobs.length === 0) return { ...page, currency: this.site.currency };
    const [totals, energy] = await Promise.all([this.store.ledger({ from, to, jobs, byTime: true }), this.store.facilityEnergy({ from, to })]);
    const metered = meteredBySource(this.site, energy.meters);
    return {
      ...page,
      currency: this.site.currency,
      jobs: page.jobs.map((j) => {
        const quarters = new Map<number, number>();
        for (const t of totals) if (t.category === 'job' && t.job === j.job) quarters.set(t.t, (quarters.get(t.t) ?? 0) + t.energy_j);
        const priced = costAndCarbon(quarters, this.site.sources, metered, this.timeZone);
        return { ...j, cost: priced.cost, carbon_g: priced.carbon_g };
      }),
    };
  }
}
