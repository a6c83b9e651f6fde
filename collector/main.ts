/**
 * The collector's composition root: opens the fleet (the real host through
 * NVML or nvidia-smi, or the labelled simulated fleet), builds one MQTT link
 * per host, and starts them in order; stop() runs in reverse.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HostInfo, MeterInfo } from '../protocol/payloads.js';
import type { CollectorConfig } from './config.js';
import { Recorder } from './delivery/recorder.js';
import { type JobChange, JobTracker } from './jobs/job-tracker.js';
import { KubeletJobs } from './jobs/kubelet-pods.js';
import { ProcJobDetector } from './jobs/proc-jobs.js';
import { type Fleet, openFleet } from './fleet.js';
import { parseJsonMappings } from './meters/json-mappings.js';
import { MeterWindows } from './meters/meter-windows.js';
import { simMeterInfo, simMeterReadings } from './sources/sim-meters.js';
import { MeterListener } from './meters/meter-listener.js';
import { type MeterKind, MeterRouter } from './meters/meter-router.js';
import type { JsonMeterMapping } from './meters/parse-mqtt-json.js';
import { PollerSet } from './pollers/poller-set.js';
import type { PollerEntry } from './pollers/poller.js';
import { createPollers, parsePollersFile } from './pollers/registry.js';
import { mqttConnectOptions } from '../cli/mqtt-credentials.js';
import { ProcessStats } from '../cli/process-stats.js';
import { redactUrl } from '../cli/redact-url.js';
import { HostLink } from './publish.js';
import { Sampler, type SampledHost } from './sampler.js';

export interface CollectorDeps {
  now: () => number;
  log: (line: string) => void;
  version: string;
}

export interface RunningCollector {
  hosts: string[];
  links: HostLink[];
  fleet: Fleet;
  /** The source's counters and the delivery counters of every stream, summed over hosts. */
  health(): Record<string, number>;
  stop(): Promise<void>;
}

/** Sums the counters of all links: MQTT connects, unreadable acks, and per stream { gpu_produced, gpu_resent, job_dropped, ... }. */
export function deliveryHealth(links: readonly HostLink[]): Record<string, number> {
  const out: Record<string, number> = { mqtt_connects: 0, acks_unreadable: 0 };
  for (const link of links) {
    out.mqtt_connects! += link.connects;
    out.acks_unreadable! += link.badAcks;
    for (const [stream, stats] of Object.entries(link.stats())) {
      for (const [k, v] of Object.entries(stats)) out[`${stream}_${k}`] = (out[`${stream}_${k}`] ?? 0) + v;
    }
  }
  return out;
}

/** Reads and checks the mqtt-json mapping file; every problem is listed in one error. */
function jsonMappings(config: CollectorConfig): JsonMeterMapping[] {
  if (!config.meterMapFile) return [];
  let text: string;
  try {
    text = readFileSync(config.meterMapFile, 'utf8');
  } catch (err) {
    throw new Error(`collector.meter_map: cannot read ${config.meterMapFile}: ${(err as Error).message}`);
  }
  const parsed = parseJsonMappings(text, config.meterMapFile);
  if (!parsed.ok) throw new Error(`collector.meter_map has problems:\n  ${parsed.problems.join('\n  ')}`);
  return parsed.mappings;
}

/** Reads and checks the pollers file; every problem is listed in one error. */
function pollerEntries(config: CollectorConfig): PollerEntry[] {
  if (!config.pollersFile) return [];
  let text: string;
  try {
    text = readFileSync(config.pollersFile, 'utf8');
  } catch (err) {
    throw new Error(`collector.pollers: cannot read ${config.pollersFile}: ${(err as Error).message}`);
  }
  const parsed = parsePollersFile(text, config.pollersFile);
  if (!parsed.ok) throw new Error(`collector.pollers has problems:\n  ${parsed.problems.join('\n  ')}`);
  return parsed.entries;
}

/** The pollers run on the first host's link, as the MQTT meters do: a BMC gateway is one host. */
function pollerSet(entries: PollerEntry[], link: HostLink, config: CollectorConfig, deps: CollectorDeps, announce: (meters: MeterInfo[]) => void): PollerSet | undefined {
  if (entries.length === 0) return undefined;
  return new PollerSet(createPollers(entries, { now: deps.now, log: deps.log }), {
    windowMs: config.meterWindowMs,
    now: deps.now,
    log: deps.log,
    publishWindow: (meter, body) => link.publishMeterWindow(meter, body),
    inventoryChanged: announce,
  });
}

