/**
 * The NVML source: one worker thread per GPU (nvml-worker.ts) polls through
 * koffi into its own SharedArrayBuffer (nvml-shm.ts); read() decodes the
 * newest record of each GPU at once, so one hung GPU never stalls the sampler
 * or the others (§8, NVML).
 *
 * - A worker whose record has not changed for workerTimeoutMs is abandoned
 *   (unref'd, terminate() requested but never awaited: it cannot pull a thread
 *   out of native code), counted as nvml_worker_timeouts and replaced, with a
 *   fresh record, after an exponential backoff. At most maxStuckPerGpu
 *   abandoned threads per GPU may be stuck at once.
 * - Each worker is a V8 isolate of about 7 MB (measured, 8 GPUs), most of the
 *   source's memory: nvml-spawn.ts caps its heap near what it needs. Fewer
 *   isolates would mean GPUs sharing a thread, which one hung call stalls, and
 *   koffi's async calls share libuv's pool with file I/O (nvml-worker.ts).
 * - Node joins worker threads at exit (drained loop and process.exit alike), so
 *   while health().nvml_workers_stuck > 0 the process cannot exit normally: the
 *   composition root must then end it with a signal that has no JS handler.
 * - Node 20 cannot run .ts in a Worker and vitest's transform does not reach
 *   worker_threads, so this source runs from dist/ only (nvml-worker.js beside
 *   nvml.js); tests import dist/collector/sources/nvml.js after build:server.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import type { GpuInfo } from '../../protocol/payloads.js';
import type { GpuSample } from '../window.js';
import { type GpuState, gpuInfo, gpuSample, type NvmlSample } from './nvml-readings.js';
import { NvmlShm, type ShmView } from './nvml-shm.js';
import { discoverGpus, newWorker, WORKER_URL } from './nvml-spawn.js';
import type { GpuProbe, WorkerMessage } from './nvml-worker.js';
import { HealthCounters } from './sample-checks.js';
import type { GpuSource } from './source.js';

export type { NvmlSample } from './nvml-readings.js';

/** How long stop() waits for a worker to call nvmlShutdown and exit. */
const STOP_GRACE_MS = 500;

export interface NvmlSourceOptions {
  /** dlopen name or path of the library; tests point it at the stand-in. */
  libraryPath?: string;
  /** Power and energy poll period; never below 50 ms. Default 100 (10 Hz). */
  powerIntervalMs?: number;
  /** Slow fields (utilization, memory, temperature, clocks, limit, reasons, processes, MIG); never below 1000 ms. */
  slowIntervalMs?: number;
  /** A running worker silent this long is abandoned. Default 2000. */
  workerTimeoutMs?: number;
  /** A worker must load, init and probe within this. Default 5000. */
  startTimeoutMs?: number;
  /** read(t) returns readings at most this old. Default 1000. */
  stalenessMs?: number;
  /** First replacement delay, doubled per consecutive failure up to maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Bound on abandoned threads per GPU that are still stuck. Default 3. */
  maxStuckPerGpu?: number;
  now?: () => number;
}

interface Slot extends GpuState {
  index: number;
  worker?: Worker;
  /** The current worker's record. */
  shm?: NvmlShm;
  /** When the current worker last published (or spoke, or was spawned), and the record's sequence then. */
  heardAt: number;
  heardSeq: number;
  ready: boolean;
  probe?: GpuProbe;
  /** The record last decoded, from the current worker (its counters are cumulative). */
  seen?: ShmView;
  latest?: NvmlSample;
  failures: number;
  stuck: number;
  givenUp: boolean;
  restart?: NodeJS.Timeout;
  settle?: () => void;
}

export class NvmlSource implements GpuSource {
  readonly kind = 'nvml' as const;
  private readonly o: Required<Omit<NvmlSourceOptions, 'now'>> & { now: () => number };
  private readonly counters = new HealthCounters('nvml');
  private slots: Slot[] = [];
  private driver: string | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(opts: NvmlSourceOptions = {}) {
    this.o = {
      libraryPath: opts.libraryPath ?? 'libnvidia-ml.so.1',
      powerIntervalMs: Math.max(50, opts.powerIntervalMs ?? 100),
      slowIntervalMs: Math.max(1000, opts.slowIntervalMs ?? 1000),
      workerTimeoutMs: opts.workerTimeoutMs ?? 2000,
      startTimeoutMs: opts.startTimeoutMs ?? 5000,
      stalenessMs: opts.stalenessMs ?? 1000,
      backoffMs: opts.backoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 60_000,
      maxStuckPerGpu: opts.maxStuckPerGpu ?? 3,
      now: opts.now ?? Date.now,
    };
  }

