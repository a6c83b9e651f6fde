/**
 * The GPU source contract (gpu-source.contract.ts) against every source:
 * sim, NVML through the real FFI path on the C stand-in, nvidia-smi against
 * a fake binary, and Prometheus against a local exporter serving a capture.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe } from 'vitest';
import { SimSource } from '../../collector/sources/sim.js';
import type { GpuSource } from '../../collector/sources/source.js';
import { NvidiaSmiSource } from '../../collector/sources/nvidia-smi.js';
import { PrometheusSource } from '../../collector/sources/prometheus.js';
import { fakeNvidiaSmi } from '../helpers/fake-nvidia-smi.js';
import { SHARED_FIXTURES } from '../helpers/fixture-suite.js';
import { ROOT, requireBuild } from '../helpers/kilowatch-process.js';
import { buildNvmlStub, stubEnv } from '../helpers/nvml-stub.js';
import { gpuSourceContract } from './gpu-source.contract.js';

describe('contract: sim', () => {
  gpuSourceContract(async () => ({
    source: new SimSource(1, 0, 4),
    absent: [],
    present: [{ id: new SimSource(1, 0, 4).inventory()[0]!.id, field: 'energy_mj' }],
    noMalformed: 'the simulator computes its readings: there is no malformed input to feed it',
  }));
});

describe('contract: nvml (C stand-in)', () => {
  gpuSourceContract(async () => {
    requireBuild(); // the per-GPU worker runs from dist/ (collector/sources/nvml.ts says why)
    const { NvmlSource } = (await import(join(ROOT, 'dist/collector/sources/nvml.js'))) as { NvmlSource: new (o: object) => GpuSource };
    const stub = buildNvmlStub();
    const restore = stubEnv({ KW_NVML_STUB_GPUS: '4' });
    return {
      source: new NvmlSource({ libraryPath: stub.libraryPath, powerIntervalMs: 100 }),
      // The stand-in reports no energy counter on device 3 and no instant power on device 1.
      absent: [{ id: 'GPU-6b7c1f00-0000-4000-8000-000000000003', field: 'energy_mj' }, { id: 'GPU-6b7c1f00-0000-4000-8000-000000000001', field: 'power_avg_w' }],
      present: [{ id: 'GPU-6b7c1f00-0000-4000-8000-000000000000', field: 'energy_mj' }, { id: 'GPU-6b7c1f00-0000-4000-8000-000000000000', field: 'power_avg_w' }],
      noMalformed: 'the C stand-in returns only well-formed values; NaN, negative and over-limit readings are covered by sample-checks in nvml.test.ts',
      cleanup: async () => restore(),
    };
  });
});

describe('contract: nvidia-smi (fake binary)', () => {
  gpuSourceContract(async () => {
    const fake = fakeNvidiaSmi();
    const source = new NvidiaSmiSource({ binary: fake.binary, intervalMs: 100 });
    return {
      source,
      absent: [{ id: 'GPU-00000000-0000-0000-0000-000000000000', field: 'energy_mj' }], // nvidia-smi has no energy counter
      present: [{ id: 'GPU-00000000-0000-0000-0000-000000000000', field: 'power_w' }],
      // The fake's first -lms run prints a malformed line, then exits and is restarted.
      injectMalformed: () => new Promise((r) => setTimeout(r, 1500)),
    };
  });
});

describe('contract: prometheus (local exporter)', () => {
  gpuSourceContract(async () => {
    const text = readFileSync(join(SHARED_FIXTURES, 'dcgm-exporter', 'dcgm-exporter-README__quickstart-docker__metrics-excerpt-with-doc-elisions.txt'), 'utf8');
    let body = text;
    const server = createServer((_q, res) => res.end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const source = new PrometheusSource({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`, intervalMs: 1000 });
    return {
      source,
      // The capture's MEMORY_TEMP is DCGM's "not supported" sentinel 9223372036854775794: absent, not a temperature.
      absent: [{ id: 'GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52', field: 'memory_temp_c' }],
      present: [{ id: 'GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52', field: 'sm_clock_mhz' }],
      injectMalformed: async () => {
        body = `${text}\nthis is not exposition format\n`;
        await new Promise((r) => setTimeout(r, 1300));
      },
      cleanup: () => new Promise<void>((r) => server.close(() => r())),
    };
  });
});
