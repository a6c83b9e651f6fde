/**
 * The nvidia-smi parsers over every captured fixture in
 * ../shared/fixtures/nvidia-smi (a fixture without expectations here fails,
 * so a new capture gets assertions), plus the edge cases of the format.
 * Expected values were read from the files by hand.
 */

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  gpuFromRow,
  isAbsent,
  parseComputeApps,
  parseEnabled,
  parseHelpQueryGpu,
  parseHex,
  parseNumber,
  parseQueryCsv,
  selectQueryFields,
  type SmiGpu,
} from '../../../collector/sources/parse-nvidia-smi.js';
import { ROOT } from '../../helpers/kilowatch-process.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';

const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'nvidia-smi');
const H100 = 'GPU-00000000-0000-0000-0000-000000000000';

function onlyGpu(text: string): SmiGpu {
  const table = parseQueryCsv(text);
  expect(table.malformed).toBe(0);
  expect(table.rows).toHaveLength(1);
  return gpuFromRow(table.rows[0]!)!;
}

const h100Info = { id: H100, index: 0, name: 'NVIDIA H100 80GB HBM3', memory_mib: 81559, power_limit_w: 700, power_limit_min_w: 200, power_limit_max_w: 700, driver: '590.48.01', mig: { enabled: false }, supports: { energy_counter: false, instant_power: true } };
const rtxInfo = { id: H100, index: 0, name: 'NVIDIA GeForce RTX 2080 SUPER', memory_mib: 8192, power_limit_w: 250, power_limit_min_w: 105, power_limit_max_w: 350, driver: '595.71.05', supports: { energy_counter: false, instant_power: true } };

function checkH100Load(text: string) {
  const g = onlyGpu(text);
  // power.draw.instant 625.68 W is power_w; power.draw.average 631.95 W; power.limit 700.00 W; utilization.gpu 100 %.
  expect(g.sample).toMatchObject({ id: H100, power_w: 625.68, power_avg_w: 631.95, util_pct: 100, mem_used_mib: 19818, temp_c: 59, sm_clock_mhz: 1980, power_limit_w: 700, throttle: [] });
  expect(g.info).toEqual(h100Info);
}

function checkH100Idle(text: string) {
  const g = onlyGpu(text);
  expect(g.sample).toMatchObject({ power_w: 69.62, power_avg_w: 69.85, util_pct: 0, mem_used_mib: 0, temp_c: 41, sm_clock_mhz: 345, power_limit_w: 700 });
  expect(g.sample.throttle).toEqual([]); // 0x...01 is GpuIdle, not a throttle
  expect(g.info).toEqual(h100Info);
}

function checkH100Apps(text: string) {
  const { byGpu, malformed } = parseComputeApps(text);
  expect(malformed).toBe(0);
  expect(byGpu.get(H100)).toEqual([{ pid: 11327, used_mib: 2566 }, { pid: 11328, used_mib: 1542 }, { pid: 11345, used_mib: 15690 }]);
}

function checkNoApps(text: string) {
  const { byGpu, malformed } = parseComputeApps(text);
  expect(malformed).toBe(0);
  expect(byGpu.size).toBe(0); // header only: zero processes
}

