/**
 * The NVML source through the real FFI path (koffi, worker threads) against
 * the C stand-in built with gcc. The source runs from dist/ (a Worker cannot
 * run .ts on Node 20), so `npm run build:server` must have run; npm test does.
 * Pure conversions are tested from the sources directly.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostWindow, windowStart } from '../../../collector/window.js';
import { fastSample, slowFields } from '../../../collector/sources/nvml-readings.js';
import { throttleReasons } from '../../../collector/sources/nvml-abi.js';
import { ROOT } from '../../helpers/kilowatch-process.js';
import { buildNvmlStub, stubEnv } from '../../helpers/nvml-stub.js';

type NvmlModule = typeof import('../../../collector/sources/nvml.js');
type NvmlSample = import('../../../collector/sources/nvml.js').NvmlSample;

const DIST = join(ROOT, 'dist/collector/sources/nvml.js');
let mod: NvmlModule;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build:server\` first (npm test does it)`);
  mod = (await import(DIST)) as NvmlModule;
});

/** Calls read() on a 100 ms grid like the sampler, for `ms`, and returns every sample with its read instant. */
async function sampleFor(src: { read(t: number): unknown[] }, ms: number, everyMs = 100): Promise<{ t: number; samples: NvmlSample[] }[]> {
  const out: { t: number; samples: NvmlSample[] }[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = (Math.floor(Date.now() / everyMs) + 1) * everyMs;
    await sleep(t - Date.now());
    out.push({ t, samples: src.read(t) as NvmlSample[] });
  }
  return out;
}

/** Distinct readings per GPU (a reading is seen by several reads until the next one arrives). */
function distinct(reads: { samples: NvmlSample[] }[]): Map<string, NvmlSample[]> {
  const by = new Map<string, NvmlSample[]>();
  for (const { samples } of reads) {
    for (const s of samples) {
      const list = by.get(s.id) ?? [];
      if (list.at(-1)?.ts_ms !== s.ts_ms) list.push(s);
      by.set(s.id, list);
    }
  }
  return by;
}

describe('nvml pure conversions', () => {
  it('drops NaN, negative and impossible power with a reason, and flags a counter that went backwards', () => {
    expect(fastSample('g', { ts: 1, power_instant_mw: NaN, power_usage_mw: 300_000 }, 700, undefined)).toEqual({ sample: { id: 'g', ts_ms: 1, power_w: 300 }, drops: ['nan'] });
    expect(fastSample('g', { ts: 1, power_usage_mw: -5 }, 700, undefined).drops).toEqual(['negative_power']);
    expect(fastSample('g', { ts: 1, power_usage_mw: 7_000_001 }, 700, undefined)).toEqual({ sample: { id: 'g', ts_ms: 1 }, drops: ['power_over_limit'] });
    expect(fastSample('g', { ts: 1, power_usage_mw: 1_050_000 }, 700, undefined).sample.power_w).toBe(1050); // a 1.5x spike is real
    const reset = fastSample('g', { ts: 1, energy_mj: 10 }, 700, 5_000);
    expect(reset.sample).toEqual({ id: 'g', ts_ms: 1, energy_mj: 10, counter_reset: true });
  });

  it('leaves unsupported fields absent, never 0', () => {
    expect(fastSample('g', { ts: 1 }, 700, undefined).sample).toEqual({ id: 'g', ts_ms: 1 });
    expect(slowFields({}).fields).toEqual({});
    expect(slowFields({ util_pct: 101, temp_c: NaN }).drops).toEqual(['out_of_range', 'nan']);
  });

  it('maps clocks-event bits (nvml.h nvmlClocksEventReason*) to throttle reasons', () => {
    expect(throttleReasons(0x1n)).toEqual([]); // GpuIdle is not a throttle
    expect(throttleReasons(0x4n | 0x20n)).toEqual(['power_cap', 'thermal']);
    expect(throttleReasons(0x8n | 0x80n)).toEqual(['power_brake']);
    expect(throttleReasons(0x8n)).toEqual(['other']);
    expect(throttleReasons(0x10n | 0x40n)).toEqual(['thermal', 'sync_boost']);
  });
});

