/**
 * Field readers for validators. Each reads one field of an untrusted object
 * and throws a Rejection naming the field's path, which `guard` turns into a
 * Result. They exist so every validator reports problems the same way.
 */
import { Rejection } from './result.js';
import type { Stat } from './payloads.js';

export type Obj = Record<string, unknown>;

/** The dotted path of a field, for messages: "gpus[0].power_w". */
export function at(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function asObject(value: unknown, path: string): Obj {
  if (value === undefined) throw new Rejection('missing_field', `${path} is missing`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Rejection('bad_type', `${path} must be an object`);
  }
  return value as Obj;
}

export function asArray(value: unknown, path: string, maxLength: number): unknown[] {
  if (value === undefined) throw new Rejection('missing_field', `${path} is missing`);
  if (!Array.isArray(value)) throw new Rejection('bad_type', `${path} must be an array`);
  if (value.length > maxLength) throw new Rejection('impossible_value', `${path} has ${value.length} entries, more than ${maxLength}`);
  return value;
}

// The readers below build a field's path ("gpus[0].energy_mj") only when
// they reject it: ingest reads ~20 fields per GPU, 10^5 GPUs a second, and a
// path string per field was garbage for the collector to sweep.

/** A finite number. null, strings such as "NaN", and 1e999 (parsed as Infinity) are rejected. */
export function num(obj: Obj, key: string, path: string): number {
  const value = obj[key];
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  const where = at(path, key);
  if (value === undefined) throw new Rejection('missing_field', `${where} is missing`);
  if (typeof value !== 'number') throw new Rejection('not_a_number', `${where} is ${JSON.stringify(value)}, not a number`);
  throw new Rejection('non_finite', `${where} is not finite`);
}

export function optNum(obj: Obj, key: string, path: string): number | undefined {
  return obj[key] === undefined ? undefined : num(obj, key, path);
}

/** An optional number in [min, max]. */
export function optNumIn(obj: Obj, key: string, path: string, min: number, max: number): number | undefined {
  const value = optNum(obj, key, path);
  if (value === undefined || (value >= min && value <= max)) return value;
  return inRange(value, at(path, key), min, max); // throws, naming the field
}

export function int(obj: Obj, key: string, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = num(obj, key, path);
  if (Number.isInteger(value) && value >= min && value <= max) return value;
  if (!Number.isInteger(value)) throw new Rejection('bad_type', `${at(path, key)} must be an integer`);
  return inRange(value, at(path, key), min, max); // throws, naming the field
}

export function inRange(value: number, where: string, min: number, max: number): number {
  if (value < min) {
    throw new Rejection(min === 0 ? 'negative' : 'impossible_value', `${where} is ${value}, below ${min}`);
  }
  if (value > max) throw new Rejection('impossible_value', `${where} is ${value}, above ${max}`);
  return value;
}

export function str(obj: Obj, key: string, path: string, maxLength = 256): string {
  const value = obj[key];
  if (typeof value === 'string' && value.length > 0 && value.length <= maxLength) return value;
  const where = at(path, key);
  if (value === undefined) throw new Rejection('missing_field', `${where} is missing`);
  if (typeof value !== 'string') throw new Rejection('bad_type', `${where} must be a string`);
  throw new Rejection('impossible_value', `${where} must have 1 to ${maxLength} characters`);
}

export function optStr(obj: Obj, key: string, path: string, maxLength = 256): string | undefined {
  return obj[key] === undefined ? undefined : str(obj, key, path, maxLength);
}

export function bool(obj: Obj, key: string, path: string): boolean {
  const value = obj[key];
  if (value === undefined) throw new Rejection('missing_field', `${at(path, key)} is missing`);
  if (typeof value !== 'boolean') throw new Rejection('bad_type', `${at(path, key)} must be true or false`);
  return value;
}

export function strList(obj: Obj, key: string, path: string, maxItems = 64): string[] | undefined {
  if (obj[key] === undefined) return undefined;
  return asArray(obj[key], at(path, key), maxItems).map((item, i) => {
    if (typeof item !== 'string' || item.length === 0 || item.length > 256) {
      throw new Rejection('bad_type', `${at(path, key)}[${i}] must be a non-empty string`);
    }
    return item;
  });
}

/**
 * A Stat {min, max, mean, last, n} whose values lie in [lo, hi] and are
 * consistent (min <= mean <= max, min <= last <= max). The tolerance allows
 * for float rounding in a mean computed at the edge.
 */
export function stat(obj: Obj, key: string, path: string, lo: number, hi: number): Stat | undefined {
  const raw = obj[key];
  if (raw === undefined) return undefined;
  // Fast path for the common, valid case: plain comparisons, no closures, no
  // path strings. Anything it does not accept goes through the checks below,
  // which find and name the problem. (Ingest runs this ~10^5 times a second.)
  if (typeof raw === 'object' && raw !== null) {
    const { min, max, mean, last, n } = raw as Record<string, unknown>;
    if (typeof min === 'number' && typeof max === 'number' && typeof mean === 'number' && typeof last === 'number' &&
        typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 1_000_000 &&
        min >= lo && max <= hi && min <= max && mean >= min && mean <= max && last >= min && last <= max) {
      return { min, max, mean, last, n }; // NaN and Infinity fail the range comparisons above
    }
  }
  const where = at(path, key);
  const s = asObject(obj[key], where);
  const field = (k: string) => inRange(num(s, k, where), at(where, k), lo, hi);
  const out: Stat = { min: field('min'), max: field('max'), mean: field('mean'), last: field('last'), n: int(s, 'n', where, 1, 1_000_000) };
  const slack = 1e-9 * Math.max(1, Math.abs(out.max));
  if (out.min > out.max + slack || out.mean < out.min - slack || out.mean > out.max + slack ||
      out.last < out.min - slack || out.last > out.max + slack) {
    throw new Rejection('impossible_value', `${where} is inconsistent: min ${out.min}, mean ${out.mean}, last ${out.last}, max ${out.max}`);
  }
  return out;
}

/** Copies only the keys whose value is defined, so absent stays absent. */
export function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}
