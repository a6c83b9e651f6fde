/**
 * The facility report shaped for display: groups as a tree in config order
 * (host → rack → row → site, issue 6), and each power source's share of the
 * energy. Pure; tested in test/web/facility-view.test.ts.
 */
import type { GroupRow, SourceTotals } from './api.js';
import { isNumber } from './format-energy.js';

export interface TreeRow extends GroupRow {
  /** 0 for a top-level group. */
  depth: number;
  /** Names from the top group down to this one's parent. */
  ancestors: string[];
}

/**
 * Depth-first, each child right under its parent, siblings in the order the
 * site file lists them (the operator's order). A group whose parent is not in
 * the report is shown at the top rather than hidden, and a parent loop (which
 * the server's config check should prevent) cannot hang the page: every group
 * is placed exactly once.
 */
export function groupTree(groups: readonly GroupRow[]): TreeRow[] {
  const names = new Set(groups.map((g) => g.name));
  const out: TreeRow[] = [];
  const placed = new Set<string>();
  const visit = (g: GroupRow, ancestors: string[]) => {
    if (placed.has(g.name)) return;
    placed.add(g.name);
    out.push({ ...g, depth: ancestors.length, ancestors });
    for (const child of groups) if (child.parent === g.name) visit(child, [...ancestors, g.name]);
  };
  for (const g of groups) if (g.parent === null || !names.has(g.parent)) visit(g, []);
  // Whatever is left sits in a parent loop: show it at the top.
  for (const g of groups) visit(g, []);
  return out;
}

export interface SourceRow extends SourceTotals {
  name: string;
  /** Its share of all sources' energy; null when they supplied none. */
  share: number | null;
}

export function sourceRows(bySource: Readonly<Record<string, SourceTotals>>): SourceRow[] {
  const rows = Object.entries(bySource).map(([name, s]) => ({ name, ...s }));
  const total = rows.reduce((a, r) => a + (isNumber(r.energy_j) ? r.energy_j : 0), 0);
  return rows.map((r) => ({ ...r, share: total > 0 && isNumber(r.energy_j) ? r.energy_j / total : null }));
}

export const RANGES = [
  { id: '24h', label: 'Last 24 hours', ms: 86_400_000 },
  { id: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
  { id: '30d', label: 'Last 30 days', ms: 30 * 86_400_000 },
] as const;

export type RangeId = (typeof RANGES)[number]['id'];

export function rangeWindow(id: RangeId, now: number): { from: number; to: number } {
  const ms = RANGES.find((r) => r.id === id)?.ms ?? 86_400_000;
  return { from: now - ms, to: now };
}