/**
 * The first host's `info` lists the meters of every part that reads them (MQTT meters, pollers, the simulated
 * site's): each part reports its own list, and the host announces their union.
 */
function meterInventory(link: HostLink): (part: string, meters: MeterInfo[]) => void {
  const parts = new Map<string, MeterInfo[]>();
  return (part, meters) => {
    parts.set(part, meters);
    link.setMeters([...parts.values()].flat());
  };
}

/** Meters belong to the first host: the one this collector runs on (or, simulated, the fleet's first). */
function listenForMeters(config: CollectorConfig, link: HostLink, deps: CollectorDeps, announce: (meters: MeterInfo[]) => void): MeterListener {
  const router = new MeterRouter({ kinds: config.meters as MeterKind[], zigbeeBase: config.zigbeeBase, jsonMappings: jsonMappings(config), maxMeters: 1024 });
  return new MeterListener({
    brokerUrl: config.meterBrokerUrl || config.brokerUrl,
    connect: mqttConnectOptions(config.mqttAuth),
    clientId: `kilowatch-meters-${config.site}-${link.host}`,
    router,
    windowMs: config.meterWindowMs,
    now: deps.now,
    log: deps.log,
    publishWindow: (meter, body) => link.publishMeterWindow(meter, body),
    inventoryChanged: announce,
  });
}

