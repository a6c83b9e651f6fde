/**
 * The exposition parser and the DCGM/nvidia_gpu_exporter mapping over every
 * file in ../shared/fixtures/dcgm-exporter (a file without expectations here
 * fails, so a new capture gets assertions) and over the nvidia_gpu_exporter
 * H100 capture, plus inline cases for the corners of the format. Expected
 * values were read from the files by hand.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpuFromRow, parseEnabled, parseNumber, parseQueryCsv, type SmiTable } from '../../../collector/sources/parse-nvidia-smi.js';
import { DCGM_METRICS, isBlank, NVIDIA_SMI_METRICS, parseExposition, parseValue, readingsFromExposition } from '../../../collector/sources/parse-prometheus.js';
import { ROOT } from '../../helpers/kilowatch-process.js';
import { describeFixtures } from '../../helpers/fixture-suite.js';

const FIXTURES = join(ROOT, '..', 'shared', 'fixtures', 'dcgm-exporter');
const SMI_CAPTURE = join(ROOT, '..', 'shared', 'fixtures', 'nvidia-smi', 'nvidia_gpu_exporter__linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt');

function parse(text: string) {
  const exp = parseExposition(text);
  return { exp, ...readingsFromExposition(exp) };
}

const EXPECTATIONS: Record<string, (text: string) => void> = {
  'aicr__8xH100-k8s-pod-labels__ip-10-0-171-111__metrics-excerpt.prom': (text) => {
    const { exp, readings, inventory, sentinels } = parse(text);
    expect([exp.skipped, exp.samples.length, exp.types.size, sentinels]).toEqual([0, 30, 0, 0]); // an excerpt without HELP/TYPE
    expect(readings.map((r) => r.power_w)).toEqual([113.611, 68.347, 65.709, 67.316, 68.717, 65.742, 67.328, 66.997]);
    expect(readings.map((r) => r.temp_c)).toEqual([30, 29, 26, 29, 28, 26, 28, 26]);
    // Only GPU 0 carries the pod labels; its empty pod_uid is no job information.
    expect(readings[0]).toEqual({
      id: 'GPU-c4529c8d-69c4-b61d-e0bc-7b2460096005',
      power_w: 113.611,
      util_pct: 0,
      temp_c: 30,
      hostname: 'ip-10-0-171-111.ec2.internal',
      jobs: [{ pod: 'vllm-agg-0-vllmdecodeworker-s65j5', namespace: 'dynamo-workload', container: 'main' }],
      // The pod is the job, named with its namespace (pod names repeat across namespaces), which is the project.
      assigned: [{ job: 'dynamo-workload/vllm-agg-0-vllmdecodeworker-s65j5', kind: 'kubernetes', project: 'dynamo-workload' }],
      labels: { gpu: '0', pci_bus_id: '00000000:53:00.0', device: 'nvidia0', modelName: 'NVIDIA H100 80GB HBM3', DCGM_FI_DRIVER_VERSION: '580.105.08' },
    });
    expect(readings.slice(1).map((r) => r.jobs)).toEqual(Array(7).fill(undefined));
    expect(inventory[7]).toEqual({ id: 'GPU-04d228d3-3b5a-3534-f5cf-969706647d56', index: 7, name: 'NVIDIA H100 80GB HBM3', driver: '580.105.08', supports: { energy_counter: false, instant_power: false } });
  },
  'dcgm-exporter-README__quickstart-docker__metrics-excerpt-with-doc-elisions.txt': (text) => {
    const { exp, readings, inventory, sentinels } = parse(text);
    expect(exp.skipped).toBe(2); // the two literal `...` lines
    expect(exp.help.get('DCGM_FI_DEV_SM_CLOCK')).toBe('SM clock frequency (in MHz).');
    expect([...exp.types.values()]).toEqual(['gauge', 'gauge', 'gauge']);
    // MEMORY_TEMP is 9223372036854775794, DCGM_INT64_NOT_SUPPORTED: absent, not a temperature.
    expect(sentinels).toBe(1);
    expect(exp.samples[2]!.raw).toBe('9223372036854775794');
    expect(exp.samples[2]!.value).toBe(2 ** 63); // float64 cannot tell it from 2^63, hence the test on the text
    expect(readings).toEqual([{ id: 'GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52', sm_clock_mhz: 139, labels: { gpu: '0' } }]);
    expect(inventory).toEqual([{ id: 'GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52', index: 0, supports: { energy_counter: false, instant_power: false } }]);
  },
  'dcgm-exporter__etc_default-counters.csv': (text) => {
    // Config, not readings: each of its 26 field lines is invalid exposition.
    const { exp, readings } = parse(text);
    expect([exp.samples.length, exp.skipped, readings.length]).toEqual([0, 26, 0]);
    // Every DCGM field the mapping relies on by default is in the default list ("DCGM_FI_DEV_DEC_UTIL ," has a stray space).
    const enabled = new Set(text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.split(',')[0]!.trim()));
    expect(enabled.size).toBe(26);
    for (const [name, spec] of Object.entries(DCGM_METRICS)) expect(enabled.has(name), `${name} optIn=${spec.optIn}`).toBe(!spec.optIn);
  },
  'k8s-ai-conformance__kops__nvidia-l4__metrics-with-help-type.prom': (text) => {
    const { exp, readings, inventory, sentinels } = parse(text);
    expect([exp.skipped, exp.samples.length, exp.types.size, sentinels]).toEqual([0, 23, 23, 0]);
    expect(exp.types.get('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION')).toBe('counter');
    expect(readings).toEqual([
      {
        id: 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c',
        sm_clock_mhz: 210,
        memory_temp_c: 0, // the L4 (GDDR6) reports 0, not a sentinel: kept as written
        temp_c: 31,
        power_w: 16.365,
        energy_mj: 4742776, // freshly booted
        util_pct: 0,
        mem_used_mib: 0,
        hostname: 'i-030791dc5a37cd257',
        labels: { gpu: '0', pci_bus_id: '00000000:31:00.0', device: 'nvidia0', modelName: 'NVIDIA L4', DCGM_FI_DRIVER_VERSION: '580.105.08' },
      },
    ]);
    expect(inventory).toEqual([{ id: 'GPU-c2f76b33-7953-256e-8f33-1343419b1a1c', index: 0, name: 'NVIDIA L4', driver: '580.105.08', supports: { energy_counter: true, instant_power: false } }]);
  },
};

describeFixtures('prometheus parsers over the dcgm-exporter fixtures', FIXTURES, EXPECTATIONS);

/** A `# <phase> :: <what>` section of the nvidia_gpu_exporter capture: the text after its `# $ command` header. */
function section(capture: string, title: string): string {
  const start = capture.indexOf(`# ${title}\n`);
  const body = capture.indexOf('\n', capture.indexOf('\n####', start) + 1) + 1;
  return capture.slice(body, capture.indexOf('\n####', body));
}

