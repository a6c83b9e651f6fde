/**
 * Starting the NVML worker threads (nvml-worker.ts): each with a small heap,
 * and the throwaway one that finds the GPUs before the per-GPU ones start.
 */
import { Worker } from 'node:worker_threads';
import type { NvmlWorkerData, WorkerMessage } from './nvml-worker.js';

export const WORKER_URL = new URL('./nvml-worker.js', import.meta.url);

/**
 * A worker's V8 heap. Its live data is Node's own bootstrap (about 4 MB) plus
 * koffi's types, and polling allocates nothing, so a young generation of 1 MB
 * (instead of V8's default, which may grow to 16 MB semi-spaces) is enough:
 * measured with 8 GPUs, each worker is about 1 MB smaller for it (6.9 instead
 * of 7.9 MB). Exceeding the old-generation cap ends the worker with an error,
 * which is counted and restarts it like any other failure.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 32 };

export const newWorker = (workerData: NvmlWorkerData) => new Worker(WORKER_URL, { workerData, resourceLimits: WORKER_LIMITS });

/**
 * nvmlInit_v2 + nvmlDeviceGetCount_v2 in a throwaway worker, so that even a
 * hanging init cannot block start() forever; onTimeout counts the one left behind.
 */
export function discoverGpus(libraryPath: string, timeoutMs: number, onTimeout: () => void): Promise<{ count: number; driver?: string }> {
  const w = newWorker({ mode: 'discover', libraryPath, index: -1, powerIntervalMs: 0, slowIntervalMs: 0 });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.removeAllListeners();
      w.on('error', () => {});
      w.unref();
      void w.terminate().catch(() => {});
      onTimeout();
      reject(new Error(`nvml: nvmlInit_v2/nvmlDeviceGetCount_v2 did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    w.on('message', (msg: WorkerMessage) => {
      if (msg.type === 'fatal') reject(new Error(`nvml: ${msg.error}`));
      else if (msg.type === 'discovered') resolve(msg.driver === undefined ? { count: msg.count } : { count: msg.count, driver: msg.driver });
      else return;
      clearTimeout(timer);
    });
    w.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`nvml: worker failed: ${err.message}`));
    });
  });
}
