/**
 * What node power a Redfish document carries. Pure: a parsed JSON document in,
 * meter readings or a reason out; the HTTP around it is redfish.ts.
 *
 * Three resources carry node power (DMTF DSP0268, Redfish Resource and Schema
 * Guide, and the public-rackmount1 mockup of DMTF/Redfish-Mockup-Server):
 * - `Sensor` (Chassis/<id>/Sensors/<id>): `ReadingType` `Power` in watts, or
 *   an energy counter (`EnergykWh`, `EnergyWh`, `EnergyJoules`), converted
 *   here to Wh; `SensingInterval` (ISO 8601) says how often it is refreshed;
 * - `EnvironmentMetrics` (Chassis/<id>/EnvironmentMetrics): the excerpts
 *   `PowerWatts` and `EnergykWh`, each with the `DataSourceUri` of its sensor;
 * - the legacy `Power` (Chassis/<id>/Power, deprecated in 2020.4 but what most
 *   BMCs still serve): `PowerControl[].PowerConsumedWatts`, and each power
 *   supply's `PowerInputWatts` or, where the input is not reported,
 *   `LastPowerOutputWatts` (the DC output: lower than the input by the
 *   supply's losses).
 *
 * A value the BMC does not report (null, missing, a sensor whose State is not
 * Enabled) is absent, never 0. A negative power or energy is bad_value: node
 * power has no export.
 */
import { type MeterParseResult, type MeterReading, type Obj, failure, isObject, own, scaled, toNumber } from '../meters/reading.js';

export type RedfishParse = Extract<MeterParseResult, { ok: false }> | {
  ok: true;
  readings: MeterReading[];
  /** The meters the document describes, with a name for the host's `info`. */
  meters: { id: string; name: string }[];
  /** The sensor's SensingInterval, ms, where it gives one. */
  intervalMs?: number;
};

/** Energy units of ReadingType, as factors to Wh (Sensor.v1_x ReadingType enum). */
const ENERGY_TO_WH: Record<string, number> = { EnergykWh: 1000, EnergyWh: 1, EnergyJoules: 1 / 3600 };

/** The `@odata.id` of a link property, e.g. chassis.Power = { "@odata.id": "/redfish/v1/Chassis/1U/Power" }. */
export function linkOf(doc: Obj, key: string): string | undefined {
  const link = own(doc, key);
  const id = isObject(link) ? own(link, '@odata.id') : undefined;
  return typeof id === 'string' && id.startsWith('/') ? id : undefined;
}

export function odataType(doc: Obj): string {
  const t = own(doc, '@odata.type');
  return typeof t === 'string' ? t : '';
}

/** The links of a Chassis resource that lead to power readings. */
export function chassisLinks(doc: Obj): { sensors?: string; environmentMetrics?: string; power?: string } {
  return { sensors: linkOf(doc, 'Sensors'), environmentMetrics: linkOf(doc, 'EnvironmentMetrics'), power: linkOf(doc, 'Power') };
}

/** A collection's members: their URIs, and the members themselves where the service expanded them. */
export function collectionMembers(doc: Obj): { uris: string[]; expanded: Obj[] } {
  const members = own(doc, 'Members');
  const list = Array.isArray(members) ? members.filter(isObject) : [];
  const uris = list.map((m) => own(m, '@odata.id')).filter((u): u is string => typeof u === 'string' && u.startsWith('/'));
  return { uris, expanded: list.filter((m) => own(m, 'ReadingType') !== undefined) };
}

/** An ISO 8601 duration as Redfish writes it (PT0.25S, PT5S, PT1M, P1DT2H) in ms; undefined when unreadable or with years or months. */
export function isoDurationMs(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(text.trim());
  if (!m || text.trim() === 'P' || text.trim().endsWith('T')) return undefined;
  const [d, h, min, s] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x))) as [number, number, number, number];
  return Math.round((((d * 24 + h) * 60 + min) * 60 + s) * 1000);
}