/** Sections of a full nvidia_gpu_exporter capture: `# <phase> :: <what>` / `# $ <command>` between rules of '#'. */
function captureSections(text: string): Map<string, string> {
  const lines = text.split('\n');
  const out = new Map<string, string>();
  for (let i = 0; i < lines.length; i++) {
    if (!/^#{20,}$/.test(lines[i]!) || !/^# \S.* :: /.test(lines[i + 1] ?? '')) continue;
    const title = lines[i + 1]!.slice(2).trim();
    let j = i + 2;
    while (j < lines.length && !/^#{20,}$/.test(lines[j]!)) j++;
    let k = j + 1;
    while (k < lines.length && !/^#{20,}$/.test(lines[k]!)) k++;
    out.set(title, lines.slice(j + 1, k).join('\n'));
    i = k - 1;
  }
  return out;
}

const EXPECTATIONS: Record<string, (text: string) => void> = {
  'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-gpu-all-fields.csv': checkH100Load,
  'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle__query-gpu-all-fields.csv': checkH100Idle,
  'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__load__query-compute-apps.csv': checkH100Apps,
  'capture__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01__idle__query-compute-apps.csv': checkNoApps,
  'capture__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__idle__query-compute-apps.csv': checkNoApps,
  'capture__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__load__query-compute-apps.csv': (text) => {
    expect(parseComputeApps(text).byGpu.get(H100)).toEqual([{ pid: 5268, used_mib: 370 }, { pid: 5267, used_mib: 230 }]);
  },
  'capture__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__idle__query-gpu-all-fields.csv': (text) => {
    const g = onlyGpu(text);
    // power.draw.average is [N/A] on Turing; instant and draw are both 39.32 W; SW power cap is active (0x...04).
    expect(g.sample).toMatchObject({ power_w: 39.32, power_avg_w: 39.32, util_pct: 0, mem_used_mib: 214, temp_c: 40, sm_clock_mhz: 765, power_limit_w: 250, throttle: ['power_cap'] });
    expect(g.info).toEqual(rtxInfo); // mig.mode.current is [N/A]: no mig entry
  },
  'capture__linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05__load__query-gpu-all-fields.csv': (text) => {
    const g = onlyGpu(text);
    expect(g.sample).toMatchObject({ power_w: 111.5, util_pct: 8, mem_used_mib: 819, temp_c: 45, sm_clock_mhz: 2055, throttle: [] });
    expect(g.info).toEqual(rtxInfo);
  },
  'netdata__help-query-gpu.txt': (text) => {
    const names = parseHelpQueryGpu(text);
    expect(names).toEqual(expect.arrayContaining(['timestamp', 'uuid', 'gpu_uuid', 'power.draw', 'clocks.sm', 'clocks_throttle_reasons.active', 'mig.mode.current']));
    expect(names).not.toContain('power.draw.instant'); // an older driver
    expect(names.some((n) => n.includes(' ') || n.includes(':'))).toBe(false); // not the '"0: Default"' lines
    expect(selectQueryFields(names)).toEqual(['timestamp', 'index', 'uuid', 'name', 'driver_version', 'power.draw', 'enforced.power.limit', 'power.min_limit', 'power.max_limit', 'memory.total', 'memory.used', 'utilization.gpu', 'temperature.gpu', 'clocks.current.sm', 'clocks_throttle_reasons.active', 'mig.mode.current']);
  },
  'netdata__tesla-p100_header-units_values-nounits.csv': (text) => {
    const table = parseQueryCsv(text);
    expect(table.units[table.fields.indexOf('power.draw')]).toBe('W');
    expect(table.rows[0]!['fan.speed']).toBe('[N/A]');
    const g = onlyGpu(text);
    expect(g.sample).toEqual({ id: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6', power_w: 28.16, util_pct: 0, mem_used_mib: 0, temp_c: 37, sm_clock_mhz: 405 });
    expect(g.info).toEqual({ id: 'GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6', name: 'Tesla P100-PCIE-16GB', supports: { energy_counter: false, instant_power: false } });
  },
  'nvidia_gpu_exporter__exporter_testdata_query_2gpus_units.csv': (text) => {
    const table = parseQueryCsv(text);
    expect(table.malformed).toBe(0);
    const [a, b] = table.rows.map((r) => gpuFromRow(r)!);
    expect(a!.sample).toEqual({ id: 'GPU-df6e7a7c-7314-46f8-abc4-b88b36dcf3aa', mem_used_mib: 575 }); // no power fields queried: absent
    expect(a!.info).toMatchObject({ index: 0, name: 'NVIDIA GeForce RTX 2080 SUPER', driver: '466.63' });
    expect(parseNumber(table.rows[0]!['fan.speed'])).toBe(38);
    expect(isAbsent(table.rows[0]!.serial)).toBe(true);
    expect(parseHex(table.rows[1]!['pci.sub_device_id'])).toBe(0x12345678n);
    expect(b!.sample).toEqual({ id: 'GPU-04757e3e-3077-4e2e-b988-7e2d647b52e9', mem_used_mib: 1234 });
    expect(b!.info).toMatchObject({ index: 1, name: 'Some Other GPU', driver: '123.45' });
  },
  'nvidia_gpu_exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt': (text) => {
    const s = captureSections(text);
    const help = parseHelpQueryGpu(s.get('capabilities :: help-query-gpu')!);
    expect(help).toEqual(expect.arrayContaining(['power.draw.instant', 'gpu.power.draw.instant', 'clocks_event_reasons.active', 'clocks_throttle_reasons.active', 'clocks.current.sm']));
    expect(selectQueryFields(help)).toEqual(['timestamp', 'index', 'uuid', 'name', 'driver_version', 'power.draw', 'power.draw.instant', 'power.draw.average', 'enforced.power.limit', 'power.min_limit', 'power.max_limit', 'memory.total', 'memory.used', 'utilization.gpu', 'temperature.gpu', 'clocks.current.sm', 'clocks_event_reasons.active', 'mig.mode.current']);
    checkH100Idle(s.get('idle :: query-gpu (csv, what the exporter parses)')!);
    checkH100Load(s.get('load :: query-gpu (csv, what the exporter parses)')!);
    checkNoApps(s.get('idle :: query-compute-apps (per-process)')!);
    checkH100Apps(s.get('load :: query-compute-apps (per-process)')!);
  },
};

describeFixtures('nvidia-smi parsers over the captured fixtures', FIXTURES, EXPECTATIONS);

describe('nvidia-smi value forms', () => {
  it('reads every bracketed message, N/A and empty as absent', () => {
    for (const v of ['[N/A]', 'N/A', '', '  ', '[Not Supported]', '[Requested functionality has been deprecated]', '[Function Not Found]', '[Unknown Error]', '[Insufficient Permissions]', '[GPU requires reset]']) {
      expect(isAbsent(v), v).toBe(true);
      expect(parseNumber(v), v).toBeUndefined();
    }
    expect(isAbsent('0')).toBe(false);
  });

  it('strips units and parses hex and flags', () => {
    expect(parseNumber('631.95 W')).toBe(631.95);
    expect(parseNumber('81559 MiB')).toBe(81559);
    expect(parseNumber('1980 MHz')).toBe(1980);
    expect(parseNumber('45 %')).toBe(45);
    expect(parseNumber('0 us')).toBe(0);
    expect(parseNumber('P0')).toBeUndefined();
    expect(parseHex('0x00000000000001FF')).toBe(0x1ffn);
    expect(parseEnabled('Enabled')).toBe(true);
    expect(parseEnabled('Disabled')).toBe(false);
    expect(parseEnabled('[N/A]')).toBeUndefined();
  });

  it('parses noheader,nounits lines against the requested fields and counts malformed ones', () => {
    const fields = ['uuid', 'power.draw', 'power.draw.instant', 'utilization.gpu', 'clocks_event_reasons.active'];
    const text = `${H100}, 631.95, 625.68, 100, 0x0000000000000004\nnot, enough\n${H100}, [N/A], [Not Supported], 0, 0x0\n`;
    const table = parseQueryCsv(text, fields);
    expect(table.malformed).toBe(1);
    expect(table.rows).toHaveLength(2);
    expect(gpuFromRow(table.rows[0]!)!.sample).toEqual({ id: H100, power_w: 625.68, power_avg_w: 631.95, util_pct: 100, throttle: ['power_cap'] });
    expect(gpuFromRow(table.rows[1]!)!.sample).toEqual({ id: H100, util_pct: 0, throttle: [] });
    expect(parseQueryCsv(`uuid, power.draw [W]\n${H100}, 1.5 W\n`, ['uuid', 'power.draw']).rows).toEqual([{ uuid: H100, 'power.draw': '1.5 W' }]);
  });

  it('reads [N/A] process memory as absent and an empty answer as zero processes', () => {
    const fields = ['gpu_uuid', 'pid', 'used_gpu_memory'];
    expect(parseComputeApps(`${H100}, 77, [N/A]\n`, fields).byGpu.get(H100)).toEqual([{ pid: 77 }]);
    expect(parseComputeApps('', fields).byGpu.size).toBe(0);
  });
});