export async function startCollector(config: CollectorConfig, deps: CollectorDeps): Promise<RunningCollector> {
  const loadedAt = deps.now();
  // Checked before the fleet opens, so a bad pollers file fails the start with its reasons.
  const polled = pollerEntries(config);
  const fleet = await openFleet(config, loadedAt, deps.log);
  const bootId = randomBytes(8).toString('hex');
  const recorder = config.recordFile ? new Recorder(config.recordFile) : undefined;
  recorder?.start();

  const links: HostLink[] = [];
  const pollerKinds = [...new Set(polled.map((e) => e.kind))];
  const hosts: SampledHost[] = fleet.hosts.map((h) => {
    const info: HostInfo = { v: 1, boot_id: bootId, ts: loadedAt, simulated: fleet.simulated, gpus: h.gpus, meters: [] };
    const link = new HostLink({
      brokerUrl: config.brokerUrl, connect: mqttConnectOptions(config.mqttAuth), prefix: config.prefix, site: config.site, host: h.name, bootId,
      version: deps.version, sources: [fleet.source, ...config.meters, ...pollerKinds].filter((k) => k !== 'none'), info, now: deps.now, log: deps.log,
      spoolDir: config.spoolDir,
      spoolLimits: { maxMessages: config.spoolMaxMessages, maxBytes: config.spoolMaxBytes },
      sender: { ackTimeoutMs: config.ackTimeoutMs, resendPerSecond: config.resendPerSecond, now: deps.now },
      maxInflight: 100,
      recorder,
    });
    links.push(link);
    return { name: h.name, key: h.key, read: h.read, publishWindow: (body) => link.publishWindow(body) };
  });

  const spool = config.spoolDir ? `disk spool ${config.spoolDir}` : 'memory spool';
  const gpuCount = fleet.hosts.reduce((n, h) => n + h.gpus.length, 0);
  deps.log(
    fleet.simulated
      ? `collector: SIMULATED fleet of ${config.hosts} hosts x ${config.gpus} GPUs (seed ${config.seed}, ${spool}) -> ${redactUrl(config.brokerUrl)}`
      : `collector: ${fleet.source} on ${fleet.hosts[0]?.name}: ${gpuCount} GPU(s)${config.meters.length ? `, meters ${config.meters.join(',')}` : ''} (${spool}) -> ${redactUrl(config.brokerUrl)}`,
  );
  // Checked before anything connects, so a bad mapping or pollers file fails the start with its reasons.
  const announce = meterInventory(links[0]!);
  const meters = config.meters.length > 0 ? listenForMeters(config, links[0]!, deps, (m) => announce('mqtt', m)) : undefined;
  const pollers = pollerSet(polled, links[0]!, config, deps, (m) => announce('pollers', m));
  for (const link of links) link.start();
  meters?.start();
  pollers?.start();
  // A host without GPUs (--source none) has no GPU stream at all, rather than empty windows.
  const sampler = new Sampler(hosts.filter((_, i) => fleet.hosts[i]!.gpus.length > 0), { windowMs: config.windowMs, sampleMs: config.sampleMs, now: deps.now });
  sampler.start();
  // Resends and sends held back by the in-flight bound go out on this beat.
  const pump = setInterval(() => links.forEach((l) => l.pump()), 250);
  // Jobs, once a second: a simulated host names its own; on a real host, processes are mapped through /proc,
  // or with --jobs-from kubelet the kubelet names the pods that hold its GPUs.
  // Changes go out on the job stream.
  let jobScan: NodeJS.Timeout | undefined;
  let kubelet: KubeletJobs | undefined;
  if (fleet.source !== 'none') {
    const detector = new ProcJobDetector(undefined, config.jobPattern ? new RegExp(config.jobPattern) : undefined);
    const trackers = fleet.hosts.map(() => new JobTracker());
    const publishJobs = (link: HostLink, changes: readonly JobChange[]) => {
      for (const c of changes) {
        const { job, user, project, partition } = c.job;
        const labels = (c.job as { labels?: Record<string, string> }).labels; // a pod's namespace, name and containers
        link.publishJobEvent({ ts: c.ts, event: c.event, job, gpus: c.gpus, ...(user && { user }), ...(project && { project }), ...(partition && { partition }), ...(labels && { labels }) });
      }
    };
    // On Kubernetes the kubelet says which pod holds which GPU of this host, instead of /proc (jobs/kubelet-pods.ts).
    if (config.jobsFrom === 'kubelet' && !fleet.simulated) {
      kubelet = new KubeletJobs({ socketPath: config.kubeletSocket, intervalMs: 1000, timeoutMs: 2000, now: deps.now, log: deps.log, publish: (changes) => publishJobs(links[0]!, changes) });
      kubelet.start();
    }
    // The simulated site's meters (racks, fuel cell, grid) go out on the first host's link, as a meter gateway would.
    const simMeters = fleet.simulated ? new MeterWindows(config.meterWindowMs) : undefined;
    if (simMeters) announce('sim', simMeterInfo(fleet.hosts.length));
    let tick = 0;
    jobScan = setInterval(() => {
      const now = deps.now();
      const reportWork = tick++ % 10 === 0; // simulated applications report their counters every 10 s
      if (simMeters) {
        const watts = fleet.hosts.map((h) => h.read(now).reduce((a, g) => a + (g.power_w ?? 0), 0));
        for (const r of simMeterReadings(watts)) simMeters.add(r, now);
        for (const { meter, body } of simMeters.takeDue(now)) links[0]!.publishMeterWindow(meter, body);
      }
      fleet.hosts.forEach((h, i) => {
        if (reportWork) for (const w of h.work?.(now) ?? []) links[i]!.publishWork(w.job, now, w.totals);
        if (!kubelet) publishJobs(links[i]!, h.jobs ? trackers[i]!.update(h.jobs(now), now) : detector.scan(h.read(now), now));
      });
    }, 1000);
  }
  const health = () => ({ ...fleet.health(), ...meters?.health(), ...pollers?.health(), ...kubelet?.health(), ...deliveryHealth(links) });
  // The health line also carries the process's memory and event-loop delay since the previous line.
  const processStats = new ProcessStats();
  const healthLine = () => `collector health: ${JSON.stringify({ ...health(), process: processStats.take() })}`;
  const healthLog = config.healthLogSeconds > 0
    ? setInterval(() => deps.log(healthLine()), config.healthLogSeconds * 1000)
    : undefined;
  healthLog?.unref();

  return {
    hosts: hosts.map((h) => h.name),
    links,
    fleet,
    health,
    // In order (protocol: shutdown): close the current windows, wait a bounded time for their acks, then stop.
    async stop() {
      sampler.stop();
      await meters?.stop();
      await pollers?.stop();
      await kubelet?.stop();
      const deadline = deps.now() + config.shutdownWaitMs;
      while (!links.every((l) => l.drained) && deps.now() < deadline) {
        links.forEach((l) => l.pump());
        await new Promise((r) => setTimeout(r, 50));
      }
      clearInterval(pump);
      clearInterval(healthLog);
      clearInterval(jobScan);
      deps.log(healthLine());
      processStats.stop();
      const left = Object.entries(deliveryHealth(links)).reduce((n, [k, v]) => (k.endsWith('_spooled') ? n + v : n), 0);
      if (left > 0) deps.log(`collector: stopping with ${left} unacknowledged message(s) ${config.spoolDir ? 'kept in the disk spool' : 'lost with the memory spool'}`);
      await Promise.all(links.map((l) => l.stop()));
      await fleet.stop();
      recorder?.stop();
    },
  };
}
