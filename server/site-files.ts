/**
 * The files a server reads beside its settings, reloaded together on SIGHUP:
 * the site file (groups, meters, power sources) and the alert rules file,
 * whose group and source targets are checked against that site. Loaded
 * whole or not at all: a problem in either keeps the running pair.
 */
import type { RulesFile } from './alerts/rules-file.js';
import { loadRulesFile } from './alerts/rules-file.js';
import { type SiteIndex, siteIndex } from './alerts/site-index.js';
import type { ServerConfig } from './config.js';
import type { SiteConfig } from './core/site-config.js';
import { loadSiteConfig } from './facility.js';
import { OperatorError } from './operator-error.js';

export interface SiteFiles {
  site: SiteConfig | undefined;
  index: SiteIndex;
  rules: RulesFile;
}

/** Throws an OperatorError listing every problem. */
export function loadSiteFiles(config: Pick<ServerConfig, 'siteConfig' | 'alertRules'>): SiteFiles {
  const site = config.siteConfig ? loadSiteConfig(config.siteConfig) : undefined;
  const index = siteIndex(site);
  if (!config.alertRules) return { site, index, rules: { rules: [], webhooks: [] } };
  const r = loadRulesFile(config.alertRules, index);
  if (!r.ok) throw new OperatorError(`the alert rules file has ${r.problems.length} problem(s):\n  - ${r.problems.join('\n  - ')}`);
  return { site, index, rules: r.file };
}

/** Settings that changed but only take effect at the next start (ports, store, data dir, ...). */
export function needsRestart(before: ServerConfig, after: ServerConfig): string[] {
  const live = new Set<keyof ServerConfig>(['siteConfig', 'alertRules']);
  return (Object.keys(after) as (keyof ServerConfig)[]).filter((k) => !live.has(k) && JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
