/**
 * The normalized reading every vendor meter parser produces, and the number
 * helpers they share. Pure: no I/O, no clock; a parser takes (topic, payload)
 * and returns data, and never throws (ARCHITECTURE.md §6.1, §6.5).
 *
 * Rules that hold for every vendor (ARCHITECTURE.md §3, "Rules for values"):
 * - a value the message does not carry is absent, never 0. A switch without
 *   a power meter yields no power reading, not 0 W;
 * - `power_w` is signed: negative means export (solar, battery discharge);
 * - energy counters are Wh, converted from the vendor's unit here, so the
 *   window code downstream never needs to know which vendor it came from;
 * - `ts` is integer ms since the Unix epoch (protocol/payloads.ts), and only
 *   set when the device's own clock is trustworthy.
 */

/** Numeric fields shared by a whole meter and by one of its phases. */
export const METER_FIELDS = ['power_w', 'energy_import_wh', 'energy_export_wh', 'voltage_v', 'current_a', 'pf'] as const;
export type MeterField = (typeof METER_FIELDS)[number];
export type MeterValues = { [K in MeterField]?: number };

/** One phase (Shelly a/b/c) or one channel (Tasmota 1, 2, ...) of a multi-input meter. */
export interface PhaseReading extends MeterValues {
  phase: string;
}

export interface MeterReading extends MeterValues {
  /** Stable meter id derived from the vendor topic (or the Zigbee IEEE address). */
  meter: string;
  /** When the device measured it (ms since the epoch); absent when the device clock is unknown. */
  ts?: number;
  phases?: PhaseReading[];
}

/**
 * Reason codes are stable metric labels, counted by the caller:
 * - invalid_json: the payload is not JSON, or not the JSON object expected;
 * - unknown_topic: the topic is outside the grammar this parser knows;
 * - bad_value: a meter field is present but not a usable number (NaN, text,
 *   a negative energy counter, |pf| > 1);
 * - unmetered: the device is known but has no power meter.
 */
export type MeterParseReason = 'invalid_json' | 'unknown_topic' | 'bad_value' | 'unmetered';

/** `ok` with no readings means "understood, nothing to meter" (online, announce, relay state). */
export type MeterParseResult = { ok: true; readings: MeterReading[] } | { ok: false; reason: MeterParseReason; detail: string };

export type MeterFailure = Extract<MeterParseResult, { ok: false }>;

/** mqtt.js hands payloads over as Buffer (a Uint8Array); tests pass strings. */
export type Payload = string | Uint8Array;

export type Obj = Record<string, unknown>;

export function readings(list: MeterReading[]): MeterParseResult {
  return { ok: true, readings: list };
}

export function failure(reason: MeterParseReason, detail: string): MeterFailure {
  return { ok: false, reason, detail };
}

const decoder = new TextDecoder('utf-8');

export function payloadText(payload: Payload): string {
  return typeof payload === 'string' ? payload : decoder.decode(payload);
}

export function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses a payload that must be a JSON object; a scalar or array is as unusable as a syntax error. */
export function parseJsonObject(payload: Payload): { ok: true; value: Obj } | MeterFailure {
  const text = payloadText(payload);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return failure('invalid_json', `${(err as Error).message}: ${text.slice(0, 80)}`);
  }
  return isObject(value) ? { ok: true, value } : failure('invalid_json', `expected a JSON object, got ${text.slice(0, 80)}`);
}

/** An own property only, so a key such as "__proto__" or "constructor" never reads inherited members. */
export function own(obj: Obj, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

const NUMERIC_TEXT = /^\s*-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$/;

/**
 * A finite number, undefined when absent, or 'bad'. null is absent: Shelly
 * writes `"n_current": null` for a quantity the hardware does not measure.
 * Numeric text ("230.35", as Gen1 Shelly publishes) is accepted; "nan",
 * "inf", booleans and objects are bad.
 */
export function toNumber(raw: unknown): number | undefined | 'bad' {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : 'bad';
  if (typeof raw === 'string' && NUMERIC_TEXT.test(raw)) return Number(raw);
  return 'bad';
}

/**
 * Multiplies by a unit factor and drops the binary noise of the product
 * (6.294 kWh * 1000 is 6294.000000000001 in doubles). Twelve significant
 * digits still resolve 1 mWh on a counter of 10^8 Wh.
 */
export function scaled(value: number, scale: number): number {
  return scale === 1 ? value : Number((value * scale).toPrecision(12));
}

/** Values that no meter can report: the caller counts them as bad_value. */
function impossible(field: MeterField, v: number): boolean {
  if (field === 'energy_import_wh' || field === 'energy_export_wh' || field === 'voltage_v') return v < 0;
  if (field === 'pf') return Math.abs(v) > 1;
  return false;
}

/**
 * Collects the numeric fields of one message. The first bad value is kept
 * so the whole message is rejected: a meter that sends garbage in one field
 * is not trusted for the others of the same message.
 */
export class ValueSink {
  bad: string | undefined = undefined;

  /** Reads `raw` (in the vendor's unit; `scale` converts it) into `into[field]`. */
  put(into: MeterValues, field: MeterField, raw: unknown, label: string, scale = 1): void {
    const n = toNumber(raw);
    if (n === undefined) return;
    const v = n === 'bad' ? undefined : scaled(n, scale);
    if (v === undefined || impossible(field, v)) {
      this.bad ??= `${label} is ${JSON.stringify(raw)}`;
      return;
    }
    into[field] = v;
  }

  result(list: MeterReading[]): MeterParseResult {
    return this.bad === undefined ? readings(list) : failure('bad_value', this.bad);
  }
}

export function hasValues(v: MeterValues): boolean {
  return METER_FIELDS.some((f) => v[f] !== undefined);
}

/**
 * Device clocks before this instant are not synchronized: a Shelly Gen2
 * stamps NotifyStatus with seconds since boot (ts 1.61) until SNTP answers.
 * 2017-07-14 predates every firmware these parsers handle.
 */
export const MIN_PLAUSIBLE_EPOCH_S = 1_500_000_000;

/** Epoch seconds (possibly fractional) to integer ms, or undefined when the clock is not yet set. */
export function epochSecondsToMs(raw: unknown): number | undefined {
  const s = toNumber(raw);
  if (typeof s !== 'number' || s < MIN_PLAUSIBLE_EPOCH_S) return undefined;
  return Math.round(s * 1000);
}

/** Adds `phases` only when at least one phase carries a value. */
export function withPhases(reading: MeterReading, phases: PhaseReading[]): MeterReading {
  const used = phases.filter(hasValues);
  if (used.length > 0) reading.phases = used;
  return reading;
}