/** A sensor or excerpt that reports no reading right now: not installed, disabled, or offline. */
function unavailable(doc: Obj): boolean {
  const status = own(doc, 'Status');
  const state = isObject(status) ? own(status, 'State') : undefined;
  return state !== undefined && state !== 'Enabled';
}

/** A reading that must be a non-negative number: the number, undefined when absent, or a bad-value reason. */
function nonNegative(raw: unknown, label: string): number | undefined | { bad: string } {
  const n = toNumber(raw);
  if (n === undefined) return undefined;
  if (n === 'bad' || n < 0) return { bad: `${label} is ${JSON.stringify(raw)}` };
  return n;
}

interface SensorFacts {
  readingType: string;
  physicalContext?: string;
  electricalContext?: string;
}

export function sensorFacts(doc: Obj): SensorFacts {
  const text = (k: string) => (typeof own(doc, k) === 'string' ? (own(doc, k) as string) : undefined);
  return { readingType: text('ReadingType') ?? '', physicalContext: text('PhysicalContext'), electricalContext: text('ElectricalContext') };
}

/**
 * A sensor for the whole node, not a part of it: a CPU's or one supply's power
 * sensor must not stand in for the node's. Total is DMTF's ElectricalContext
 * for a sum; Chassis the PhysicalContext of the enclosure as a whole.
 */
export function isNodeSensor(doc: Obj, kind: 'power' | 'energy'): boolean {
  const f = sensorFacts(doc);
  const typed = kind === 'power' ? f.readingType === 'Power' : f.readingType in ENERGY_TO_WH;
  return typed && (f.electricalContext === 'Total' || f.physicalContext === 'Chassis');
}

function fromSensor(meter: string, doc: Obj): RedfishParse {
  const { readingType } = sensorFacts(doc);
  const name = typeof own(doc, 'Name') === 'string' ? (own(doc, 'Name') as string) : meter;
  const intervalMs = isoDurationMs(own(doc, 'SensingInterval'));
  const base = { meters: [{ id: meter, name }], ...(intervalMs !== undefined && { intervalMs }) };
  if (readingType !== 'Power' && !(readingType in ENERGY_TO_WH)) return failure('unmetered', `sensor ${name} reads ${readingType || 'no ReadingType'}, not power or energy`);
  if (unavailable(doc)) return { ok: true, readings: [], ...base };
  const value = nonNegative(own(doc, 'Reading'), `${name} Reading`);
  if (typeof value === 'object') return failure('bad_value', value.bad);
  if (value === undefined) return { ok: true, readings: [], ...base };
  const reading: MeterReading = { meter };
  if (readingType === 'Power') {
    reading.power_w = value;
    const pf = toNumber(own(doc, 'PowerFactor'));
    if (pf === 'bad' || (typeof pf === 'number' && Math.abs(pf) > 1)) return failure('bad_value', `${name} PowerFactor is ${JSON.stringify(own(doc, 'PowerFactor'))}`);
    if (pf !== undefined) reading.pf = pf;
  } else {
    reading.energy_import_wh = scaled(value, ENERGY_TO_WH[readingType]!);
  }
  return { ok: true, readings: [reading], ...base };
}

function fromEnvironmentMetrics(meter: string, doc: Obj): RedfishParse {
  const reading: MeterReading = { meter };
  for (const [key, field, scale] of [['PowerWatts', 'power_w', 1], ['EnergykWh', 'energy_import_wh', 1000]] as const) {
    const excerpt = own(doc, key);
    if (!isObject(excerpt)) continue;
    const value = nonNegative(own(excerpt, 'Reading'), `${key}.Reading`);
    if (typeof value === 'object') return failure('bad_value', value.bad);
    if (value !== undefined) reading[field] = scaled(value, scale);
  }
  const found = reading.power_w !== undefined || reading.energy_import_wh !== undefined;
  return { ok: true, readings: found ? [reading] : [], meters: [{ id: meter, name: 'node power (EnvironmentMetrics)' }] };
}

