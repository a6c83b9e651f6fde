/**
 * Shelly MQTT, both API generations. Pure; never throws.
 *
 * Gen1 (shelly-api-docs.shelly.cloud/gen1, "MQTT"), one plain-text number
 * per topic under `shellies/<id>/`:
 * - relay|roller|light/<n>/power: W; .../energy: watt-minutes (a Plug S
 *   `meters[0].total` of 2632 is 43.87 Wh), converted here to Wh;
 * - emeter/<n>/power W (signed), pf, current A, voltage V, and the
 *   counters total / total_returned in Wh, kept in non-volatile memory
 *   (EM, 3EM). The emeter energy / returned_energy topics count the same
 *   energy in watt-minutes but are not kept across reboots; a second
 *   counter for the same meter would alternate with `total`, so they are
 *   left out.
 * Each emeter channel is its own meter `<id>:emeter:<n>`: on a Shelly EM the
 * two channels are separate circuits, and a 3EM publishes every phase on its
 * own topic, so there is no single message with a whole-meter value. The
 * device id may contain `/`: the captured 3EM announces itself as
 * "shellies/shellyem3", hence topics `shellies/shellies/shellyem3/...`.
 *
 * Gen2+ (shelly-api-docs.shelly.cloud/gen2, components Switch, PM1, EM,
 * EMData, EM1, EM1Data), JSON under a configurable `<prefix>`:
 * - `<prefix>/status/<component>:<n>`: the full component status;
 * - `<prefix>/events/rpc`: NotifyStatus carries only what changed since the
 *   last notification, so only the fields present are reported; `params.ts`
 *   is epoch seconds, or seconds since boot before SNTP has synced.
 * Units: apower / *_act_power W, voltage V, current A, aenergy.total and
 * ret_aenergy.total Wh, EMData total_act / total_act_ret Wh (import/export).
 * Meter ids are `<prefix>:<component>:<n>` from the topic, not the RPC `src`
 * (the device id), because both topic kinds carry the prefix. EMData and
 * EM1Data report the energy of EM / EM1 with the same id, so they share a meter.
 */
import {
  type MeterParseResult,
  type MeterReading,
  type MeterValues,
  type Obj,
  type Payload,
  type PhaseReading,
  ValueSink,
  epochSecondsToMs,
  failure,
  hasValues,
  isObject,
  own,
  parseJsonObject,
  payloadText,
  readings,
  withPhases,
} from './reading.js';

const WATT_MINUTES_TO_WH = 1 / 60;
const GEN1_CHANNEL = /^shellies\/(.+)\/(relay|roller|light)\/(\d+)\/(power|energy)$/;
const GEN1_EMETER = /^shellies\/(.+)\/emeter\/(\d+)\/([a-z_]+)$/;
const GEN2_STATUS = /^(.+)\/status\/([a-z0-9_]+):(\d+)$/;
const GEN2_RPC = /^(.+)\/events\/rpc$/;
const GEN2_INFO = /^(.+)\/(?:online|status\/[a-z0-9_]+)$/;

/** Maps, not object literals: a topic segment such as "constructor" must not find an inherited member. */
const EMETER_FIELDS = new Map<string, keyof MeterValues>([
  ['power', 'power_w'],
  ['pf', 'pf'],
  ['current', 'current_a'],
  ['voltage', 'voltage_v'],
  ['total', 'energy_import_wh'],
  ['total_returned', 'energy_export_wh'],
]);

function gen1Value(meter: string, field: keyof MeterValues, text: string, label: string, scale: number): MeterParseResult {
  const sink = new ValueSink();
  const reading: MeterReading = { meter };
  sink.put(reading, field, text.trim(), label, scale);
  return sink.result([reading]);
}