  async start(): Promise<void> {
    if (!existsSync(fileURLToPath(WORKER_URL))) {
      throw new Error(`nvml: ${fileURLToPath(WORKER_URL)} is missing; the NVML source runs from the compiled dist/ (npm run build:server)`);
    }
    this.stopping = false;
    const found = await discoverGpus(this.o.libraryPath, this.o.startTimeoutMs, () => this.counters.add('worker_timeouts'));
    if (found.count === 0) throw new Error(`nvml: ${this.o.libraryPath} reports no GPUs`);
    this.driver = found.driver;
    this.slots = Array.from({ length: found.count }, (_, index) => ({ index, heardAt: 0, heardSeq: 0, ready: false, failures: 0, stuck: 0, givenUp: false }));
    const settled = this.slots.map((slot) => new Promise<void>((res) => (slot.settle = res)));
    for (const slot of this.slots) this.spawn(slot);
    this.watchdog = setInterval(() => this.checkWorkers(), Math.max(20, Math.min(250, this.o.workerTimeoutMs / 4)));
    this.watchdog.unref();
    await Promise.all(settled);
    if (!this.slots.some((s) => s.ready)) {
      await this.stop();
      throw new Error(`nvml: none of the ${found.count} GPUs answered (see health(): timeouts ${this.counters.get('worker_timeouts')}, errors ${this.counters.get('worker_errors')})`);
    }
  }

  inventory(): GpuInfo[] {
    return this.slots.filter((s) => s.probe).map((s) => gpuInfo(s.probe!, this.driver));
  }

