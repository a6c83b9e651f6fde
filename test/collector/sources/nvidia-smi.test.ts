/**
 * The nvidia-smi source against a fake `nvidia-smi` shell script written to a
 * temp dir. The script answers --help-query-gpu with the H100 capture's help
 * text and prints rows built from the H100 fixtures for whatever fields the
 * source asked for. Its first -lms run prints one malformed line and exits,
 * so the restart path runs; the second one loops like the real tool.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NvidiaSmiSource, type NvidiaSmiSample } from '../../../collector/sources/nvidia-smi.js';
import { fakeNvidiaSmi } from '../../helpers/fake-nvidia-smi.js';

const H100 = 'GPU-00000000-0000-0000-0000-000000000000';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(50);
}

describe('nvidia-smi source with a fake nvidia-smi', () => {
  it('rejects start() with a clear message when nvidia-smi cannot run', async () => {
    await expect(new NvidiaSmiSource({ binary: '/nonexistent/nvidia-smi' }).start()).rejects.toThrow(/nvidia-smi.*--help-query-gpu.*failed/);
  });

  it('probes fields, streams one -lms process, counts a malformed line, restarts after an exit and polls processes', async () => {
    const fake = fakeNvidiaSmi();
    const src = new NvidiaSmiSource({ binary: fake.binary, intervalMs: 100, backoffMs: 200 });
    try {
      await src.start();
      expect(src.inventory()).toEqual([
        { id: H100, index: 0, name: 'NVIDIA H100 80GB HBM3', memory_mib: 81559, power_limit_w: 700, power_limit_min_w: 200, power_limit_max_w: 700, driver: '590.48.01', mig: { enabled: false }, supports: { energy_counter: false, instant_power: true } },
      ]);
      const first = src.read(Date.now()) as NvidiaSmiSample[];
      expect(first).toHaveLength(1);
      // The load row: power.draw.instant 625.68 W, power.draw 631.95 W, utilization.gpu 100 %; no energy counter in nvidia-smi.
      expect(first[0]).toMatchObject({ id: H100, power_w: 625.68, power_avg_w: 631.95, util_pct: 100, mem_used_mib: 19818, temp_c: 59, sm_clock_mhz: 1980, power_limit_w: 700, throttle: [] });
      expect(first[0]).not.toHaveProperty('energy_mj');

      await until(() => (src.health().nvidia_smi_restarts ?? 0) >= 1 && (src.read(Date.now())[0] as NvidiaSmiSample | undefined)?.power_w === 69.62, 5000);
      const h = src.health();
      expect(h.nvidia_smi_malformed_lines).toBe(1);
      expect(h.nvidia_smi_restarts).toBe(1);
      const idle = src.read(Date.now()) as NvidiaSmiSample[];
      expect(idle[0]).toMatchObject({ power_w: 69.62, power_avg_w: 69.85, util_pct: 0, sm_clock_mhz: 345 });
      expect(idle[0]!.processes).toEqual([{ pid: 11327, used_mib: 2566 }, { pid: 11328, used_mib: 1542 }, { pid: 11345, used_mib: 15690 }]);

      // The restarted loop streams at about 10 Hz.
      const before = src.health().nvidia_smi_readings ?? 0;
      await sleep(1000);
      expect((src.health().nvidia_smi_readings ?? 0) - before).toBeGreaterThanOrEqual(5);

      const args = readFileSync(join(fake.dir, 'args.log'), 'utf8').trim().split('\n');
      expect(args[0]).toBe('--help-query-gpu');
      const loop = `--query-gpu=${fake.fields.join(',')} --format=csv,noheader,nounits -lms 100`;
      expect(args.filter((a) => a === loop)).toHaveLength(2);
      expect(fake.fields).toContain('power.draw.instant');
      expect(args).toContain('--query-compute-apps=gpu_uuid,pid,used_gpu_memory --format=csv,noheader,nounits');
    } finally {
      const t0 = Date.now();
      await src.stop();
      expect(Date.now() - t0).toBeLessThan(1500);
    }
    expect(src.read(Date.now())).toEqual([]);
    expect(src.health().nvidia_smi_restarts).toBe(1); // stopping is not a restart
  });
});