/**
 * How nvidia_gpu_exporter renders one query-gpu row (its docs/METRICS.md and
 * internal/integration/testdata/*h100*load.metrics): `nvidia_smi_` + the field
 * with dots as underscores + the unit folded into SI, the uuid without `GPU-`,
 * Enabled/Disabled as 1/0, and [N/A] fields left out.
 */
const UNITS: Record<string, [suffix: string, scale: number]> = { W: ['_watts', 1], MiB: ['_bytes', 1048576], '%': ['_ratio', 0.01], MHz: ['_clock_hz', 1e6] };
function renderLikeExporter(table: SmiTable): { text: string; names: Set<string> } {
  const row = table.rows[0]!;
  const uuid = row.uuid!.replace(/^GPU-/, '');
  const lines = [`nvidia_smi_gpu_info{uuid="${uuid}",name="${row.name}",driver_version="${row.driver_version}",index="${row.index}"} 1`];
  const names = new Set<string>();
  table.fields.forEach((f, i) => {
    const flag = parseEnabled(row[f]);
    const v = parseNumber(row[f]) ?? (flag === undefined ? undefined : Number(flag));
    const [suffix, scale] = UNITS[table.units[i] ?? ''] ?? ['', 1];
    names.add(`nvidia_smi_${f.replace(/\./g, '_')}${suffix}`);
    if (v !== undefined) lines.push(`nvidia_smi_${f.replace(/\./g, '_')}${suffix}{uuid="${uuid}"} ${v * scale}`);
  });
  return { text: lines.join('\n'), names };
}