function parseGen1(topic: string, payload: Payload): MeterParseResult {
  const ch = GEN1_CHANNEL.exec(topic);
  if (ch) {
    const [, id, kind, n, what] = ch as unknown as [string, string, string, string, string];
    const meter = `${id}:${kind}:${n}`;
    return what === 'power'
      ? gen1Value(meter, 'power_w', payloadText(payload), topic, 1)
      : gen1Value(meter, 'energy_import_wh', payloadText(payload), topic, WATT_MINUTES_TO_WH);
  }
  const em = GEN1_EMETER.exec(topic);
  const field = em ? EMETER_FIELDS.get(em[3]!) : undefined;
  if (em && field) return gen1Value(`${em[1]}:emeter:${em[2]}`, field, payloadText(payload), topic, 1);
  // online, announce, info, relay/<n> state, input/<n>, emeter energy in watt-minutes: nothing to meter.
  return readings([]);
}

/** switch and pm1 share the metering fields; a switch without `apower` has no meter. */
function readSwitch(meter: string, c: Obj, sink: ValueSink): MeterReading {
  const r: MeterReading = { meter };
  sink.put(r, 'power_w', own(c, 'apower'), `${meter}.apower`);
  sink.put(r, 'voltage_v', own(c, 'voltage'), `${meter}.voltage`);
  sink.put(r, 'current_a', own(c, 'current'), `${meter}.current`);
  sink.put(r, 'pf', own(c, 'pf'), `${meter}.pf`);
  const imp = own(c, 'aenergy');
  if (isObject(imp)) sink.put(r, 'energy_import_wh', own(imp, 'total'), `${meter}.aenergy.total`);
  const exp = own(c, 'ret_aenergy');
  if (isObject(exp)) sink.put(r, 'energy_export_wh', own(exp, 'total'), `${meter}.ret_aenergy.total`);
  return r;
}

/**
 * Pro 3EM `em:<n>`: per-phase a_/b_/c_ values and the signed sum
 * total_act_power. total_current is left out: it is the arithmetic sum of
 * the phase currents, which no conductor carries; the phases keep theirs.
 */
function readEm(meter: string, c: Obj, sink: ValueSink): MeterReading {
  const r: MeterReading = { meter };
  sink.put(r, 'power_w', own(c, 'total_act_power'), `${meter}.total_act_power`);
  const phases = ['a', 'b', 'c'].map((p): PhaseReading => {
    const ph: PhaseReading = { phase: p };
    sink.put(ph, 'power_w', own(c, `${p}_act_power`), `${meter}.${p}_act_power`);
    sink.put(ph, 'voltage_v', own(c, `${p}_voltage`), `${meter}.${p}_voltage`);
    sink.put(ph, 'current_a', own(c, `${p}_current`), `${meter}.${p}_current`);
    sink.put(ph, 'pf', own(c, `${p}_pf`), `${meter}.${p}_pf`);
    return ph;
  });
  return withPhases(r, phases);
}

/** `emdata:<n>`: lifetime active energy in Wh, total and per phase. */
function readEmData(meter: string, c: Obj, sink: ValueSink): MeterReading {
  const r: MeterReading = { meter };
  sink.put(r, 'energy_import_wh', own(c, 'total_act'), `${meter}.total_act`);
  sink.put(r, 'energy_export_wh', own(c, 'total_act_ret'), `${meter}.total_act_ret`);
  const phases = ['a', 'b', 'c'].map((p): PhaseReading => {
    const ph: PhaseReading = { phase: p };
    sink.put(ph, 'energy_import_wh', own(c, `${p}_total_act_energy`), `${meter}.${p}_total_act_energy`);
    sink.put(ph, 'energy_export_wh', own(c, `${p}_total_act_ret_energy`), `${meter}.${p}_total_act_ret_energy`);
    return ph;
  });
  return withPhases(r, phases);
}

