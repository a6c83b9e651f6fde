import { describe, expect, it } from 'vitest';
import type { FleetView } from '../../web/src/lib/api.js';
import { cellColor, describeGpu, filterRows, gpuRows, hostRows, rampColor, sortRows } from '../../web/src/lib/hosts-view.js';

const stat = (mean: number, max = mean) => ({ min: mean, max, mean, last: mean, n: 10 });
const gpu = (id: string, power: number | null, util: number | null, limit: number | null = 700) => ({
  id,
  name: 'sim GPU',
  power_w: power === null ? null : stat(power, power + 10),
  energy_mj: null,
  util_pct: util === null ? null : stat(util),
  mem_used_mib: stat(1024),
  temp_c: stat(50),
  sm_clock_mhz: stat(1980),
  power_limit_w: limit,
});
const host = (name: string, state: string, stale: boolean, gpus: ReturnType<typeof gpu>[]) => ({
  site: 'dc',
  host: name,
  state,
  stale,
  simulated: true,
  boot_id: null,
  version: null,
  sources: ['sim'],
  last_window_ts: 1000,
  window_ms: 1000,
  power_w: null,
  windows: 1,
  late_windows: 0,
  gpus,
});
const fleet: FleetView = {
  ts: 0,
  simulated: true,
  summary: { power_w: 0, hosts: 3, online_hosts: 2, gpus: 4, simulated: true, ts: 0 },
  hosts: [
    host('node-10', 'online', false, [gpu('GPU-a', 350, 50), gpu('GPU-b', 770, 99)]),
    host('node-2', 'online', true, [gpu('GPU-c', null, null, null)]),
    host('node-3', 'offline', false, [gpu('GPU-d', 100, 2)]),
  ],
};

describe('rows', () => {
  it('flattens GPUs with power as a share of their limit', () => {
    const rows = gpuRows(fleet);
    expect(rows.map((r) => r.key)).toEqual(['dc/node-10/GPU-a', 'dc/node-10/GPU-b', 'dc/node-2/GPU-c', 'dc/node-3/GPU-d']);
    expect(rows[0]).toMatchObject({ powerW: 350, peakW: 360, limitW: 700, pctLimit: 50, utilPct: 50, state: 'online' });
    expect(rows[2]).toMatchObject({ powerW: null, pctLimit: null, limitW: null, state: 'stale' });
  });

  it('sums a host that does not measure itself from its GPUs', () => {
    const [a, b] = hostRows(fleet);
    expect(a).toMatchObject({ key: 'dc/node-10', gpus: 2, powerW: 1120, utilPct: 74.5, maxTempC: 50 });
    expect(b).toMatchObject({ state: 'stale', powerW: null, utilPct: null });
  });
});

describe('filter and sort', () => {
  const rows = gpuRows(fleet);

  it('filters by a name and a state', () => {
    expect(filterRows(rows, 'NODE-1', '').map((r) => r.id)).toEqual(['GPU-a', 'GPU-b']);
    expect(filterRows(rows, 'gpu-d', '').map((r) => r.id)).toEqual(['GPU-d']);
    expect(filterRows(rows, '', 'offline').map((r) => r.id)).toEqual(['GPU-d']);
  });

  it('sorts numbers numerically and names naturally, absent values last either way', () => {
    expect(sortRows(rows, 'powerW', 'desc').map((r) => r.id)).toEqual(['GPU-b', 'GPU-a', 'GPU-d', 'GPU-c']);
    expect(sortRows(rows, 'powerW', 'asc').map((r) => r.id)).toEqual(['GPU-d', 'GPU-a', 'GPU-b', 'GPU-c']);
    expect(sortRows(hostRows(fleet), 'key', 'asc').map((r) => r.host)).toEqual(['node-2', 'node-3', 'node-10']);
  });
});

describe('cell colours', () => {
  const rows = gpuRows(fleet);
  const colors = { none: 'grey', over: 'red' };

  it('runs along the ramp, with over the limit and no reading apart', () => {
    expect(rampColor(0)).toBe('rgb(68, 1, 84)');
    expect(rampColor(1)).toBe('rgb(253, 231, 37)');
    expect(rampColor(2)).toBe(rampColor(1));
    expect(cellColor(rows[0]!, 'power', colors)).toBe(rampColor(0.5));
    expect(cellColor(rows[1]!, 'power', colors)).toBe('red');
    expect(cellColor(rows[1]!, 'util', colors)).toBe(rampColor(0.99));
    expect(cellColor(rows[2]!, 'power', colors)).toBe('grey');
    // A host that is not online shows no colour, whatever its last reading.
    expect(cellColor(rows[3]!, 'power', colors)).toBe('grey');
  });

  it('describes a GPU in words for the live region', () => {
    expect(describeGpu(rows[0]!)).toBe('node-10 GPU-a: 350 W of 700 W (50 %), 50 % busy, 50 °C');
    expect(describeGpu(rows[2]!)).toBe('node-2 GPU-c (stale): no power reading, 50 °C');
  });
});