describe('nvidia_gpu_exporter metrics of the H100 capture', () => {
  const capture = readFileSync(SMI_CAPTURE, 'utf8');
  const H100 = 'GPU-00000000-0000-0000-0000-000000000000';

  it('the capture itself is nvidia-smi output, not exposition', () => {
    const { exp, readings } = parse(capture);
    expect(readings).toEqual([]);
    expect(exp.skipped).toBeGreaterThan(1000);
  });

  it.each([
    ['load', { power_w: 625.68, power_avg_w: 631.95, util_pct: 100, mem_used_mib: 19818, temp_c: 59, memory_temp_c: 54, sm_clock_mhz: 1980, power_limit_w: 700 }],
    ['idle', { power_w: 69.62, power_avg_w: 69.85, util_pct: 0, mem_used_mib: 0, temp_c: 41, memory_temp_c: 48, sm_clock_mhz: 345, power_limit_w: 700 }],
  ])('%s: the mapped metrics read the same values as the nvidia-smi parser', (phase, expected) => {
    const table = parseQueryCsv(section(capture, `${phase} :: query-gpu (csv, what the exporter parses)`));
    const { text, names } = renderLikeExporter(table);
    // Every nvidia_smi_* name mapped from a query field is one this capture's fields render to.
    for (const [name, spec] of Object.entries(NVIDIA_SMI_METRICS)) if (spec.smi) expect(names.has(name), name).toBe(true);
    const { readings, inventory } = parse(text);
    const smi = gpuFromRow(table.rows[0]!)!;
    expect(readings).toHaveLength(1);
    expect(readings[0]).toMatchObject({ id: H100, ...expected });
    for (const k of ['power_w', 'power_avg_w', 'util_pct', 'mem_used_mib', 'temp_c', 'sm_clock_mhz', 'power_limit_w'] as const) expect(readings[0]![k], k).toBe(smi.sample[k]);
    expect(inventory).toEqual([smi.info]); // name, index, driver, memory, limits, MIG disabled, instant power
    expect(inventory[0]).toMatchObject({ memory_mib: 81559, power_limit_min_w: 200, supports: { energy_counter: false, instant_power: true } });
  });
});

