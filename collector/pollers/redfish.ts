/**
 * The `redfish` poller: node power from a BMC's Redfish service.
 *
 * The first poll discovers where the chassis reports power, in this order:
 * 1. the Sensor model: the sensors named by EnvironmentMetrics' PowerWatts
 *    and EnergykWh (their DataSourceUri), else a Power and an energy sensor
 *    of the whole node found in Chassis/<id>/Sensors;
 * 2. EnvironmentMetrics itself, where it carries a reading but names no sensor;
 * 3. otherwise the legacy Chassis/<id>/Power (PowerControl and the PSUs).
 * Later polls GET only those resources (parse-redfish.ts reads them). A 404
 * drops the plan, so a BMC whose firmware was updated is discovered again.
 *
 * Pace: the entry's interval_ms; else the power sensor's SensingInterval,
 * never below MIN_FOLLOW_MS (a BMC asked 4 times a second, as the DMTF
 * mockup's PT0.25S would have it, answers slower for everyone); else 5 s.
 */
import { readFile } from 'node:fs/promises';
import type { MeterInfo } from '../../protocol/payloads.js';
import { type MeterReading, type Obj, own } from '../meters/reading.js';
import { EntryFields } from './entry-fields.js';
import { chassisLinks, collectionMembers, environmentSources, isNodeSensor, mergeReadings, readRedfishDocument } from './parse-redfish.js';
import { PollLoop, errorText } from './poll-loop.js';
import type { MeterPoller, PollerDeps, PollerEntry } from './poller.js';
import { RedfishClient, RedfishError } from './redfish-client.js';

export const DEFAULT_INTERVAL_MS = 5000;
export const DEFAULT_TIMEOUT_MS = 5000;
export const MIN_FOLLOW_MS = 1000;
export const MAX_FOLLOW_MS = 300_000;
/** Sensors read while looking for the node's power and energy sensors; a big server has a few hundred. */
export const MAX_SENSOR_SCAN = 64;
/** Discovery reads several resources in one poll, so it gets this many deadlines. */
const DISCOVERY_DEADLINES = 3;

export interface RedfishSettings {
  url: string;
  chassis?: string;
  auth: 'none' | 'basic' | 'session';
  username?: string;
  password?: string;
  passwordFile?: string;
  insecureTls: boolean;
  powerSensor?: string;
  energySensor?: string;
}

const PATH = /^\/redfish\/v1\/\S+$/;

export function redfishSettings(entry: PollerEntry, where: string): { settings: RedfishSettings; problems: string[] } {
  const f = new EntryFields(entry, where);
  f.onlyKeys(['url', 'chassis', 'auth', 'username', 'password', 'password_file', 'insecure_tls', 'power_sensor', 'energy_sensor']);
  const url = f.string('url', { required: true, pattern: /^https?:\/\/[^\s/]+\/?$/, patternText: 'the BMC\'s base URL, https://host[:port]' }) ?? '';
  const username = f.string('username');
  const password = f.string('password');
  const passwordFile = f.string('password_file');
  const auth = f.oneOf('auth', ['none', 'basic', 'session'] as const, username ? 'basic' : 'none');
  if (auth !== 'none' && (!username || (!password && !passwordFile))) f.problem('auth', `${auth} needs username and password (or password_file)`);
  if (password && passwordFile) f.problem('password', 'and password_file are both set; keep one');
  const settings: RedfishSettings = {
    url, auth, username, password, passwordFile,
    chassis: f.string('chassis', { pattern: /^[^/\s]+$/, patternText: 'a chassis id such as 1U (not a path)' }),
    insecureTls: f.bool('insecure_tls', false),
    powerSensor: f.string('power_sensor', { pattern: PATH, patternText: 'a path such as /redfish/v1/Chassis/1U/Sensors/TotalPower' }),
    energySensor: f.string('energy_sensor', { pattern: PATH, patternText: 'a path such as /redfish/v1/Chassis/1U/Sensors/TotalEnergy' }),
  };
  if (url.startsWith('http://') && settings.insecureTls) f.problem('insecure_tls', 'applies to https URLs only');
  return { settings, problems: f.problems };
}

interface Plan {
  chassis: string;
  uris: string[];
  model: 'sensors' | 'legacy';
}

interface PollResult {
  readings: MeterReading[];
  bad: string[];
  failed: string[];
  intervalMs?: number;
}

