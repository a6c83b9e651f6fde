/** The collector's frozen configuration, projected from the checked option values. */
import type { Values } from '../cli/config-layers.js';
import type { MqttCredentialSettings } from '../cli/mqtt-credentials.js';
import { METER_KINDS, type MeterKind } from './meters/meter-router.js';

/** Poller kinds that --replay reads (a captured answer of the device); live, they run from the pollers file. */
export const REPLAY_POLLER_KINDS = ['redfish', 'ipmi-dcmi', 'snmp-pdu', 'modbus'] as const;
/** What each polls, for the message that sends a live source to the pollers file. */
const POLLED: Readonly<Record<(typeof REPLAY_POLLER_KINDS)[number], string>> = { redfish: 'a BMC', 'ipmi-dcmi': 'a BMC', 'snmp-pdu': 'a PDU', modbus: 'a meter' };
/** Job sources that --replay reads (a captured kubelet List answer); live, --jobs-from kubelet. */
export const REPLAY_JOB_KINDS = ['kubelet'] as const;

export interface CollectorConfig {
  readonly brokerUrl: string;
  /** Username, password file and CA file for the broker connection (cli/mqtt-credentials.ts). */
  readonly mqttAuth: MqttCredentialSettings;
  readonly prefix: string;
  readonly site: string;
  readonly source: 'auto' | 'nvml' | 'nvidia-smi' | 'prometheus' | 'sim' | 'none' | MeterKind | (typeof REPLAY_POLLER_KINDS)[number] | (typeof REPLAY_JOB_KINDS)[number];
  /** Meter kinds listened for live on the site broker. */
  readonly meters: readonly string[];
  /** Empty: the collector's own broker. */
  readonly meterBrokerUrl: string;
  readonly meterWindowMs: number;
  /** The mqtt-json mapping file; empty when none. */
  readonly meterMapFile: string;
  readonly zigbeeBase: string;
  /** The pollers file (Redfish, IPMI DCMI, ...: collector/pollers/registry.ts); empty when none. */
  readonly pollersFile: string;
  /** A file to replay instead of running (see collector/replay.ts); empty: run. */
  readonly replayFile: string;
  readonly replayTopic: string;
  readonly scrapeUrl: string;
  readonly scrapeIntervalMs: number;
  /** The host name for hardware sources; empty means the machine's hostname. */
  readonly host: string;
  readonly hosts: number;
  readonly gpus: number;
  readonly seed: number;
  readonly hostName: string;
  readonly windowMs: number;
  readonly sampleMs: number;
  readonly spoolDir: string;
  readonly spoolMaxMessages: number;
  readonly spoolMaxBytes: number;
  readonly ackTimeoutMs: number;
  readonly resendPerSecond: number;
  readonly recordFile: string;
  readonly shutdownWaitMs: number;
  readonly healthLogSeconds: number;
  readonly jobPattern: string;
  /** Jobs of a real host from /proc, or from the kubelet's pod resources API (collector/jobs/kubelet-pods.ts). */
  readonly jobsFrom: 'proc' | 'kubelet';
  readonly kubeletSocket: string;
}

export function collectorConfig(v: Values): CollectorConfig {
  return Object.freeze({
    brokerUrl: v.get('mqtt.broker') as string,
    mqttAuth: { username: v.get('mqtt.username') as string, passwordFile: v.get('mqtt.password_file') as string, caFile: v.get('mqtt.ca_file') as string },
    prefix: v.get('mqtt.prefix') as string,
    site: v.get('collector.site') as string,
    source: v.get('collector.source') as CollectorConfig['source'],
    meters: v.get('collector.meters') as string[],
    meterBrokerUrl: v.get('collector.meter_broker') as string,
    meterWindowMs: v.get('collector.meter_window_ms') as number,
    meterMapFile: v.get('collector.meter_map') as string,
    zigbeeBase: v.get('collector.zigbee2mqtt_base') as string,
    pollersFile: v.get('collector.pollers') as string,
    host: v.get('collector.host') as string,
    scrapeUrl: v.get('collector.scrape_url') as string,
    replayFile: v.get('collector.replay') as string,
    replayTopic: v.get('collector.topic') as string,
    scrapeIntervalMs: v.get('collector.scrape_interval_ms') as number,
    hosts: v.get('collector.hosts') as number,
    gpus: v.get('collector.gpus') as number,
    seed: v.get('collector.seed') as number,
    hostName: v.get('collector.host_name') as string,
    windowMs: v.get('collector.window_ms') as number,
    sampleMs: v.get('collector.sample_ms') as number,
    spoolDir: v.get('collector.spool_dir') as string,
    spoolMaxMessages: v.get('collector.spool_max_messages') as number,
    spoolMaxBytes: (v.get('collector.spool_max_mb') as number) * 1024 * 1024,
    ackTimeoutMs: v.get('collector.ack_timeout_ms') as number,
    resendPerSecond: v.get('collector.resend_per_s') as number,
    recordFile: v.get('collector.record') as string,
    shutdownWaitMs: v.get('collector.shutdown_wait_ms') as number,
    healthLogSeconds: v.get('collector.health_log_s') as number,
    jobPattern: v.get('collector.job_pattern') as string,
    jobsFrom: v.get('collector.jobs_from') as CollectorConfig['jobsFrom'],
    kubeletSocket: v.get('collector.kubelet_socket') as string,
  });
}