describe('exposition format corners', () => {
  it('reads escapes, spaces, trailing commas, timestamps, NaN and Inf, and skips what is not exposition', () => {
    const good = [
      '# HELP odd A help with \\\\ and \\n in it',
      '# TYPE odd gauge',
      '# any other comment',
      'odd{UUID="GPU-1",path="C:\\\\dir\\\\", msg="say \\"hi\\"\\nbye" , brace="}{,=",} 1.5e3 1700000000123',
      '  odd{a="x"} NaN\r',
      'odd +Inf',
      'odd -inf -5',
      'odd{} 5.',
      'nolabels   42   ',
    ];
    const bad = ['bad{a="b" 1', 'bad{a=b} 1', 'bad{a="b",a="c"} 1', 'bad{a="\\x"} 1', 'bad 1 2 3', 'bad', 'bad abc', 'bad 1 1.5', 'abc-1 2', '...'];
    const exp = parseExposition([...good, '', ...bad].join('\n'));
    expect(exp.skipped).toBe(bad.length);
    expect(exp.help.get('odd')).toBe('A help with \\ and \n in it');
    expect(exp.samples.map((s) => s.value)).toEqual([1500, NaN, Infinity, -Infinity, 5, 42]);
    expect(exp.samples[0]).toMatchObject({ ts_ms: 1700000000123, labels: { UUID: 'GPU-1', path: 'C:\\dir\\', msg: 'say "hi"\nbye', brace: '}{,=' } });
    expect(exp.samples[3]!.ts_ms).toBe(-5);
    for (const [raw, v] of [['+Inf', Infinity], ['Infinity', Infinity], ['nan', NaN], ['.5', 0.5], ['-1E-3', -0.001]] as const) expect(parseValue(raw)).toBe(v);
    for (const raw of ['', 'abc', '0x10', '1,5', '--1']) expect(parseValue(raw)).toBeUndefined();
  });

  it('reads DCGM and NVML sentinels as absent by field kind (dcgm_structs.h), never as 0', () => {
    const blank = (raw: string, kind: 'i64' | 'i32' | 'fp64') => isBlank(Number(raw), raw, kind);
    for (const raw of ['9223372036854775792', '9223372036854775793', '9223372036854775794', '9223372036854775795', '9.223372036854776e+18', '18446744073709551615']) expect(blank(raw, 'i64'), raw).toBe(true);
    expect(blank('9223372036854775791', 'i64')).toBe(false);
    for (const raw of ['2147483632', '2147483634', '2147483647', '4294967295']) expect([blank(raw, 'i32'), blank(raw, 'i64')], raw).toEqual([true, false]);
    expect(blank('2147483631', 'i32')).toBe(false);
    for (const raw of ['140737488355328.000000', '140737488355330', '1.4073748835533e+14']) expect(blank(raw, 'fp64'), raw).toBe(true);
    expect(blank('700.000000', 'fp64')).toBe(false);
    // An energy counter legitimately passes 2^31 mJ (0.6 kWh): only int64 blanks apply to it.
    const { readings } = parse('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{UUID="GPU-e"} 2147483634\nDCGM_FI_DEV_GPU_TEMP{UUID="GPU-e"} 2147483634');
    expect(readings).toEqual([{ id: 'GPU-e', energy_mj: 2147483634 }]);
  });

  it('keeps NaN and Inf, which are no sentinels, for the source to drop with a reason', () => {
    const { readings, sentinels } = parse('DCGM_FI_DEV_POWER_USAGE{UUID="GPU-n"} NaN\nDCGM_FI_DEV_GPU_TEMP{UUID="GPU-n"} +Inf');
    expect([Number.isNaN(readings[0]!.power_w), readings[0]!.temp_c, sentinels]).toEqual([true, Infinity, 0]);
  });
});