export class RedfishPoller implements MeterPoller {
  readonly kind = 'redfish' as const;
  readonly id: string;
  private readonly settings: RedfishSettings;
  private readonly client: RedfishClient;
  private readonly loop: PollLoop<PollResult>;
  private readonly counters = { readings: 0, bad_value: 0, no_reading: 0, partial: 0, discoveries: 0 };
  private readonly known = new Map<string, MeterInfo>();
  private plan: Plan | undefined;
  private deviceIntervalMs: number | undefined;
  private emit: (reading: MeterReading, atMs: number) => void = () => undefined;
  private failing = false;

  constructor(
    private readonly entry: PollerEntry,
    private readonly deps: PollerDeps,
  ) {
    this.id = entry.id;
    this.settings = redfishSettings(entry, `redfish ${entry.id}`).settings;
    this.client = new RedfishClient({ url: this.settings.url, auth: this.settings.auth, insecureTls: this.settings.insecureTls });
    const timeout = entry.timeout_ms ?? DEFAULT_TIMEOUT_MS;
    this.loop = new PollLoop<PollResult>({
      intervalMs: () => this.intervalMs(),
      timeoutMs: () => (this.plan ? timeout : timeout * DISCOVERY_DEADLINES),
      poll: (signal) => this.poll(signal),
      onResult: (r, at) => this.onResult(r, at),
      onFailure: (kind, detail) => this.onFailure(kind, detail),
      now: deps.now,
    });
  }

  start(emit: (reading: MeterReading, atMs: number) => void): void {
    this.emit = emit;
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.client.close();
  }

  /** The pace now: the entry's, else the power sensor's SensingInterval (bounded), else the default. */
  intervalMs(): number {
    return this.entry.interval_ms ?? this.deviceIntervalMs ?? DEFAULT_INTERVAL_MS;
  }

  meters(): MeterInfo[] {
    return [...this.known.values()];
  }

  health(): Record<string, number> {
    return { ...this.loop.counters, ...this.counters };
  }

