/**
 * Accuracy row of `npm run bench`: the energy kilowatch gives each simulated
 * job, next to the analytic truth. The simulator's power is a closed-form
 * function of time (collector/sources/sim.ts), so a job's true energy is
 * exact. The numbers come through the real parts: the collector's sampler
 * (10 Hz samples, 1 s windows, the edge's trapezoid integral) and job
 * tracker, then the server's DuckDB store, per-window energy and ledger.
 * Only the clock is not real: the sampler's grid is driven by hand, so 30
 * minutes of a fleet take seconds.
 *
 * Two variants: GPUs with an energy counter (kilowatch takes counter
 * differences), and the same GPUs with the counter removed (the collector
 * integrates power itself). The bound each job must stay within (README,
 * "Energy"):
 * - at each of its two boundary windows, per GPU, (max − min) × overlap: the
 *   error left by taking energy as spread evenly over the window;
 * - with a counter, 1 mJ at each end (the simulated counter counts whole mJ);
 * - without a counter, also the trapezoid rule's error at 10 Hz: h²/12 × max|P''|
 *   over the job's windows, plus h/2 × |jump| for each step of the power
 *   curve (the simulator's load changes at minute boundaries).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobTracker } from '../collector/jobs/job-tracker.js';
import { Sampler } from '../collector/sampler.js';
import { RIPPLE, RIPPLE_OMEGA, SIM_SEGMENT_MS, SimSource, simEnergyMj, simGpus, simPowerW } from '../collector/sources/sim.js';
import type { WindowBody } from '../collector/window.js';
import type { GpuWindow, JobEvent } from '../protocol/payloads.js';
import { DeliveryLedger } from '../server/core/delivery.js';
import { DuckDbStore } from '../server/store/duckdb-store.js';
import type { StoredItem } from '../server/store/store.js';

const T0 = 1_764_000_000_000; // a multiple of the simulator's 5-minute job epoch
const WINDOW_MS = 1000;
const SAMPLE_MS = 100;
const GPUS = 8;
const SEED = 1;
/** The collector scans jobs once a second at whatever phase its timer has: here 300 ms into each second (on the sample grid). */
const JOB_SCAN_PHASE_MS = 300;

export interface JobCheck {
  job: string;
  truthJ: number;
  kilowatchJ: number;
  boundJ: number;
}

export interface AccuracyResult {
  variant: 'counter' | 'integral';
  jobs: JobCheck[];
  /** Jobs whose |error| is within their bound. */
  within: number;
  maxAbsErrorJ: number;
  maxRelErrorPct: number;
  /** The largest |error| / bound over the jobs. */
  maxErrorToBound: number;
  simulatedMinutes: number;
}

interface Produced {
  host: string;
  items: { at: number; item: StoredItem }[];
  windows: Map<number, WindowBody>;
  jobs: Map<string, { start: number; end?: number; gpus: string[] }>;
}

/** Runs one simulated host's collector over [T0, T0 + minutes): its windows and job events, each stamped with when it would arrive. */
async function collect(h: number, minutes: number, withCounter: boolean): Promise<Produced> {
  const source = new SimSource(SEED, h, GPUS, () => T0);
  const host = `acc-${h}`;
  const out: Produced = { host, items: [], windows: new Map(), jobs: new Map() };
  const bootId = `acc${h}`;
  let gpuSeq = 0;
  let jobSeq = 0;
  const key = (stream: string) => ({ site: 'bench', host, stream, bootId });
  const sampler = new Sampler(
    [{
      name: host,
      key: 0,
      read: (t) => source.read(t).map((s) => (withCounter ? s : { ...s, energy_mj: undefined })),
      publishWindow: (body) => {
        out.windows.set(body.ts, body);
        const window: GpuWindow = { v: 1, boot_id: bootId, seq: gpuSeq, first_seq: gpuSeq, ...body };
        gpuSeq += 1;
        out.items.push({ at: body.ts + body.window_ms, item: { kind: 'gpu', key: key('gpu'), window, receivedAt: body.ts + body.window_ms } });
      },
    }],
    // "now" far ahead: each closed window goes out at once instead of at its host's offset.
    { windowMs: WINDOW_MS, sampleMs: SAMPLE_MS, now: () => Number.MAX_SAFE_INTEGER },
  );
  const tracker = new JobTracker();
  const end = T0 + minutes * 60_000;
  for (let t = T0; t <= end; t += SAMPLE_MS) {
    sampler.tick(t);
    if (t % 1000 !== JOB_SCAN_PHASE_MS || t >= end) continue;
    for (const c of tracker.update(source.jobs(t), t)) {
      const event: JobEvent = { v: 1, boot_id: bootId, seq: jobSeq, first_seq: jobSeq, ts: c.ts, event: c.event, job: c.job.job, gpus: c.gpus };
      jobSeq += 1;
      out.items.push({ at: t, item: { kind: 'job', key: key('job'), event, receivedAt: t } });
      if (c.event === 'start') out.jobs.set(c.job.job, { start: c.ts, gpus: c.gpus });
      else out.jobs.get(c.job.job)!.end = c.ts;
    }
  }
  await new Promise((r) => setTimeout(r, 10)); // the sampler hands windows over on a zero timer
  return out;
}