  read(tMs: number): GpuSample[] {
    const out: NvmlSample[] = [];
    for (const slot of this.slots) {
      this.pull(slot);
      const r = slot.latest;
      if (r && tMs - r.ts_ms <= this.o.stalenessMs) out.push(r);
    }
    return out;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.watchdog);
    const exits: Promise<void>[] = [];
    for (const slot of this.slots) {
      clearTimeout(slot.restart);
      slot.settle?.();
      const w = slot.worker;
      if (!w) continue;
      // A worker silent for a few polls is presumably stuck: let it go now. A healthy one
      // calls nvmlShutdown and exits at once; one that does not within the grace is abandoned.
      if (this.o.now() - this.heard(slot, this.o.now()) > Math.max(300, 3 * this.o.powerIntervalMs)) {
        this.abandon(slot, w, 'stop');
        continue;
      }
      exits.push(
        new Promise<void>((res) => {
          const grace = setTimeout(() => {
            this.abandon(slot, w, 'stop');
            res();
          }, STOP_GRACE_MS);
          w.once('exit', () => {
            clearTimeout(grace);
            res();
          });
          slot.shm?.requestStop();
        }),
      );
    }
    await Promise.all(exits);
    for (const slot of this.slots) slot.latest = undefined;
  }

  health(): Record<string, number> {
    return {
      ...this.counters.snapshot(),
      nvml_gpus: this.slots.length,
      nvml_gpus_ready: this.slots.filter((s) => s.ready && s.worker).length,
      nvml_gpus_given_up: this.slots.filter((s) => s.givenUp).length,
      nvml_workers_stuck: this.slots.reduce((n, s) => n + s.stuck, 0),
    };
  }

  private spawn(slot: Slot): void {
    if (this.stopping) return;
    slot.restart = undefined;
    slot.ready = false;
    slot.heardAt = this.o.now();
    // A fresh record per worker: an abandoned one whose hung call returns can only write into its own.
    const shm = new NvmlShm();
    slot.shm = shm;
    slot.seen = undefined;
    slot.heardSeq = 0;
    const w = newWorker({ mode: 'gpu', libraryPath: this.o.libraryPath, index: slot.index, powerIntervalMs: this.o.powerIntervalMs, slowIntervalMs: this.o.slowIntervalMs, shared: shm.buffer });
    slot.worker = w;
    w.on('message', (msg: WorkerMessage) => {
      if (slot.worker === w) this.onMessage(slot, msg);
    });
    w.on('error', () => {
      if (slot.worker !== w) return;
      this.counters.add('worker_errors');
      this.fail(slot);
    });
    w.on('exit', () => {
      if (slot.worker !== w || this.stopping) return;
      this.counters.add('worker_exits');
      this.fail(slot);
    });
  }

  private onMessage(slot: Slot, msg: WorkerMessage): void {
    slot.heardAt = this.o.now();
    if (msg.type === 'ready') {
      slot.probe = msg.probe;
      slot.ready = true;
      slot.failures = 0;
      this.pull(slot); // the worker published its first record before saying ready
      slot.settle?.(); // start() resolves once every GPU has a first reading (or failed)
    } else if (msg.type === 'fatal') {
      this.counters.add('worker_errors');
      this.fail(slot);
    }
  }

  /** When the slot's current worker last published: the watchdog's and stop()'s measure of silence. */
  private heard(slot: Slot, now: number): number {
    const seq = slot.shm?.seq() ?? 0;
    if (seq !== slot.heardSeq) {
      slot.heardSeq = seq;
      slot.heardAt = now;
    }
    return slot.heardAt;
  }

  /** Decodes the slot's newest record, if there is one it has not seen, into slot.latest. */
  private pull(slot: Slot): void {
    const probe = slot.probe;
    if (!probe || !slot.shm || !slot.worker || this.stopping) return;
    const view = slot.shm.read(slot.seen);
    if (!view) return;
    const prev = slot.seen;
    slot.seen = view;
    // The worker's counts are cumulative, so polls between two reads are counted too.
    this.counters.add('readings', view.polls - (prev?.polls ?? 0));
    if (view.errors > (prev?.errors ?? 0)) this.counters.add('read_errors', view.errors - (prev?.errors ?? 0));
    if (view.unsupported > (prev?.unsupported ?? 0)) this.counters.add('read_unsupported', view.unsupported - (prev?.unsupported ?? 0));
    const { sample, drops } = gpuSample(probe, view.reading, slot, this.o.slowIntervalMs);
    for (const d of drops) this.counters.drop(d);
    if (sample.counter_reset) this.counters.add('counter_reset');
    slot.latest = sample;
  }

  private checkWorkers(): void {
    const now = this.o.now();
    for (const slot of this.slots) {
      const w = slot.worker;
      if (!w) continue;
      const limit = slot.ready ? this.o.workerTimeoutMs : this.o.startTimeoutMs;
      if (now - this.heard(slot, now) > limit) {
        this.counters.add('worker_timeouts');
        this.abandon(slot, w, 'timeout');
        this.fail(slot);
      }
    }
  }

  /** Lets go of a worker that may be stuck in native code: never awaited, never keeps the loop alive. */
  private abandon(slot: Slot, w: Worker, why: 'timeout' | 'stop'): void {
    if (slot.worker === w) {
      slot.worker = undefined;
      slot.shm?.requestStop(); // should its call ever return, the loop ends even before terminate() lands
    }
    slot.ready = false;
    w.removeAllListeners('message');
    w.on('error', () => {});
    slot.stuck += 1;
    this.counters.add(`workers_abandoned_on_${why}`);
    // If the native call ever returns, terminate() ends the thread there and it is no longer stuck.
    w.once('exit', () => {
      slot.stuck -= 1;
      if (slot.givenUp && !this.stopping) {
        slot.givenUp = false;
        this.fail(slot);
      }
    });
    w.unref();
    void w.terminate().catch(() => {});
  }

  private fail(slot: Slot): void {
    if (slot.worker) {
      const w = slot.worker;
      slot.worker = undefined;
      w.removeAllListeners('message');
      void w.terminate().catch(() => {});
    }
    slot.ready = false;
    slot.settle?.();
    if (this.stopping || slot.restart) return;
    if (slot.stuck >= this.o.maxStuckPerGpu) {
      slot.givenUp = true;
      return;
    }
    slot.failures += 1;
    const delay = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (slot.failures - 1));
    this.counters.add('worker_restarts');
    slot.restart = setTimeout(() => this.spawn(slot), delay);
    slot.restart.unref();
  }
}
