/**
 * The collector's composition root: resolves the source, builds one sampled
 * host and one MQTT link per host, and starts them in order; stop() runs in
 * reverse. Only the simulated source exists in this release; `auto` falls
 * back to it, saying so, and everything it publishes is labelled simulated.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { HostInfo } from '../protocol/payloads.js';
import type { CollectorConfig } from './config.js';
import { HostLink } from './publish.js';
import { Sampler, type SampledHost } from './sampler.js';
import { mix, simGpuInfo, simGpus, simSample } from './sources/sim.js';

export interface CollectorDeps {
  now: () => number;
  log: (line: string) => void;
  version: string;
}

export interface RunningCollector {
  hosts: string[];
  links: HostLink[];
  stop(): Promise<void>;
}

/** Paths where the NVIDIA driver installs NVML on Linux. */
const NVML_PATHS = ['/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1', '/usr/lib64/libnvidia-ml.so.1', '/usr/lib/aarch64-linux-gnu/libnvidia-ml.so.1'];

export function resolveSource(config: CollectorConfig, log: (line: string) => void): 'sim' {
  if (config.source === 'auto' && NVML_PATHS.some((p) => existsSync(p))) {
    log('collector: an NVIDIA driver is present, but this release has no NVML source yet; running the SIMULATED fleet');
  }
  return 'sim';
}

export async function startCollector(config: CollectorConfig, deps: CollectorDeps): Promise<RunningCollector> {
  const source = resolveSource(config, deps.log);
  const loadedAt = deps.now();
  const bootId = randomBytes(8).toString('hex');
  const hosts: SampledHost[] = [];
  const links: HostLink[] = [];

  for (let h = 0; h < config.hosts; h++) {
    const name = `${config.hostName}-${String(h).padStart(2, '0')}`;
    const gpus = simGpus(config.seed, h, config.gpus);
    const info: HostInfo = { v: 1, boot_id: bootId, ts: loadedAt, simulated: true, gpus: gpus.map((g) => simGpuInfo(g, loadedAt)), meters: [] };
    const link = new HostLink({
      brokerUrl: config.brokerUrl, prefix: config.prefix, site: config.site, host: name, bootId,
      version: deps.version, sources: [source], info, now: deps.now, log: deps.log,
    });
    links.push(link);
    hosts.push({
      name,
      key: mix(config.seed, h, 0x5eed),
      read: (t) => gpus.map((g) => simSample(g, loadedAt, t)),
      publishWindow: (body) => link.publishWindow(body),
    });
  }

  deps.log(`collector: SIMULATED fleet of ${config.hosts} hosts x ${config.gpus} GPUs (seed ${config.seed}) -> ${config.brokerUrl}`);
  for (const link of links) link.start();
  const sampler = new Sampler(hosts, { windowMs: config.windowMs, sampleMs: config.sampleMs, now: deps.now });
  sampler.start();

  return {
    hosts: hosts.map((h) => h.name),
    links,
    async stop() {
      sampler.stop();
      await Promise.all(links.map((l) => l.stop()));
    },
  };
}