/** Checks across settings that no single option can express. */
export function collectorProblems(c: CollectorConfig): string[] {
  const problems: string[] = [];
  if (c.windowMs % c.sampleMs !== 0) problems.push(`collector.window_ms (${c.windowMs}) must be a multiple of collector.sample_ms (${c.sampleMs})`);
  if (c.site.startsWith('_')) problems.push(`collector.site "${c.site}" begins with "_", which protocol v1 reserves`);
  if (c.jobPattern) {
    try {
      if (!/\((?!\?)/.test(c.jobPattern)) problems.push(`collector.job_pattern needs a capture group for the job id: ${c.jobPattern}`);
      new RegExp(c.jobPattern);
    } catch (err) {
      problems.push(`collector.job_pattern is not a regular expression: ${(err as Error).message}`);
    }
  }
  const meterKinds: readonly string[] = METER_KINDS;
  if (meterKinds.includes(c.source) && !c.replayFile) problems.push(`collector.source ${c.source} is for --replay; to listen for live meters use --meters ${c.source} (with --source none when the host has no GPUs)`);
  for (const m of c.meters) if (!meterKinds.includes(m)) problems.push(`collector.meters: "${m}" is not a meter kind (${METER_KINDS.join(', ')})`);
  if (c.meters.includes('mqtt-json') && !c.meterMapFile) problems.push('collector.meters mqtt-json needs collector.meter_map (--meter-map mappings.json)');
  if (c.meterMapFile && !c.meters.includes('mqtt-json')) problems.push('collector.meter_map is set but collector.meters does not include mqtt-json');
  if (c.jobsFrom === 'kubelet' && c.source === 'sim') problems.push('collector.jobs_from kubelet reads the pods of a real node; the simulated fleet runs its own jobs');
  if (c.jobsFrom === 'kubelet' && !c.kubeletSocket.startsWith('/')) problems.push(`collector.kubelet_socket must be an absolute path, got "${c.kubeletSocket}"`);
  if (c.source === 'none' && c.meters.length === 0 && !c.pollersFile && !c.replayFile) problems.push('collector.source none reads no GPUs, so it needs --meters or --pollers');
  const polled = POLLED[c.source as keyof typeof POLLED] as string | undefined;
  if (polled && !c.replayFile) problems.push(`collector.source ${c.source} is for --replay; to poll ${polled} live, list it in a pollers file (--pollers pollers.yaml, with --source none when the host has no GPUs)`);
  const jobKinds: readonly string[] = REPLAY_JOB_KINDS;
  if (jobKinds.includes(c.source) && !c.replayFile) problems.push(`collector.source ${c.source} is for --replay; to take a host's jobs from the kubelet live, use --jobs-from kubelet beside its GPU source`);
  if (c.meterWindowMs % c.windowMs !== 0) problems.push(`collector.meter_window_ms (${c.meterWindowMs}) must be a multiple of collector.window_ms (${c.windowMs})`);
  if (c.source === 'prometheus' && !c.replayFile && !/^https?:\/\/\S+$/.test(c.scrapeUrl)) problems.push('collector.source prometheus needs collector.scrape_url (--scrape-url http://host:port/metrics)');
  if (c.host.startsWith('_')) problems.push(`collector.host "${c.host}" begins with "_", which protocol v1 reserves`);
  if (c.hostName.startsWith('_')) problems.push(`collector.host_name "${c.hostName}" begins with "_", which protocol v1 reserves`);
  return problems;
}
