/**
 * Generic JSON meters: any device that publishes JSON over MQTT (ESPHome,
 * OpenDTU, a PDU gateway, a script) is mapped by configuration instead of
 * code. Pure; never throws.
 *
 *   { topic: 'inverter/+/state', meter: 'pv-$1',
 *     fields: { power_w: { path: 'ac.power', sign: -1 },
 *               energy_export_wh: { path: 'ac.yield_total_kwh', scale: 1000 } } }
 *
 * - `topic` is an MQTT filter: `+` matches one level, a final `#` the rest
 *   (MQTT 3.1.1 §4.7.1). `$1`..`$9` in `meter` are the `+` captures in order.
 * - `path` is dot-separated; a numeric segment indexes an array (`phases.0.w`).
 * - The value is multiplied by `scale` (unit conversion, default 1) and by
 *   `sign` (default 1; -1 for devices that report export as positive), so
 *   the reading keeps kilowatch's units and sign convention (an inverter
 *   reports its output as positive; for the site it is export, so negative).
 *   A sign that makes an energy counter negative is a bad_value.
 * - `ts` (optional) reads an epoch number; its `scale` converts to ms
 *   (1000 for epoch seconds). Values before 2017 are treated as unset clocks.
 */
import {
  METER_FIELDS,
  type MeterField,
  type MeterParseResult,
  type MeterReading,
  type Obj,
  type Payload,
  ValueSink,
  epochSecondsToMs,
  failure,
  hasValues,
  isObject,
  own,
  parseJsonObject,
  toNumber,
} from './reading.js';

export interface JsonField {
  path: string;
  scale?: number;
  sign?: 1 | -1;
}

export interface JsonMeterMapping {
  topic: string;
  /** A fixed id, or one built from wildcard captures: "$1", "rack-$1-$2". */
  meter: string;
  fields: { [K in MeterField]?: JsonField } & { ts?: JsonField };
}

/** The `+` captures (and a trailing `#` as one string), or undefined when the topic does not match. */
export function matchTopic(filter: string, topic: string): string[] | undefined {
  const want = filter.split('/');
  const have = topic.split('/');
  const captures: string[] = [];
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (w === '#' && i === want.length - 1) {
      captures.push(have.slice(i).join('/'));
      return captures;
    }
    const h = have[i];
    if (h === undefined) return undefined;
    if (w === '+') captures.push(h);
    else if (w !== h) return undefined;
  }
  return have.length === want.length ? captures : undefined;
}

/** Replaces $1..$9 with the captures; a reference to a missing capture leaves the meter undefined. */
export function meterName(template: string, captures: readonly string[]): string | undefined {
  let missing = false;
  const name = template.replace(/\$([1-9])/g, (_, d: string) => {
    const c = captures[Number(d) - 1];
    if (c === undefined || c === '') missing = true;
    return c ?? '';
  });
  return missing || name === '' ? undefined : name;
}

/** Reads a dotted path through objects and arrays, own properties only. */
export function readPath(root: unknown, path: string): unknown {
  let node: unknown = root;
  for (const seg of path.split('.')) {
    if (Array.isArray(node) && /^\d+$/.test(seg)) node = node[Number(seg)];
    else if (isObject(node)) node = own(node, seg);
    else return undefined;
  }
  return node;
}

function readTs(json: Obj, f: JsonField): number | undefined {
  const n = toNumber(readPath(json, f.path));
  if (typeof n !== 'number') return undefined;
  // Convert to seconds first so one plausibility bound covers every unit.
  return epochSecondsToMs((n * (f.scale ?? 1)) / 1000);
}

/** Applies one mapping whose topic filter is known to match. */
export function applyMapping(mapping: JsonMeterMapping, captures: readonly string[], topic: string, payload: Payload): MeterParseResult {
  const meter = meterName(mapping.meter, captures);
  if (meter === undefined) return failure('unknown_topic', `meter "${mapping.meter}" has no value for ${topic}`);
  const parsed = parseJsonObject(payload);
  if (!parsed.ok) return parsed;
  const sink = new ValueSink();
  const reading: MeterReading = { meter };
  for (const field of METER_FIELDS) {
    const f = mapping.fields[field];
    if (f) sink.put(reading, field, readPath(parsed.value, f.path), f.path, (f.scale ?? 1) * (f.sign ?? 1));
  }
  const ts = mapping.fields.ts ? readTs(parsed.value, mapping.fields.ts) : undefined;
  if (ts !== undefined) reading.ts = ts;
  return sink.result(hasValues(reading) ? [reading] : []);
}

/** The first mapping whose filter matches the topic wins (config order). */
export function parseMqttJson(mappings: readonly JsonMeterMapping[], topic: string, payload: Payload): MeterParseResult {
  for (const m of mappings) {
    const captures = matchTopic(m.topic, topic);
    if (captures) return applyMapping(m, captures, topic, payload);
  }
  return failure('unknown_topic', `no mqtt-json mapping matches ${topic}`);
}