/** (max − min) × overlap at the window holding boundary `at`, for the part [from, to) of it the job holds; mJ. */
function interpolationBoundMj(w: WindowBody | undefined, gpu: string, from: number, to: number): number {
  const p = w?.gpus.find((g) => g.id === gpu)?.power_w;
  if (!p || to <= from) return 0;
  return (p.max - p.min) * (to - from);
}

/** The trapezoid rule's error at SAMPLE_MS over [from, to): the ripple's curvature plus half a sample of every step; mJ. */
function trapezoidBoundMj(gpu: ReturnType<typeof simGpus>[number], from: number, to: number): number {
  const curvature = gpu.limitW * RIPPLE * RIPPLE_OMEGA ** 2; // max |P''|, W per ms²
  let bound = ((to - from) * SAMPLE_MS ** 2 * curvature) / 12;
  for (let e = Math.ceil(from / SIM_SEGMENT_MS) * SIM_SEGMENT_MS; e <= to; e += SIM_SEGMENT_MS) {
    // 0.5 ms before the step: 1e-6 is below the float spacing of epoch milliseconds.
    bound += (SAMPLE_MS / 2) * Math.abs(simPowerW(gpu, e) - simPowerW(gpu, e - 0.5));
  }
  return bound;
}

function boundJ(p: Produced, h: number, job: { start: number; end: number; gpus: string[] }, withCounter: boolean): number {
  const sims = new Map(simGpus(SEED, h, GPUS).map((g) => [g.id, g]));
  const a = Math.floor(job.start / WINDOW_MS) * WINDOW_MS;
  const b = Math.floor(job.end / WINDOW_MS) * WINDOW_MS;
  let mj = 0;
  for (const id of job.gpus) {
    mj += interpolationBoundMj(p.windows.get(a), id, job.start, a + WINDOW_MS);
    mj += interpolationBoundMj(p.windows.get(b), id, b, job.end);
    // The simulated counter counts whole millijoules: 1 mJ at each end of a difference.
    if (withCounter) mj += 2;
    else mj += trapezoidBoundMj(sims.get(id)!, a, b + WINDOW_MS);
  }
  return mj / 1000;
}

export async function jobAccuracy(hosts = 4, minutes = 30, withCounter = true): Promise<AccuracyResult> {
  const produced: Produced[] = [];
  for (let h = 0; h < hosts; h++) produced.push(await collect(h, minutes, withCounter));

  const dir = mkdtempSync(join(tmpdir(), 'kilowatch-bench-accuracy-'));
  let now = T0;
  const delivery = new DeliveryLedger();
  const store = new DuckDbStore({ dataDir: dir, flushMs: 3_600_000, maxPendingRows: 10_000_000, memoryLimit: '1GB', now: () => now, hooks: delivery, threads: 1 });
  await store.start();
  try {
    // Everything in arrival order, a flush every 10 simulated seconds, as the server's store would batch it.
    const all = produced.flatMap((p) => p.items).sort((x, y) => x.at - y.at);
    let nextFlush = T0 + 10_000;
    for (const { at, item } of all) {
      if (at >= nextFlush) {
        await store.flush();
        nextFlush += 10_000;
      }
      now = at;
      const header = item.kind === 'gpu' ? item.window : item.kind === 'job' ? item.event : undefined;
      if (header && delivery.offer(item.key, header.seq, header.first_seq, now) === 'new') store.enqueue(item);
    }
    await store.flush();

    const end = T0 + minutes * 60_000;
    const checks: JobCheck[] = [];
    const totals = await store.ledger({ from: T0, to: end, byTime: false });
    const energy = new Map(totals.filter((t) => t.category === 'job').map((t) => [t.job, t.energy_j]));
    produced.forEach((p, h) => {
      for (const [job, span] of p.jobs) {
        // Whole jobs only, after each GPU's first window (which has no counter difference yet).
        if (span.end === undefined || span.start < T0 + 2 * WINDOW_MS) continue;
        const sims = simGpus(SEED, h, GPUS).filter((g) => span.gpus.includes(g.id));
        const truthJ = sims.reduce((s, g) => s + simEnergyMj(g, span.start, span.end!), 0) / 1000;
        checks.push({ job, truthJ, kilowatchJ: energy.get(job) ?? 0, boundJ: boundJ(p, h, { ...span, end: span.end }, withCounter) });
      }
    });
    const err = (c: JobCheck) => Math.abs(c.kilowatchJ - c.truthJ);
    return {
      variant: withCounter ? 'counter' : 'integral',
      jobs: checks,
      within: checks.filter((c) => err(c) <= c.boundJ).length,
      maxAbsErrorJ: Math.max(0, ...checks.map(err)),
      maxRelErrorPct: Math.max(0, ...checks.map((c) => (100 * err(c)) / c.truthJ)),
      maxErrorToBound: Math.max(0, ...checks.map((c) => err(c) / Math.max(c.boundJ, 1e-9))),
      simulatedMinutes: minutes,
    };
  } finally {
    await store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
