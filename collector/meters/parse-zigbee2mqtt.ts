/**
 * Zigbee2MQTT: meter discovery from the retained `<base>/bridge/devices`
 * message, then readings from `<base>/<friendly_name>` state messages.
 * Pure; never throws.
 *
 * A device's `definition.exposes` lists what its state messages carry, with
 * units (zigbee2mqtt.io, "Exposes"). Features may be nested under
 * `features` (switch, light, composite). The fixture's ZNCZ02LM plug exposes
 * power [W] and energy [kWh]; battery devices expose voltage [mV], which is
 * the cell voltage, not mains. So a state field is used only when the
 * exposes declare it with a unit converted here, and voltage and current
 * only as V and A. A device with neither power nor energy is not a meter.
 *
 * Meter ids are the IEEE address, which survives a rename; the friendly
 * name is kept as the display name (and is what the state topic carries).
 */
import type { MeterInfo } from '../../protocol/payloads.js';
import {
  type MeterFailure,
  type MeterField,
  type MeterParseResult,
  type MeterReading,
  type Obj,
  type Payload,
  ValueSink,
  failure,
  isObject,
  own,
  hasValues,
  parseJsonObject,
  payloadText,
  readings,
} from './reading.js';

/** Accepted units per exposed property, with the factor to kilowatch's unit. */
const PROPERTIES = new Map<string, { field: MeterField; units: Map<string, number> }>([
  ['power', { field: 'power_w', units: new Map([['W', 1], ['kW', 1000]]) }],
  ['energy', { field: 'energy_import_wh', units: new Map([['kWh', 1000], ['Wh', 1]]) }],
  // Bidirectional meters (e.g. Tuya DIN-rail) expose the export counter as produced_energy.
  ['produced_energy', { field: 'energy_export_wh', units: new Map([['kWh', 1000], ['Wh', 1]]) }],
  ['voltage', { field: 'voltage_v', units: new Map([['V', 1]]) }],
  ['current', { field: 'current_a', units: new Map([['A', 1]]) }],
  // Some converters declare power_factor without a unit (0..1), others in %.
  ['power_factor', { field: 'pf', units: new Map([['', 1], ['%', 0.01]]) }],
]);

export interface Z2mDevice {
  /** IEEE address, the stable id. */
  ieee: string;
  friendly_name: string;
  model?: string;
  vendor?: string;
  /** State property -> (reading field, unit factor), for the properties this parser uses. */
  fields: Map<string, { field: MeterField; scale: number }>;
  /** True when power and/or energy are exposed. */
  meter: boolean;
}

/** The wire format is an array; documentation dumps print it as an object keyed "0", "1", ... */
function listOf(raw: unknown): unknown[] {
  if (Array.isArray(raw)) return raw;
  return isObject(raw) ? Object.values(raw) : [];
}

function collectExposes(raw: unknown, into: Obj[]): Obj[] {
  for (const e of listOf(raw)) {
    if (!isObject(e)) continue;
    into.push(e);
    collectExposes(own(e, 'features'), into);
  }
  return into;
}

function deviceOf(raw: unknown): Z2mDevice | undefined {
  if (!isObject(raw)) return undefined;
  const ieee = own(raw, 'ieee_address');
  const name = own(raw, 'friendly_name');
  if (typeof ieee !== 'string' || typeof name !== 'string') return undefined;
  const def = own(raw, 'definition');
  const dev: Z2mDevice = { ieee, friendly_name: name, fields: new Map(), meter: false };
  if (!isObject(def)) return dev; // the coordinator and unsupported devices have no definition
  const model = own(def, 'model');
  const vendor = own(def, 'vendor');
  if (typeof model === 'string') dev.model = model;
  if (typeof vendor === 'string') dev.vendor = vendor;
  for (const e of collectExposes(own(def, 'exposes'), [])) {
    const property = own(e, 'property');
    const unit = own(e, 'unit') ?? '';
    const spec = typeof property === 'string' ? PROPERTIES.get(property) : undefined;
    const scale = spec && typeof unit === 'string' ? spec.units.get(unit) : undefined;
    if (spec && scale !== undefined && typeof property === 'string') dev.fields.set(property, { field: spec.field, scale });
  }
  dev.meter = dev.fields.has('power') || dev.fields.has('energy');
  return dev;
}

export type Z2mDiscovery = { ok: true; devices: Z2mDevice[] } | MeterFailure;

/** Parses `<base>/bridge/devices`: every device with an IEEE address and friendly name. */
export function discoverZigbeeDevices(payload: Payload): Z2mDiscovery {
  let raw: unknown;
  const text = payloadText(payload);
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return failure('invalid_json', `bridge/devices: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw) && !isObject(raw)) return failure('invalid_json', 'bridge/devices is not an array');
  const devices = listOf(raw).map(deviceOf).filter((d): d is Z2mDevice => d !== undefined);
  return { ok: true, devices };
}

/** Friendly name -> device: the lookup the state parser needs. */
export function byFriendlyName(devices: readonly Z2mDevice[]): Map<string, Z2mDevice> {
  return new Map(devices.map((d) => [d.friendly_name, d]));
}

export function zigbeeMeterInfo(d: Z2mDevice): MeterInfo {
  const name = [d.vendor, d.model].filter(Boolean).join(' ');
  return {
    id: d.ieee,
    kind: 'zigbee2mqtt',
    name: name ? `${d.friendly_name} (${name})` : d.friendly_name,
    supports: { energy_counter: d.fields.has('energy'), instant_power: d.fields.has('power') },
  };
}

/**
 * Parses `<base>/<friendly_name>`. Subtopics (availability, set, get) and
 * bridge messages are understood but meter nothing; a name that discovery
 * has not listed is unknown_topic, a listed device without power or energy
 * is unmetered.
 */
export function parseZigbee2mqtt(topic: string, payload: Payload, devices: ReadonlyMap<string, Z2mDevice>, base = 'zigbee2mqtt'): MeterParseResult {
  if (!topic.startsWith(`${base}/`)) return failure('unknown_topic', `not under ${base}/: ${topic}`);
  const name = topic.slice(base.length + 1);
  if (name.startsWith('bridge/')) return readings([]);
  // Friendly names may contain '/', so the name is looked up whole before any subtopic is stripped.
  const device = devices.get(name);
  if (!device) {
    const parent = /^(.+)\/(?:availability|set|get)$/.exec(name)?.[1];
    if (parent !== undefined && devices.has(parent)) return readings([]);
    return failure('unknown_topic', `no discovered device named ${JSON.stringify(name)}`);
  }
  if (!device.meter) return failure('unmetered', `${name} (${device.model ?? 'unknown model'}) exposes neither power nor energy`);
  const parsed = parseJsonObject(payload);
  if (!parsed.ok) return parsed;
  const sink = new ValueSink();
  const reading: MeterReading = { meter: device.ieee };
  for (const [property, { field, scale }] of device.fields) sink.put(reading, field, own(parsed.value, property), property, scale);
  // With cache_state off, a state change (ON/OFF) arrives alone; before its first report a plug has no power yet.
  return sink.result(hasValues(reading) ? [reading] : []);
}