describe('GPU mapping corners', () => {
  const A100 = 'GPU-5c3a1f2e-0b7d-4e1a-9c2b-3d4e5f6a7b8c';
  const l = `gpu="0",UUID="${A100}",modelName="NVIDIA A100-SXM4-40GB",Hostname="node7"`;

  it('makes each DCGM MIG instance its own reading, <uuid>/gi<id>, and lists it under its GPU', () => {
    const text = [
      `DCGM_FI_DEV_POWER_USAGE{${l}} 95.500000`,
      `DCGM_FI_DEV_FB_USED{${l},GPU_I_PROFILE="1g.5gb",GPU_I_ID="7",hpc_job="1234"} 1024`,
      `DCGM_FI_DEV_FB_USED{${l},GPU_I_PROFILE="3g.20gb",GPU_I_ID="1"} 2048`,
    ].join('\n');
    const { readings, inventory } = parse(text);
    expect(readings.map((r) => r.id)).toEqual([A100, `${A100}/gi7`, `${A100}/gi1`]);
    expect(readings[0]).toMatchObject({ power_w: 95.5, hostname: 'node7' });
    expect(readings[1]).toMatchObject({ mem_used_mib: 1024, mig: { parent: A100, gi: '7', profile: '1g.5gb' }, jobs: [{ hpc_job: '1234' }], assigned: [{ job: '1234', kind: 'slurm' }] });
    expect(readings[1]!.power_w).toBeUndefined(); // power is the whole GPU's, never counted twice
    expect(inventory[0]).toMatchObject({ index: 0, mig: { enabled: true, instances: [`${A100}/gi7`, `${A100}/gi1`] } });
    expect(inventory[1]).toEqual({ id: `${A100}/gi7`, name: 'NVIDIA A100-SXM4-40GB MIG 1g.5gb', supports: { energy_counter: false, instant_power: false } });
  });

  it('takes the MIG uuid from nvidia_gpu_exporter mig_info and adds GPU- to its bare uuid label', () => {
    const bare = '7a2d8a7d-28ab-4fc0-9a1e-000000000001';
    const text = [
      `nvidia_smi_mig_info{uuid="${bare}",mig_uuid="MIG-4d6b1f7e-5c2a-5e8f-9b3d-000000000002",gpu_instance_id="3",compute_instance_id="0",profile="1g.18gb"} 1`,
      `nvidia_smi_mig_memory_used_bytes{uuid="${bare}",gpu_instance_id="3"} 1.073741824e+09`,
      `nvidia_smi_energy_joules_total{uuid="${bare}"} 123456.789`,
      `nvidia_smi_mig_mode_current{uuid="${bare}"} 1`,
    ].join('\n');
    const { readings, inventory } = parse(text);
    const mig = readings.find((r) => r.id.startsWith('MIG-'))!;
    expect(mig).toMatchObject({ id: 'MIG-4d6b1f7e-5c2a-5e8f-9b3d-000000000002', mem_used_mib: 1024, mig: { parent: `GPU-${bare}`, gi: '3', profile: '1g.18gb' } });
    expect(readings.find((r) => r.id === `GPU-${bare}`)).toMatchObject({ energy_mj: 123456789 });
    expect(inventory.find((g) => g.id === `GPU-${bare}`)).toMatchObject({ mig: { enabled: true, instances: [mig.id] }, supports: { energy_counter: true } });
  });

  it('leaves power absent on a vGPU that has no power metric or only not-supported sentinels', () => {
    const v = 'gpu="0",UUID="GPU-9f8e7d6c-5b4a-3f2e-1d0c-ba9876543210",modelName="GRID A100-40C"';
    const base = `DCGM_FI_DEV_GPU_UTIL{${v}} 12\nDCGM_FI_DEV_FB_USED{${v}} 3000\nDCGM_FI_DEV_VGPU_LICENSE_STATUS{${v}} 1`;
    for (const text of [base, `${base}\nDCGM_FI_DEV_POWER_USAGE{${v}} 140737488355330.000000\nDCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION{${v}} 9223372036854775794`]) {
      const { readings, inventory } = parse(text);
      expect(readings).toEqual([{ id: 'GPU-9f8e7d6c-5b4a-3f2e-1d0c-ba9876543210', util_pct: 12, mem_used_mib: 3000, labels: { gpu: '0', modelName: 'GRID A100-40C' } }]);
      expect(inventory[0]!.supports).toEqual({ energy_counter: false, instant_power: false });
    }
  });

  it('reads lowercase hostname, several jobs of one GPU, limits, and counts GPU metrics without a UUID', () => {
    const text = [
      `DCGM_FI_DEV_POWER_USAGE{UUID="GPU-h",hostname="n1",hpc_job="1234+0",pod=""} 300`,
      `DCGM_FI_DEV_POWER_USAGE{UUID="GPU-h",hostname="n1",hpc_job="1235"} 300`,
      `DCGM_FI_DEV_POWER_USAGE_INSTANT{UUID="GPU-h"} 310.5`,
      `DCGM_FI_DEV_POWER_MGMT_LIMIT{UUID="GPU-h"} 700`,
      `DCGM_FI_DEV_ENFORCED_POWER_LIMIT{UUID="GPU-h"} 650`,
      `DCGM_FI_DEV_XID_ERRORS{UUID="GPU-h"} 79`,
      'DCGM_FI_DEV_GPU_TEMP{gpu="0"} 40',
      'go_goroutines 12',
    ].join('\n');
    const { readings, inventory, unlabelled } = parse(text);
    expect(unlabelled).toBe(1);
    expect(readings).toEqual([{ id: 'GPU-h', hostname: 'n1', jobs: [{ hpc_job: '1234+0' }, { hpc_job: '1235' }], assigned: [{ job: '1234+0', kind: 'slurm' }, { job: '1235', kind: 'slurm' }], power_w: 310.5, power_avg_w: 300, power_limit_w: 650, xid: 79 }]);
    expect(inventory).toEqual([{ id: 'GPU-h', power_limit_w: 650, supports: { energy_counter: false, instant_power: true } }]);
  });
});