  private async poll(signal: AbortSignal): Promise<PollResult> {
    if (!this.plan) await this.discover(signal);
    const plan = this.plan!;
    const answers = await Promise.allSettled(plan.uris.map((u) => this.client.get(u, signal)));
    const failed = answers.flatMap((a) => (a.status === 'rejected' ? [a.reason as unknown] : []));
    // A resource that moved (404) means the BMC changed under us: discover again on the next poll.
    if (failed.some((e) => e instanceof RedfishError && e.status === 404)) this.plan = undefined;
    if (failed.length === answers.length) throw failed[0];
    return this.read(answers.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : [])), failed.map(errorText));
  }

  /** Reads the fetched documents into one reading per meter; pure apart from the inventory it keeps. */
  private read(docs: Obj[], failed: string[]): PollResult {
    const result: PollResult = { readings: [], bad: [], failed };
    for (const doc of docs) {
      const parsed = readRedfishDocument(this.id, doc);
      if (!parsed.ok) {
        result.bad.push(`${String(own(doc, '@odata.id'))}: ${parsed.reason}: ${parsed.detail}`);
        continue;
      }
      result.readings.push(...parsed.readings);
      if (parsed.intervalMs !== undefined && result.intervalMs === undefined) result.intervalMs = parsed.intervalMs;
      for (const m of parsed.meters) if (!this.known.has(m.id)) this.known.set(m.id, { id: m.id, kind: 'redfish', name: m.name, supports: { energy_counter: false, instant_power: false } });
    }
    result.readings = mergeReadings(result.readings);
    for (const r of result.readings) {
      const info = this.known.get(r.meter);
      if (!info) continue;
      info.supports = { energy_counter: info.supports.energy_counter || r.energy_import_wh !== undefined, instant_power: info.supports.instant_power || r.power_w !== undefined };
    }
    return result;
  }

  private onResult(r: PollResult, atMs: number): void {
    if (r.failed.length > 0) this.counters.partial += 1;
    this.counters.bad_value += r.bad.length;
    if (r.intervalMs !== undefined) this.deviceIntervalMs = Math.min(MAX_FOLLOW_MS, Math.max(MIN_FOLLOW_MS, r.intervalMs));
    if (r.readings.length === 0) this.counters.no_reading += 1;
    for (const reading of r.readings) {
      this.counters.readings += 1;
      this.emit(reading, atMs);
    }
    const problems = [...r.bad, ...r.failed];
    if (problems.length > 0) this.note(`redfish ${this.id}: ${problems.join('; ')}`);
    else if (this.failing) {
      this.failing = false;
      this.deps.log(`redfish ${this.id}: reading again`);
    }
  }

  private onFailure(kind: 'timeout' | 'error', detail: string): void {
    this.note(`redfish ${this.id}: poll ${kind === 'timeout' ? 'timed out' : 'failed'}: ${detail}`);
  }

  /** Logs the first problem of a run of them; the counters carry the rest. */
  private note(line: string): void {
    if (this.failing) return;
    this.failing = true;
    this.deps.log(line);
  }

  private async discover(signal: AbortSignal): Promise<void> {
    this.counters.discoveries += 1;
    const s = this.settings;
    if (s.auth !== 'none') {
      // Read again at each discovery, so a rotated password file is picked up after the BMC refuses the old one.
      const password = s.passwordFile ? (await readFile(s.passwordFile, 'utf8')).trim() : s.password!;
      this.client.setCredentials({ username: s.username!, password });
    }
    const chassis = s.chassis ? `/redfish/v1/Chassis/${encodeURIComponent(s.chassis)}` : await this.firstChassis(signal);
    const links = chassisLinks(await this.client.get(chassis, signal));
    let power = s.powerSensor;
    let energy = s.energySensor;
    if (links.environmentMetrics && (!power || !energy)) {
      const env = await this.client.get(links.environmentMetrics, signal).catch(() => undefined);
      if (env) {
        const sources = environmentSources(env);
        const parsed = readRedfishDocument(this.id, env);
        const has = (f: 'power_w' | 'energy_import_wh') => parsed.ok && parsed.readings.some((r) => r[f] !== undefined);
        power ??= sources.power ?? (has('power_w') ? links.environmentMetrics : undefined);
        energy ??= sources.energy ?? (has('energy_import_wh') ? links.environmentMetrics : undefined);
      }
    }
    if ((!power || !energy) && links.sensors) {
      const found = await this.scanSensors(links.sensors, signal, !power, !energy);
      power ??= found.power;
      energy ??= found.energy;
    }
    const uris = power ? [power, energy] : links.power ? [links.power, energy] : [energy];
    const plan: Plan = { chassis, uris: [...new Set(uris.filter((u): u is string => u !== undefined))], model: power || !links.power ? 'sensors' : 'legacy' };
    if (plan.uris.length === 0) throw new RedfishError(`${chassis} links no power reading (no Sensors, EnvironmentMetrics or Power)`);
    this.plan = plan;
    this.deps.log(`redfish ${this.id}: ${chassis}: reading ${plan.model === 'legacy' ? 'the legacy Power resource' : 'the Sensor model'} from ${plan.uris.join(', ')}`);
  }

  /** Without a configured chassis, the first member of the Chassis collection (a server BMC lists its own first). */
  private async firstChassis(signal: AbortSignal): Promise<string> {
    const { uris } = collectionMembers(await this.client.get('/redfish/v1/Chassis', signal));
    if (uris.length === 0) throw new RedfishError('/redfish/v1/Chassis has no members');
    return uris[0]!;
  }

  /** Looks for the node's power and energy sensors, names that promise them first, a few at a time, stopping once both are found. */
  private async scanSensors(collection: string, signal: AbortSignal, wantPower: boolean, wantEnergy: boolean): Promise<{ power?: string; energy?: string }> {
    const { uris, expanded } = collectionMembers(await this.client.get(collection, signal));
    const found: { power?: string; energy?: string } = {};
    const consider = (doc: Obj) => {
      const uri = own(doc, '@odata.id');
      if (typeof uri !== 'string') return;
      if (wantPower && !found.power && isNodeSensor(doc, 'power')) found.power = uri;
      if (wantEnergy && !found.energy && isNodeSensor(doc, 'energy')) found.energy = uri;
    };
    expanded.forEach(consider);
    const promising = (u: string) => (/power|energy|watt|kwh|pwr/i.test(u.split('/').pop() ?? '') ? 0 : 1);
    const queue = expanded.length > 0 ? [] : [...uris].sort((a, b) => promising(a) - promising(b)).slice(0, MAX_SENSOR_SCAN);
    const done = () => (!wantPower || found.power) && (!wantEnergy || found.energy);
    while (queue.length > 0 && !done()) {
      const batch = queue.splice(0, 4);
      const docs = await Promise.allSettled(batch.map((u) => this.client.get(u, signal)));
      for (const d of docs) if (d.status === 'fulfilled') consider(d.value);
    }
    return found;
  }
}
