/**
 * Which vendor parser reads a message from the site broker, and which meters
 * exist. Pure: (topic, payload) in, readings or a reason out; the MQTT
 * subscription itself lives in meter-listener.ts.
 *
 * Topics, as the vendors publish them by default:
 * - tasmota: `tele/<topic>/SENSOR`, and `stat/<topic>/STATUS8|10` (answers to Status 8/10);
 * - shelly: Gen1 `shellies/#`; Gen2+ `<prefix>/status/<component>:<n>` and `<prefix>/events/rpc`;
 * - zigbee2mqtt: `<base>/bridge/devices` (retained, discovery) and `<base>/<friendly name>`;
 * - mqtt-json: the topic filters of the configured mappings, tried first,
 *   because an operator's explicit mapping outranks a vendor guess.
 */
import type { MeterInfo } from '../../protocol/payloads.js';
import { type JsonMeterMapping, matchTopic, parseMqttJson } from './parse-mqtt-json.js';
import { parseShelly } from './parse-shelly.js';
import { parseTasmota, tasmotaMeterId } from './parse-tasmota.js';
import { type Z2mDevice, byFriendlyName, discoverZigbeeDevices, parseZigbee2mqtt, zigbeeMeterInfo } from './parse-zigbee2mqtt.js';
import type { MeterParseResult, MeterReading, Payload } from './reading.js';

export const METER_KINDS = ['tasmota', 'shelly', 'zigbee2mqtt', 'mqtt-json'] as const;
export type MeterKind = (typeof METER_KINDS)[number];

export interface MeterRouterConfig {
  kinds: readonly MeterKind[];
  /** Zigbee2MQTT's base_topic. */
  zigbeeBase: string;
  jsonMappings: readonly JsonMeterMapping[];
  /** At most this many distinct meters; readings of further ones are refused (`too_many_meters`). */
  maxMeters: number;
}

export type RouteResult =
  | { ok: true; kind: MeterKind; readings: MeterReading[]; /** The inventory changed: republish `info`. */ inventoryChanged: boolean }
  | { ok: false; kind?: MeterKind; reason: string; detail: string };

export class MeterRouter {
  private zigbee = new Map<string, Z2mDevice>();
  private readonly known = new Map<string, MeterInfo>();

  constructor(private readonly config: MeterRouterConfig) {}

  /** The subscriptions this configuration needs on the site broker. */
  filters(): string[] {
    const out = new Set<string>();
    for (const kind of this.config.kinds) {
      if (kind === 'tasmota') ['tele/+/SENSOR', 'stat/+/STATUS8', 'stat/+/STATUS10'].forEach((f) => out.add(f));
      if (kind === 'shelly') ['shellies/#', '+/status/+', '+/events/rpc'].forEach((f) => out.add(f));
      if (kind === 'zigbee2mqtt') out.add(`${this.config.zigbeeBase}/#`);
      if (kind === 'mqtt-json') this.config.jsonMappings.forEach((m) => out.add(m.topic));
    }
    return [...out];
  }

  /** The kind whose topics this is, or undefined for a topic no enabled kind publishes on. */
  private kindOf(topic: string): MeterKind | undefined {
    const on = (k: MeterKind) => this.config.kinds.includes(k);
    if (on('mqtt-json') && this.config.jsonMappings.some((m) => matchTopic(m.topic, topic))) return 'mqtt-json';
    if (on('tasmota') && tasmotaMeterId(topic) !== undefined) return 'tasmota';
    if (on('zigbee2mqtt') && topic.startsWith(`${this.config.zigbeeBase}/`)) return 'zigbee2mqtt';
    if (on('shelly') && (topic.startsWith('shellies/') || /^[^/]+\/(?:status\/[^/]+|events\/rpc)$/.test(topic))) return 'shelly';
    return undefined;
  }

  route(topic: string, payload: Payload): RouteResult {
    const kind = this.kindOf(topic);
    if (!kind) return { ok: false, reason: 'unknown_topic', detail: `no enabled meter kind publishes on ${topic}` };
    if (kind === 'zigbee2mqtt' && topic === `${this.config.zigbeeBase}/bridge/devices`) return this.discover(payload);
    const parsed = this.parse(kind, topic, payload);
    if (!parsed.ok) return { ok: false, kind, reason: parsed.reason, detail: parsed.detail };
    let inventoryChanged = false;
    const accepted: MeterReading[] = [];
    for (const r of parsed.readings) {
      const known = this.known.get(r.meter);
      if (!known && this.known.size >= this.config.maxMeters) {
        return { ok: false, kind, reason: 'too_many_meters', detail: `meter ${r.meter} would exceed the limit of ${this.config.maxMeters} meters` };
      }
      const info = known ?? { id: r.meter, kind, supports: { energy_counter: false, instant_power: false } };
      // What a meter supports is learned from what it sends: a Gen1 Shelly sends power and energy on separate topics.
      const energy = info.supports.energy_counter || r.energy_import_wh !== undefined || r.energy_export_wh !== undefined;
      const power = info.supports.instant_power || r.power_w !== undefined;
      if (!known || energy !== info.supports.energy_counter || power !== info.supports.instant_power) {
        this.known.set(r.meter, { ...info, supports: { energy_counter: energy, instant_power: power } });
        inventoryChanged = true;
      }
      accepted.push(r);
    }
    return { ok: true, kind, readings: accepted, inventoryChanged };
  }

  private parse(kind: MeterKind, topic: string, payload: Payload): MeterParseResult {
    switch (kind) {
      case 'tasmota':
        return parseTasmota(topic, payload);
      case 'shelly':
        return parseShelly(topic, payload);
      case 'zigbee2mqtt':
        return parseZigbee2mqtt(topic, payload, this.zigbee, this.config.zigbeeBase);
      case 'mqtt-json':
        return parseMqttJson(this.config.jsonMappings, topic, payload);
    }
  }

  /** A new device list replaces the old one; its meters join the inventory with their names. */
  private discover(payload: Payload): RouteResult {
    const found = discoverZigbeeDevices(payload);
    if (!found.ok) return { ok: false, kind: 'zigbee2mqtt', reason: found.reason, detail: found.detail };
    this.zigbee = byFriendlyName(found.devices);
    let inventoryChanged = false;
    for (const d of found.devices.filter((x) => x.meter)) {
      const info = zigbeeMeterInfo(d);
      const before = this.known.get(info.id);
      if (!before && this.known.size >= this.config.maxMeters) continue;
      if (JSON.stringify(before) !== JSON.stringify(info)) {
        this.known.set(info.id, info);
        inventoryChanged = true;
      }
    }
    return { ok: true, kind: 'zigbee2mqtt', readings: [], inventoryChanged };
  }

  /** The meters seen so far, for the host's `info`. */
  inventory(): MeterInfo[] {
    return [...this.known.values()];
  }
}