/** The sensors an EnvironmentMetrics resource takes its power and energy from (their DataSourceUri). */
export function environmentSources(doc: Obj): { power?: string; energy?: string } {
  const uri = (key: string) => {
    const excerpt = own(doc, key);
    const u = isObject(excerpt) ? own(excerpt, 'DataSourceUri') : undefined;
    return typeof u === 'string' && u.startsWith('/') ? u : undefined;
  };
  return { power: uri('PowerWatts'), energy: uri('EnergykWh') };
}

/** The channel meter of one power supply: `<meter>/psu-<MemberId>`. */
export function psuMeterId(meter: string, memberId: string): string {
  return `${meter}/psu-${memberId.replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

function fromLegacyPower(meter: string, doc: Obj): RedfishParse {
  const readings: MeterReading[] = [];
  const meters: { id: string; name: string }[] = [{ id: meter, name: 'node power (PowerControl)' }];
  const controls = Array.isArray(own(doc, 'PowerControl')) ? (own(doc, 'PowerControl') as unknown[]).filter(isObject) : [];
  // The first control that reports consumption: further entries are usually sub-domains (CPU, memory) of the first.
  for (const [i, c] of controls.entries()) {
    const value = nonNegative(own(c, 'PowerConsumedWatts'), `PowerControl[${i}].PowerConsumedWatts`);
    if (typeof value === 'object') return failure('bad_value', value.bad);
    if (value === undefined) continue;
    readings.push({ meter, power_w: value });
    break;
  }
  const supplies = Array.isArray(own(doc, 'PowerSupplies')) ? (own(doc, 'PowerSupplies') as unknown[]).filter(isObject) : [];
  for (const [i, psu] of supplies.entries()) {
    if (unavailable(psu)) continue;
    const memberId = typeof own(psu, 'MemberId') === 'string' ? (own(psu, 'MemberId') as string) : String(i);
    const input = nonNegative(own(psu, 'PowerInputWatts'), `PowerSupplies[${i}].PowerInputWatts`);
    const output = nonNegative(own(psu, 'LastPowerOutputWatts'), `PowerSupplies[${i}].LastPowerOutputWatts`);
    const volts = nonNegative(own(psu, 'LineInputVoltage'), `PowerSupplies[${i}].LineInputVoltage`);
    for (const v of [input, output, volts]) if (typeof v === 'object') return failure('bad_value', v.bad);
    const power = (input ?? output) as number | undefined;
    const id = psuMeterId(meter, memberId);
    const label = typeof own(psu, 'Name') === 'string' ? (own(psu, 'Name') as string) : 'power supply';
    meters.push({ id, name: `${label} ${memberId} (${input !== undefined ? 'input' : 'output'} power)` });
    const r: MeterReading = { meter: id };
    if (power !== undefined) r.power_w = power;
    if (typeof volts === 'number') r.voltage_v = volts;
    if (r.power_w !== undefined || r.voltage_v !== undefined) readings.push(r);
  }
  return { ok: true, readings, meters };
}

/** Readings of one Redfish document, by its @odata.type; `meter` is the node's meter id (the poller's id). */
export function readRedfishDocument(meter: string, doc: unknown): RedfishParse {
  if (!isObject(doc)) return failure('invalid_json', 'a Redfish resource is a JSON object');
  const type = odataType(doc);
  if (type.startsWith('#Sensor.')) return fromSensor(meter, doc);
  if (type.startsWith('#EnvironmentMetrics.')) return fromEnvironmentMetrics(meter, doc);
  if (type.startsWith('#Power.')) return fromLegacyPower(meter, doc);
  return failure('unknown_topic', `a ${type || 'resource without @odata.type'} carries no node power (expected Sensor, EnvironmentMetrics or Power)`);
}

/** One reading per meter: the power sensor's and the energy sensor's readings of the node become one. */
export function mergeReadings(list: MeterReading[]): MeterReading[] {
  const byMeter = new Map<string, MeterReading>();
  for (const r of list) byMeter.set(r.meter, { ...byMeter.get(r.meter), ...r });
  return [...byMeter.values()];
}
