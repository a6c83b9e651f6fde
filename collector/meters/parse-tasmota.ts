/**
 * Tasmota energy telemetry: `tele/<topic>/SENSOR` (every TelePeriod) and the
 * answer to `Status 10` / `Status 8` on `stat/<topic>/STATUS10|STATUS8`,
 * which wraps the same object in `StatusSNS`. Pure; never throws.
 *
 * Units, from the Tasmota docs (Power Monitoring, Commands "Status"), and
 * visible in ../shared/fixtures/meters/tasmota (Sonoff POW R2):
 * - ENERGY.Power W, ApparentPower VA, ReactivePower var, Factor (0..1),
 *   Voltage V, Current A;
 * - ENERGY.Total kWh (the lifetime import counter; Today/Yesterday are
 *   day slices of it and are not counters, so they are ignored);
 * - ENERGY.ExportActive kWh on meters that measure export (e.g. ADE7880,
 *   Modbus SDM meters); Power is then negative while exporting.
 * Multi-channel devices (Shelly 2.5, PZEM x3) print Power, Voltage, Current
 * and Factor as arrays, one entry per channel. Those channels are phases
 * only on a three-phase meter, so they are reported as numbered channels;
 * the meter's power is their sum, and a single voltage or current is not
 * invented for them.
 *
 * `Time` is local time without a zone unless SetOption52 adds the offset, so
 * only a Time that names its offset becomes `ts`.
 */
import {
  type MeterParseResult,
  type MeterReading,
  type MeterValues,
  type Obj,
  type Payload,
  type PhaseReading,
  ValueSink,
  failure,
  isObject,
  own,
  parseJsonObject,
  withPhases,
} from './reading.js';

/** Default FullTopic is `%prefix%/%topic%/`; a device topic may itself contain `/`. */
const TELE = /^tele\/(.+)\/SENSOR$/;
const STAT = /^stat\/(.+)\/STATUS(?:8|10)$/;
const KWH_TO_WH = 1000;

export function tasmotaMeterId(topic: string): string | undefined {
  return (TELE.exec(topic) ?? STAT.exec(topic))?.[1];
}

/** `2024-03-01T12:00:00+01:00` or `...Z` parse; a zone-less local time does not. */
function tasmotaTime(raw: unknown): number | undefined {
  if (typeof raw !== 'string' || !/(?:Z|[+-]\d{2}:?\d{2})$/.test(raw)) return undefined;
  const ms = Date.parse(raw);
  return Number.isFinite(ms) ? ms : undefined;
}

/** A field that may be a number (single channel) or an array (one entry per channel). */
function channels(raw: unknown): unknown[] | undefined {
  return Array.isArray(raw) ? raw : undefined;
}

function sumOf(values: (number | undefined)[]): number | undefined {
  return values.every((v) => v !== undefined) && values.length > 0 ? values.reduce((a, b) => a + b!, 0) : undefined;
}

/** Maps one ENERGY object; exported for the Status 8/10 and rule-engine paths alike. */
export function readTasmotaEnergy(meter: string, energy: Obj, sink: ValueSink): MeterReading {
  const reading: MeterReading = { meter };
  const phases: PhaseReading[] = [];
  const perChannel = (key: string, field: keyof MeterValues, raw: unknown[]) => {
    raw.forEach((v, i) => {
      const ph = (phases[i] ??= { phase: String(i + 1) });
      sink.put(ph, field, v, `ENERGY.${key}[${i}]`);
    });
  };
  const scalarOrChannels = (key: string, field: keyof MeterValues) => {
    const raw = own(energy, key);
    const list = channels(raw);
    if (list) perChannel(key, field, list);
    else sink.put(reading, field, raw, `ENERGY.${key}`);
  };
  scalarOrChannels('Power', 'power_w');
  scalarOrChannels('Voltage', 'voltage_v');
  scalarOrChannels('Current', 'current_a');
  scalarOrChannels('Factor', 'pf');
  if (channels(own(energy, 'Power'))) {
    const total = sumOf(phases.map((p) => p.power_w));
    if (total !== undefined) reading.power_w = total;
  }
  // Total is one number, or one per channel with SetOption129; the meter's counter is their sum.
  for (const [key, field] of [['Total', 'energy_import_wh'], ['ExportActive', 'energy_export_wh']] as const) {
    const raw = own(energy, key);
    const list = channels(raw);
    if (!list) {
      sink.put(reading, field, raw, `ENERGY.${key}`, KWH_TO_WH);
      continue;
    }
    const parts: MeterValues[] = list.map((v, i) => {
      const part: MeterValues = {};
      sink.put(part, field, v, `ENERGY.${key}[${i}]`, KWH_TO_WH);
      return part;
    });
    const total = sumOf(parts.map((p) => p[field]));
    if (total !== undefined) reading[field] = total;
  }
  return withPhases(reading, phases);
}

/**
 * Parses one Tasmota message. A SENSOR message without ENERGY comes from a
 * device without power monitoring (a thermometer, a plain relay): unmetered.
 */
export function parseTasmota(topic: string, payload: Payload): MeterParseResult {
  const meter = tasmotaMeterId(topic);
  if (meter === undefined) return failure('unknown_topic', `not a Tasmota SENSOR or STATUS8/10 topic: ${topic}`);
  const parsed = parseJsonObject(payload);
  if (!parsed.ok) return parsed;
  const sensors = isObject(own(parsed.value, 'StatusSNS')) ? (own(parsed.value, 'StatusSNS') as Obj) : parsed.value;
  const energy = own(sensors, 'ENERGY');
  if (energy === undefined) return failure('unmetered', `${topic} carries no ENERGY object`);
  if (!isObject(energy)) return failure('bad_value', `ENERGY is ${JSON.stringify(energy)}`);
  const sink = new ValueSink();
  const reading = readTasmotaEnergy(meter, energy, sink);
  const ts = tasmotaTime(own(sensors, 'Time'));
  if (ts !== undefined) reading.ts = ts;
  return sink.result([reading]);
}
