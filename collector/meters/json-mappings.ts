/**
 * Reads the generic JSON meter mappings (`collector.meter_map`, a JSON file)
 * and checks every one before the collector starts, so an operator learns of
 * every mistake at once instead of from a silently empty meter. Pure.
 *
 *   [ { "topic": "inverter/+/state", "meter": "pv-$1",
 *       "fields": { "power_w": { "path": "ac.power", "sign": -1 },
 *                   "energy_export_wh": { "path": "ac.yield_total_kwh", "scale": 1000 } } } ]
 */
import type { JsonField, JsonMeterMapping } from './parse-mqtt-json.js';
import { METER_FIELDS, isObject } from './reading.js';

const FIELD_NAMES: ReadonlySet<string> = new Set([...METER_FIELDS, 'ts']);

export type MappingsResult = { ok: true; mappings: JsonMeterMapping[] } | { ok: false; problems: string[] };

function checkFilter(topic: unknown, where: string, problems: string[]): topic is string {
  if (typeof topic !== 'string' || topic === '') {
    problems.push(`${where}.topic must be an MQTT topic filter`);
    return false;
  }
  const levels = topic.split('/');
  levels.forEach((level, i) => {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) problems.push(`${where}.topic: "#" may only be the whole last level (${topic})`);
    if (level.includes('+') && level !== '+') problems.push(`${where}.topic: "+" must be a whole level (${topic})`);
  });
  return true;
}

function checkField(name: string, raw: unknown, where: string, problems: string[]): JsonField | undefined {
  const at = `${where}.fields.${name}`;
  if (!FIELD_NAMES.has(name)) {
    problems.push(`${at}: unknown field; use ${[...FIELD_NAMES].join(', ')}`);
    return undefined;
  }
  if (!isObject(raw) || typeof raw.path !== 'string' || raw.path === '') {
    problems.push(`${at} needs a "path" (dot-separated, e.g. "ENERGY.Power")`);
    return undefined;
  }
  const field: JsonField = { path: raw.path };
  if (raw.scale !== undefined) {
    if (typeof raw.scale !== 'number' || !Number.isFinite(raw.scale) || raw.scale <= 0) problems.push(`${at}.scale must be a positive number`);
    else field.scale = raw.scale;
  }
  if (raw.sign !== undefined) {
    if (raw.sign !== 1 && raw.sign !== -1) problems.push(`${at}.sign must be 1 or -1`);
    else field.sign = raw.sign;
  }
  return field;
}

export function parseJsonMappings(text: string, source: string): MappingsResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { ok: false, problems: [`${source}: not JSON: ${(err as Error).message}`] };
  }
  if (!Array.isArray(raw)) return { ok: false, problems: [`${source}: expected an array of mappings`] };
  const problems: string[] = [];
  const mappings: JsonMeterMapping[] = [];
  raw.forEach((m: unknown, i) => {
    const where = `${source}[${i}]`;
    if (!isObject(m)) return problems.push(`${where} must be an object`);
    const topicOk = checkFilter(m.topic, where, problems);
    if (typeof m.meter !== 'string' || m.meter === '') problems.push(`${where}.meter must be a meter id, e.g. "pv-$1"`);
    const wildcards = typeof m.topic === 'string' ? m.topic.split('/').filter((l) => l === '+' || l === '#').length : 0;
    for (const ref of typeof m.meter === 'string' ? m.meter.matchAll(/\$([1-9])/g) : []) {
      if (Number(ref[1]) > wildcards) problems.push(`${where}.meter refers to $${ref[1]} but the topic has ${wildcards} wildcard(s)`);
    }
    if (!isObject(m.fields) || Object.keys(m.fields).length === 0) return problems.push(`${where}.fields must map at least one meter field to a path`);
    const fields: JsonMeterMapping['fields'] = {};
    for (const [name, f] of Object.entries(m.fields)) {
      const field = checkField(name, f, where, problems);
      if (field) fields[name as keyof JsonMeterMapping['fields']] = field;
    }
    if (!Object.keys(fields).some((k) => k !== 'ts')) problems.push(`${where}.fields has no meter field, only a timestamp`);
    if (topicOk && typeof m.meter === 'string') mappings.push({ topic: m.topic as string, meter: m.meter, fields });
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, mappings };
}