/** Single-channel EM Gen3 / Pro EM: `em1:<n>` power, `em1data:<n>` energy. */
function readEm1(meter: string, c: Obj, sink: ValueSink): MeterReading {
  const r: MeterReading = { meter };
  sink.put(r, 'power_w', own(c, 'act_power'), `${meter}.act_power`);
  sink.put(r, 'voltage_v', own(c, 'voltage'), `${meter}.voltage`);
  sink.put(r, 'current_a', own(c, 'current'), `${meter}.current`);
  sink.put(r, 'pf', own(c, 'pf'), `${meter}.pf`);
  sink.put(r, 'energy_import_wh', own(c, 'total_act_energy'), `${meter}.total_act_energy`);
  sink.put(r, 'energy_export_wh', own(c, 'total_act_ret_energy'), `${meter}.total_act_ret_energy`);
  return r;
}

type ComponentReader = (meter: string, c: Obj, sink: ValueSink) => MeterReading;
/** Component type -> (the meter it belongs to, its reader). */
const COMPONENTS = new Map<string, [string, ComponentReader]>([
  ['switch', ['switch', readSwitch]],
  ['pm1', ['pm1', readSwitch]],
  ['em', ['em', readEm]],
  ['emdata', ['em', readEmData]],
  ['em1', ['em1', readEm1]],
  ['em1data', ['em1', readEm1]],
]);

/**
 * Reads one component (`switch:0`, `em:0`, ...) into a reading, or undefined
 * for a component that meters nothing or a delta that changed no meter field.
 */
export function readShellyComponent(prefix: string, key: string, status: Obj, sink: ValueSink): MeterReading | undefined {
  const m = /^([a-z0-9_]+):(\d+)$/.exec(key);
  const comp = m ? COMPONENTS.get(m[1]!) : undefined;
  if (!m || !comp) return undefined;
  const [meterKind, read] = comp;
  const r = read(`${prefix}:${meterKind}:${m[2]}`, status, sink);
  return hasValues(r) || r.phases ? r : undefined;
}

function parseGen2Status(prefix: string, key: string, payload: Payload): MeterParseResult {
  const parsed = parseJsonObject(payload);
  if (!parsed.ok) return parsed;
  // A full switch status always has apower on metering models (Plus 1PM, Plus Plug S); a Plus 1 has none.
  if ((key.startsWith('switch:') || key.startsWith('pm1:')) && own(parsed.value, 'apower') === undefined) {
    return failure('unmetered', `${prefix}/status/${key} has no apower: a switch without a power meter`);
  }
  const sink = new ValueSink();
  const r = readShellyComponent(prefix, key, parsed.value, sink);
  return sink.result(r ? [r] : []);
}

function parseGen2Rpc(prefix: string, payload: Payload): MeterParseResult {
  const parsed = parseJsonObject(payload);
  if (!parsed.ok) return parsed;
  const method = own(parsed.value, 'method');
  const params = own(parsed.value, 'params');
  // NotifyEvent (button presses, scripts) and replies to RPC calls carry no status.
  if ((method !== 'NotifyStatus' && method !== 'NotifyFullStatus') || !isObject(params)) return readings([]);
  const ts = epochSecondsToMs(own(params, 'ts'));
  const sink = new ValueSink();
  const out: MeterReading[] = [];
  for (const key of Object.keys(params)) {
    const status = params[key];
    if (!isObject(status)) continue;
    const r = readShellyComponent(prefix, key, status, sink);
    if (!r) continue;
    if (ts !== undefined) r.ts = ts;
    out.push(r);
  }
  return sink.result(out);
}

export function parseShelly(topic: string, payload: Payload): MeterParseResult {
  const status = GEN2_STATUS.exec(topic);
  if (status) return parseGen2Status(status[1]!, `${status[2]}:${status[3]}`, payload);
  const rpc = GEN2_RPC.exec(topic);
  if (rpc) return parseGen2Rpc(rpc[1]!, payload);
  if (topic.startsWith('shellies/')) return parseGen1(topic, payload);
  if (GEN2_INFO.test(topic)) return readings([]);
  return failure('unknown_topic', `not a Shelly metering topic: ${topic}`);
}