describe('nvml source against the stand-in library', () => {
  it('rejects start() with a clear message when the library cannot be loaded', async () => {
    const src = new mod.NvmlSource({ libraryPath: '/nonexistent/libnvidia-ml.so.1' });
    await expect(src.start()).rejects.toThrow(/cannot load \/nonexistent\/libnvidia-ml\.so\.1/);
  });

  it('reports the inventory, reads at 10 Hz, leaves unsupported fields absent and keeps energy consistent with power', async () => {
    const stub = buildNvmlStub();
    const restore = stubEnv({ KW_NVML_STUB_GPUS: '4' });
    const src = new mod.NvmlSource({ libraryPath: stub.libraryPath, powerIntervalMs: 100 });
    try {
      await src.start();
      restore();
      const inv = src.inventory();
      expect(inv.map((g) => g.id)).toEqual([0, 1, 2, 3].map((i) => `GPU-6b7c1f00-0000-4000-8000-00000000000${i}`));
      expect(inv[0]).toMatchObject({ index: 0, name: 'kilowatch NVML stub GPU 0', memory_mib: 81559, power_limit_w: 700, power_limit_min_w: 200, power_limit_max_w: 700, driver: '999.99.99-kwstub', mig: { enabled: false } });
      expect(inv.map((g) => g.supports)).toEqual([
        { energy_counter: true, instant_power: true },
        { energy_counter: true, instant_power: false },
        { energy_counter: true, instant_power: true },
        { energy_counter: false, instant_power: true },
      ]);
      expect(inv[3]).not.toHaveProperty('mig');

      const by = distinct(await sampleFor(src, 2500));
      for (const g of inv) {
        const list = by.get(g.id) ?? [];
        expect(list.length, g.id).toBeGreaterThanOrEqual(18); // nominally 25 at 10 Hz
        const gaps = list.slice(1).map((s, i) => s.ts_ms - list[i]!.ts_ms);
        const median = [...gaps].sort((a, b) => a - b)[Math.floor(gaps.length / 2)]!;
        expect(median).toBeGreaterThanOrEqual(90);
        expect(median).toBeLessThanOrEqual(115);
      }
      const [g0, g1, g2, g3] = inv.map((g) => by.get(g.id)!);
      // Absent, never 0: GPU 3 has no energy counter, GPU 1 no instant power (power_w is nvmlDeviceGetPowerUsage there).
      for (const s of g3!) expect(s).not.toHaveProperty('energy_mj');
      for (const s of g1!) expect(s).not.toHaveProperty('power_avg_w');
      for (const s of g1!) expect(s.power_w).toBeGreaterThan(0);
      expect(g0!.at(-1)).toMatchObject({ power_limit_w: 700, mem_used_mib: 1024, processes: [{ pid: 4242, used_mib: 1536 }, { pid: 4243 }] });
      expect(g0!.at(-1)!.processes![1]).not.toHaveProperty('used_mib');
      expect(g2!.at(-1)!.throttle).toEqual(['power_cap', 'thermal']);

      // The counter only rises, and its difference matches the trapezoid integral of the sampled power.
      const e = g0!.filter((s) => s.energy_mj !== undefined);
      for (let i = 1; i < e.length; i++) expect(e[i]!.energy_mj!).toBeGreaterThanOrEqual(e[i - 1]!.energy_mj!);
      let integral = 0;
      for (let i = 1; i < e.length; i++) integral += ((e[i]!.power_w! + e[i - 1]!.power_w!) / 2) * (e[i]!.ts_ms - e[i - 1]!.ts_ms);
      const counted = e.at(-1)!.energy_mj! - e[0]!.energy_mj!;
      expect(Math.abs(counted - integral) / counted).toBeLessThan(0.03);

      const h = src.health();
      expect(h).toMatchObject({ nvml_gpus: 4, nvml_gpus_ready: 4, nvml_workers_stuck: 0 });
      expect(Object.keys(h).filter((k) => k.includes('dropped') || k.includes('timeouts'))).toEqual([]);
    } finally {
      restore();
      await src.stop();
    }
    expect(src.read(Date.now())).toEqual([]);
  });

  it('keeps a 200 ms spike at 1.5x the limit as the window max', async () => {
    const stub = buildNvmlStub();
    const spikeAt = windowStart(Date.now(), 1000) + 2300; // inside a whole window, after start()
    const restore = stubEnv({ KW_NVML_STUB_GPUS: '2', KW_NVML_STUB_SPIKE_MS: `${spikeAt}:200:1050:0` });
    const src = new mod.NvmlSource({ libraryPath: stub.libraryPath, powerIntervalMs: 100 });
    try {
      await src.start();
      restore();
      const windows = new Map<number, HostWindow>();
      const reads = await sampleFor(src, spikeAt + 1500 - Date.now());
      for (const { t, samples } of reads) {
        const ts = windowStart(t, 1000);
        if (!windows.has(ts)) windows.set(ts, new HostWindow(ts, 1000));
        windows.get(ts)!.add(samples);
      }
      const spiked = windows.get(windowStart(spikeAt, 1000))!.close();
      const g0 = spiked.gpus.find((g) => g.id.endsWith('000000000000'))!;
      expect(g0.power_w!.max).toBe(1050);
      expect(g0.power_w!.mean).toBeLessThan(600);
      expect(spiked.host_power_w!.max).toBeGreaterThan(1050);
      const before = windows.get(windowStart(spikeAt, 1000) - 1000)!.close();
      expect(before.gpus.find((g) => g.id === g0.id)!.power_w!.max).toBeLessThan(400);
      expect(src.health()).not.toHaveProperty('nvml_dropped_power_over_limit');
    } finally {
      restore();
      await src.stop();
    }
  });

  describe('a GPU whose NVML calls hang', () => {
    const stub = buildNvmlStub();
    const release = join(stub.dir, 'release');
    afterAll(() => writeFileSync(release, '')); // lets the stuck threads return, so this test process can exit

    it('abandons its worker, keeps the other GPUs on time, counts the timeout, and stops promptly', async () => {
      const restore = stubEnv({ KW_NVML_STUB_GPUS: '4', KW_NVML_STUB_HANG: '1@1500', KW_NVML_STUB_HANG_RELEASE: release });
      const src = new mod.NvmlSource({ libraryPath: stub.libraryPath, powerIntervalMs: 100, workerTimeoutMs: 1000, startTimeoutMs: 1500, backoffMs: 300 });
      try {
        await src.start();
        restore();
        expect(src.inventory()).toHaveLength(4);
        const reads = await sampleFor(src, 6000);
        const hung = 'GPU-6b7c1f00-0000-4000-8000-000000000001';
        // The hung GPU drops out of read() once its last reading is stale...
        expect(reads.at(-1)!.samples.map((s) => s.id)).not.toContain(hung);
        expect(reads.some(({ samples }) => samples.some((s) => s.id === hung))).toBe(true);
        // ...while every read still has fresh readings of the others.
        for (const { t, samples } of reads) {
          const others = samples.filter((s) => s.id !== hung);
          expect(others.map((s) => s.id).sort(), `read at ${t}`).toEqual([0, 2, 3].map((i) => `GPU-6b7c1f00-0000-4000-8000-00000000000${i}`));
          for (const s of others) expect(t - s.ts_ms).toBeLessThan(500);
        }
        const h = src.health();
        expect(h.nvml_worker_timeouts).toBeGreaterThanOrEqual(2); // the first worker, then its replacement (which hangs in its probe)
        expect(h.nvml_workers_stuck).toBeGreaterThanOrEqual(2);
        expect(h.nvml_gpus_ready).toBe(3);
      } finally {
        restore();
        const t0 = Date.now();
        await src.stop();
        expect(Date.now() - t0).toBeLessThan(1000);
      }
      // A stuck call that returns ends its thread (terminate() was pending), so the count goes back to 0.
      writeFileSync(release, '');
      for (let i = 0; i < 50 && (src.health().nvml_workers_stuck ?? 0) > 0; i++) await sleep(100);
      expect(src.health().nvml_workers_stuck).toBe(0);
    });
  });
});
