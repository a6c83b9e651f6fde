/**
 * Storage rows of `npm run bench` for VictoriaMetrics: points per second
 * written through the store's writer (the influx client's WriteApi, as the
 * server writes), next to a raw line-protocol POST of the same lines to
 * `/api/v2/write` in the same 5,000-line requests; and bytes per point on
 * disk after VictoriaMetrics has flushed. A point is one field of one line
 * (VictoriaMetrics stores each field as its own series sample).
 */
import { execFileSync } from 'node:child_process';
import type { GpuWindow } from '../protocol/payloads.js';
import { WindowEnergy, energyKey } from '../server/core/window-energy.js';
import { windowLines } from '../server/store/victoria-lines.js';
import { VictoriaWriter } from '../server/store/victoria-write.js';
import { startVictoriaMetrics } from './victoria-metrics.js';

const T0 = 1_764_000_000_000;
const stat = (v: number) => ({ min: v - 5, max: v + 5, mean: v, last: v, n: 10 });
const LINES_PER_REQUEST = 5000;

/** One second of the fleet per batch, as the server writes it. */
function batches(hosts: number, seconds: number, t0: number): string[][] {
  const energy = new WindowEnergy();
  const out: string[][] = [];
  for (let s = 0; s < seconds; s++) {
    const lines: string[] = [];
    for (let h = 0; h < hosts; h++) {
      const gpus = Array.from({ length: 8 }, (_, g) => ({ id: `GPU-${h}-${g}`, power_w: stat(300 + g), energy_mj: (s + 1) * 300_000, util_pct: stat(80), temp_c: stat(60), power_limit_w: 700 }));
      const w: GpuWindow = { v: 1, boot_id: 'bench', seq: s, first_seq: 0, ts: t0 + s * 1000, window_ms: 1000, host_power_w: stat(2428), gpus };
      const energies = gpus.map((g) => energy.of({ key: energyKey('bench', `h${h}`, g.id), ts: w.ts, window_ms: 1000, energy_mj: g.energy_mj, power_mean_w: g.power_w.mean }));
      lines.push(...windowLines('bench', `h${h}`, w, energies));
    }
    out.push(lines);
  }
  return out;
}

/** Fields per line: everything after the measurement and tags, before the timestamp. */
const points = (lines: readonly string[]) => lines.reduce((n, l) => n + l.slice(l.indexOf(' ') + 1, l.lastIndexOf(' ')).split(',').length, 0);

export interface VictoriaWriteResult {
  clientPointsPerSecond: number;
  rawPointsPerSecond: number;
  bytesPerPoint: number;
  points: number;
}

export async function victoriaWrite(hosts = 1000, seconds = 20): Promise<VictoriaWriteResult> {
  const vm = await startVictoriaMetrics({ windowMs: 1000 });
  try {
    // Different hosts for the two runs, so neither finds series the other created.
    const client = batches(hosts, seconds, T0);
    const raw = batches(hosts, seconds, T0).map((b) => b.map((l) => l.replace('host=h', 'host=raw')));
    const n = client.reduce((a, b) => a + points(b), 0);

    const writer = new VictoriaWriter({ url: vm.url, batchLines: LINES_PER_REQUEST, timeoutMs: 30_000 });
    let t = performance.now();
    for (const b of client) {
      const r = await writer.write(b);
      if (!r.ok) throw new Error(`bench write failed: ${r.error}`);
    }
    const clientSeconds = (performance.now() - t) / 1000;

    t = performance.now();
    for (const b of raw) {
      for (let i = 0; i < b.length; i += LINES_PER_REQUEST) {
        const res = await fetch(`${vm.url}/api/v2/write?precision=ms`, { method: 'POST', body: b.slice(i, i + LINES_PER_REQUEST).join('\n') });
        if (!res.ok) throw new Error(`raw POST failed: ${res.status} ${await res.text()}`);
      }
    }
    const rawSeconds = (performance.now() - t) / 1000;

    // Let VictoriaMetrics move its in-memory parts to disk (about 12 s, see server/store/victoria-store.ts), then measure.
    await new Promise((r) => setTimeout(r, 15_000));
    const bytes = Number(execFileSync('du', ['-sb', vm.dataDir]).toString().split('\t')[0]);
    return { clientPointsPerSecond: n / clientSeconds, rawPointsPerSecond: n / rawSeconds, bytesPerPoint: bytes / (2 * n), points: n };
  } finally {
    await vm.dispose();
  }
}
