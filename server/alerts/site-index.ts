/**
 * The site file seen from the alert engine: which groups a host belongs to
 * (its own and every group above it), which meters measure a group, and
 * each power source's capacity and meter. Built once per site file, so the
 * hot path answers with map lookups. Pure.
 */
import { groupMembers } from '../core/facility.js';
import type { SiteConfig } from '../core/site-config.js';
import type { RuleContext } from './rules.js';

export interface SiteIndex extends RuleContext {
  /** Groups holding a host, by `site/host` (a configured `host` matches every site). */
  groupsOf(siteHost: string): readonly string[];
  /** The hosts (`host` or `site/host`, as configured) and meters (`host/meter`) of a group, children included. */
  members(group: string): { hosts: ReadonlySet<string>; meters: ReadonlySet<string> };
  /** The sources a meter (`host/meter`) measures. */
  sourcesOf(meter: string): readonly string[];
  sourceMeter(source: string): string | undefined;
}

export function siteIndex(site: SiteConfig | undefined): SiteIndex {
  const groups = site?.groups ?? [];
  const members = new Map(groups.map((g) => [g.name, groupMembers(g, groups)]));
  const groupsOfCache = new Map<string, string[]>();
  const sources = new Map((site?.sources ?? []).map((s) => [s.name, { capacity_kw: s.capacity_kw, meter: s.meter }]));
  const byMeter = new Map<string, string[]>();
  for (const [name, s] of sources) if (s.meter) byMeter.set(s.meter, [...(byMeter.get(s.meter) ?? []), name]);
  return {
    groups: new Set(members.keys()),
    sources,
    groupsOf(siteHost) {
      let out = groupsOfCache.get(siteHost);
      if (!out) {
        const host = siteHost.slice(siteHost.indexOf('/') + 1);
        out = [...members].filter(([, m]) => m.hosts.has(siteHost) || m.hosts.has(host)).map(([name]) => name);
        if (groupsOfCache.size < 100_000) groupsOfCache.set(siteHost, out);
      }
      return out;
    },
    members: (group) => members.get(group) ?? { hosts: new Set(), meters: new Set() },
    sourcesOf: (meter) => byMeter.get(meter) ?? [],
    sourceMeter: (source) => sources.get(source)?.meter,
  };
}
