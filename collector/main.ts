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
import { Recorder } from './delivery/recorder.js';
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
  const recorder = config.recordFile ? new Recorder(config.recordFile) : undefined;
  recorder?.start();

  for (let h = 0; h < config.hosts; h++) {
    const name = `${config.hostName}-${String(h).padStart(2, '0')}`;
    const gpus = simGpus(config.seed, h, config.gpus);
    const info: HostInfo = { v: 1, boot_id: bootId, ts: loadedAt, simulated: true, gpus: gpus.map((g) => simGpuInfo(g, loadedAt)), meters: [] };
    const link = new HostLink({
      brokerUrl: config.brokerUrl, prefix: config.prefix, site: config.site, host: name, bootId,
      version: deps.version, sources: [source], info, now: deps.now, log: deps.log,
      spoolDir: config.spoolDir,
      spoolLimits: { maxMessages: config.spoolMaxMessages, maxBytes: config.spoolMaxBytes },
      sender: { ackTimeoutMs: config.ackTimeoutMs, resendPerSecond: config.resendPerSecond, now: deps.now },
      maxInflight: 100,
      recorder,
    });
    links.push(link);
    hosts.push({
      name,
      key: mix(config.seed, h, 0x5eed),
      read: (t) => gpus.map((g) => simSample(g, loadedAt, t)),
      publishWindow: (body) => link.publishWindow(body),
    });
  }

  const spool = config.spoolDir ? `disk spool ${config.spoolDir}` : 'memory spool';
  deps.log(`collector: SIMULATED fleet of ${config.hosts} hosts x ${config.gpus} GPUs (seed ${config.seed}, ${spool}) -> ${config.brokerUrl}`);
  for (const link of links) link.start();
  const sampler = new Sampler(hosts, { windowMs: config.windowMs, sampleMs: config.sampleMs, now: deps.now });
  sampler.start();
  // Resends and sends held back by the in-flight bound go out on this beat.
  const pump = setInterval(() => links.forEach((l) => l.pump()), 250);

  return {
    hosts: hosts.map((h) => h.name),
    links,
    // In order (protocol: shutdown): close the current windows, wait a bounded time for their acks, then stop.
    async stop() {
      sampler.stop();
      const deadline = deps.now() + config.shutdownWaitMs;
      while (!links.every((l) => l.drained) && deps.now() < deadline) {
        links.forEach((l) => l.pump());
        await new Promise((r) => setTimeout(r, 50));
      }
      clearInterval(pump);
      const left = links.reduce((n, l) => n + Object.values(l.stats()).reduce((m, s) => m + s.spooled, 0), 0);
      if (left > 0) deps.log(`collector: stopping with ${left} unacknowledged message(s) ${config.spoolDir ? 'kept in the disk spool' : 'lost with the memory spool'}`);
      await Promise.all(links.map((l) => l.stop()));
      recorder?.stop();
    },
  };
}
