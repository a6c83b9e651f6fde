import { describe, expect, it } from 'vitest';
import type { GroupRow } from '../../web/src/lib/api.js';
import { groupTree, rangeWindow, sourceRows } from '../../web/src/lib/facility-view.js';

function group(name: string, parent: string | null, kind = 'rack'): GroupRow {
  return { name, kind, parent, hosts: 1, gpu_energy_j: 1, meter_energy_j: 1.4, overhead_j: 0.4, meter_to_gpu: 1.4, gpu_method: 'counter', gpu_coverage: 1, meter_coverage: 1 };
}

const layout = (rows: ReturnType<typeof groupTree>) => rows.map((r) => `${'  '.repeat(r.depth)}${r.name}`);

describe('groupTree', () => {
  it('puts each child under its parent, in the order the site file lists them', () => {
    const rows = groupTree([group('rack-0', 'hall-1'), group('site', null), group('hall-1', 'site'), group('rack-1', 'hall-1'), group('hall-2', 'site')]);
    expect(layout(rows)).toEqual(['site', '  hall-1', '    rack-0', '    rack-1', '  hall-2']);
    expect(rows.find((r) => r.name === 'rack-1')?.ancestors).toEqual(['site', 'hall-1']);
  });

  it('shows a group whose parent is missing at the top rather than hiding it', () => {
    expect(layout(groupTree([group('rack-9', 'gone'), group('hall-1', null)]))).toEqual(['rack-9', 'hall-1']);
  });

  it('places every group of a parent loop exactly once', () => {
    const rows = groupTree([group('a', 'b'), group('b', 'a'), group('c', null)]);
    expect(rows.map((r) => r.name).sort()).toEqual(['a', 'b', 'c']);
  });

  it('keeps the report fields', () => {
    expect(groupTree([group('r', null)])[0]).toMatchObject({ meter_to_gpu: 1.4, overhead_j: 0.4, depth: 0, ancestors: [] });
  });
});

describe('sourceRows', () => {
  it('gives each source its share of the energy', () => {
    const rows = sourceRows({ grid: { energy_j: 300, cost: 1, carbon_g: 2 }, 'fuel cell': { energy_j: 100, cost: 3, carbon_g: 4 } });
    expect(rows).toEqual([
      { name: 'grid', energy_j: 300, cost: 1, carbon_g: 2, share: 0.75 },
      { name: 'fuel cell', energy_j: 100, cost: 3, carbon_g: 4, share: 0.25 },
    ]);
  });

  it('no energy at all gives no share rather than NaN', () => {
    expect(sourceRows({ grid: { energy_j: 0, cost: 0, carbon_g: 0 } })[0]?.share).toBeNull();
  });
});

describe('rangeWindow', () => {
  it('ends now', () => {
    expect(rangeWindow('7d', 1_000_000_000)).toEqual({ from: 1_000_000_000 - 7 * 86_400_000, to: 1_000_000_000 });
  });
});
