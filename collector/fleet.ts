/**
 * What the collector samples: either the one real host it runs on, read
 * through a hardware source (nvml, nvidia-smi), or the simulated fleet of N
 * hosts. Either way the result is a list of sampled hosts with their
 * inventory, which the composition root wires to one MQTT link each.
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import type { GpuInfo } from '../protocol/payloads.js';
import type { CollectorConfig } from './config.js';
import { NvidiaSmiSource } from './sources/nvidia-smi.js';
import { NvmlSource } from './sources/nvml.js';
import { PrometheusSource } from './sources/prometheus.js';
import { SimSource, mix } from './sources/sim.js';
import type { GpuSource } from './sources/source.js';
import type { ProcJob } from './jobs/parse-proc.js';
import type { GpuSample } from './window.js';

export interface FleetHost {
  name: string;
  key: number;
  gpus: GpuInfo[];
  read(tMs: number): GpuSample[];
  /** Simulated hosts know their jobs; real hosts find them through /proc (jobs/proc-jobs.ts). */
  jobs?(tMs: number): Map<string, ProcJob[]>;
  /** Simulated jobs also report work, as instrumented applications do on work/<job>. */
  work?(tMs: number): { job: string; totals: Record<string, number> }[];
}

export interface Fleet {
  source: 'nvml' | 'nvidia-smi' | 'prometheus' | 'sim' | 'none';
  simulated: boolean;
  hosts: FleetHost[];
  /** Counters of the hardware source for the collector's health output. */
  health(): Record<string, number>;
  stop(): Promise<void>;
  /** True when a native call is stuck in a thread: the process can then only end by a signal (see nvml.ts). */
  mustKill(): boolean;
}

/** Where the NVIDIA driver installs NVML on Linux. */
const NVML_PATHS = ['/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1', '/usr/lib64/libnvidia-ml.so.1', '/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1', '/usr/local/nvidia/lib64/libnvidia-ml.so.1'];

export function driverPresent(): boolean {
  return NVML_PATHS.some((p) => existsSync(p));
}

function simFleet(config: CollectorConfig, loadedAt: number): Fleet {
  const hosts = Array.from({ length: config.hosts }, (_, h): FleetHost => {
    const source = new SimSource(config.seed, h, config.gpus, () => loadedAt);
    return {
      name: `${config.hostName}-${String(h).padStart(2, '0')}`,
      key: mix(config.seed, h, 0x5eed),
      gpus: source.inventory(),
      read: (t) => source.read(t),
      jobs: (t) => source.jobs(t),
      work: (t) => source.work(t),
    };
  });
  return { source: 'sim', simulated: true, hosts, health: () => ({}), stop: async () => undefined, mustKill: () => false };
}

async function hardwareFleet(config: CollectorConfig, source: GpuSource & { kind: 'nvml' | 'nvidia-smi' | 'prometheus' }): Promise<Fleet> {
  await source.start();
  const name = config.host || hostname();
  const host: FleetHost = { name, key: mix(...[...name].map((c) => c.charCodeAt(0))), gpus: source.inventory(), read: (t) => source.read(t) };
  return {
    source: source.kind,
    simulated: false,
    hosts: [host],
    health: () => source.health(),
    stop: () => source.stop(),
    mustKill: () => (source.health().nvml_workers_stuck ?? 0) > 0,
  };
}

/**
 * Resolves `source`. auto means NVML when the driver is present, else the
 * simulator; if NVML fails to start there, the collector says so loudly and
 * runs the labelled simulator rather than nothing.
 */
/** A host with meters but no GPUs (a gateway next to the site broker): one host, nothing to sample. */
function meterOnlyFleet(config: CollectorConfig): Fleet {
  const name = config.host || hostname();
  const host: FleetHost = { name, key: mix(...[...name].map((c) => c.charCodeAt(0))), gpus: [], read: () => [] };
  return { source: 'none', simulated: false, hosts: [host], health: () => ({}), stop: async () => undefined, mustKill: () => false };
}

export async function openFleet(config: CollectorConfig, loadedAt: number, log: (line: string) => void): Promise<Fleet> {
  if (config.source === 'sim') return simFleet(config, loadedAt);
  if (config.source === 'none') return meterOnlyFleet(config);
  if (config.source !== 'auto' && config.source !== 'nvml' && config.source !== 'nvidia-smi' && config.source !== 'prometheus') {
    throw new Error(`source ${config.source} has no live collection in this release (use --replay)`);
  }
  if (config.source === 'nvidia-smi') return hardwareFleet(config, new NvidiaSmiSource({ intervalMs: config.sampleMs }));
  if (config.source === 'nvml') return hardwareFleet(config, new NvmlSource({ powerIntervalMs: config.sampleMs }));
  if (config.source === 'prometheus') return hardwareFleet(config, new PrometheusSource({ url: config.scrapeUrl, intervalMs: config.scrapeIntervalMs }));
  if (!driverPresent()) return simFleet(config, loadedAt);
  try {
    return await hardwareFleet(config, new NvmlSource({ powerIntervalMs: config.sampleMs }));
  } catch (err) {
    log(`collector: the NVIDIA driver is present but NVML did not start (${(err as Error).message}); running the SIMULATED fleet instead`);
    return simFleet(config, loadedAt);
  }
}
