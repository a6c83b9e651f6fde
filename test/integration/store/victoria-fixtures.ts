/**
 * Shared pieces of the VictoriaMetrics store tests: a VictoriaStore on a
 * temporary data dir, CommitHooks that record what was acknowledged and
 * when, and windows whose values are easy to check by hand.
 */
import { rmSync } from 'node:fs';
import type { GpuReading, GpuWindow } from '../../../protocol/payloads.js';
import type { CommitHooks } from '../../../server/store/store.js';
import { VictoriaStore, type VictoriaStoreOptions } from '../../../server/store/victoria-store.js';
import { tempDir } from '../../helpers/kilowatch-process.js';
import { exportSeries } from '../../../server/store/victoria-query.js';

/** Acknowledged (site/host, seq) pairs and when each was acknowledged. */
export class RecordingHooks implements CommitHooks {
  readonly acked = new Map<string, number>();
  rowsForCommit() {
    return [];
  }
  committed(batch: readonly { key: { site: string; host: string; stream: string }; seq: number }[]): void {
    const at = Date.now();
    for (const { key, seq } of batch) if (key.stream === 'gpu') this.acked.set(`${key.site}/${key.host}/${seq}`, at);
  }
}

const dirs: string[] = [];
export function cleanupDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/**
 * A store with a short flush delay, so tests run in seconds: 5 s, not the
 * real 15 s (that one is tested by the SIGKILL case). It must stay above the
 * 2-3 s VictoriaMetrics takes to make new rows searchable, because tests read
 * back right after a flush.
 */
export function victoriaStore(url: string, hooks: CommitHooks, over: Partial<VictoriaStoreOptions> = {}): VictoriaStore {
  const dataDir = tempDir('victoria-store');
  dirs.push(dataDir);
  return new VictoriaStore({ url, dataDir, flushMs: 200, maxPendingRows: 100_000, memoryLimit: '256MB', now: Date.now, hooks, durableDelayMs: 5000, ...over });
}

const stat = (mean: number, min = mean, max = mean, last = mean) => ({ mean, min, max, last, n: 10 });

/**
 * GPU `a` of window i: mean 100+i, min 90+i, max 150+i (900 at i = 17),
 * last 101+i, a counter rising by (100+i) J, so its window energy is 100+i J
 * (the first one from mean × 1 s, the same number).
 */
export function gpuA(i: number): GpuReading {
  const counterJ = Array.from({ length: i + 1 }, (_, k) => 100 + k).reduce((a, b) => a + b, 0);
  return { id: 'a', power_w: stat(100 + i, 90 + i, i === 17 ? 900 : 150 + i, 101 + i), energy_mj: counterJ * 1000, util_pct: stat(50 + (i % 3)), temp_c: stat(60, 55, 70 + i) };
}

/** GPU `c`: 300 W flat, no counter: the edge integral gives 300 J per 1 s window. */
export function gpuC(): GpuReading {
  return { id: 'c', power_w: stat(300), window_energy_mj: 300_000 };
}

export function gpuWindowAt(seq: number, ts: number, gpus: GpuReading[], windowMs = 1000): GpuWindow {
  const total = gpus.reduce((a, g) => a + (g.power_w?.mean ?? 0), 0);
  return { v: 1, boot_id: 'b', seq, first_seq: 0, ts, window_ms: windowMs, host_power_w: stat(total, total - 5, total + 40), gpus };
}

export const gpuKey = (site: string, host: string) => ({ site, host, stream: 'gpu', bootId: 'b' });

/** How many windows of `site` VictoriaMetrics holds per GPU (window_ms samples). */
export async function storedWindows(url: string, site: string): Promise<Map<string, Set<number>>> {
  const series = await exportSeries(url, `kw_gpu_window_ms{site=${JSON.stringify(site)}}`, 0, Date.now() + 86_400_000, 30_000);
  return new Map(series.map((s) => [`${s.labels.host}/${s.labels.gpu}`, new Set(s.samples.keys())]));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
