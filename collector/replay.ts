/**
 * `kilowatch collector --source <kind> --replay <file> [--topic <topic>]`:
 * what kilowatch makes of a captured reading, without a broker. The file
 * holds what the source would read (nvidia-smi CSV with its header, a
 * Prometheus scrape, one meter payload whose MQTT topic is --topic, one
 * Redfish resource as JSON, or the text of `ipmitool dcmi power reading`); the
 * result is the protocol messages the collector would publish, each checked
 * by the same validators the server runs. Pure: (kind, text, topic, now) in,
 * messages or a reason out.
 */
import type { GpuInfo, HostInfo } from '../protocol/payloads.js';
import { hostTopic } from '../protocol/topics.js';
import { validateGpuWindow, validateInfo, validateMeterWindow } from '../protocol/validate.js';
import { MeterWindows } from './meters/meter-windows.js';
import type { MeterReading, MeterParseResult } from './meters/reading.js';
import { parseShelly } from './meters/parse-shelly.js';
import { parseTasmota } from './meters/parse-tasmota.js';
import { byFriendlyName, discoverZigbeeDevices, parseZigbee2mqtt, zigbeeMeterInfo } from './meters/parse-zigbee2mqtt.js';
import { gpuFromRow, parseQueryCsv } from './sources/parse-nvidia-smi.js';
import { parseExposition, readingsFromExposition } from './sources/parse-prometheus.js';
import { dcmiMeterReading } from './pollers/parse-ipmi-dcmi.js';
import { readRedfishDocument } from './pollers/parse-redfish.js';
import { HostWindow, type GpuSample, windowStart } from './window.js';

export interface ReplayInput {
  kind: string;
  text: string;
  topic?: string;
  prefix: string;
  site: string;
  host: string;
  now: number;
  windowMs: number;
}

export interface ReplayMessage {
  topic: string;
  payload: unknown;
}

export type ReplayResult = { ok: true; messages: ReplayMessage[] } | { ok: false; error: string };

const BOOT = 'replay';

function gpuMessages(input: ReplayInput, samples: GpuSample[], gpus: GpuInfo[]): ReplayResult {
  if (samples.length === 0) return { ok: false, error: `no GPU reading could be read from the ${input.kind} input` };
  const info: HostInfo = { v: 1, boot_id: BOOT, ts: input.now, simulated: false, gpus, meters: [] };
  const window = new HostWindow(windowStart(input.now, input.windowMs), input.windowMs);
  window.add(samples);
  const body = { v: 1 as const, boot_id: BOOT, seq: 0, first_seq: 0, ...window.close() };
  const checkedInfo = validateInfo(info);
  if (!checkedInfo.ok) return { ok: false, error: `the inventory read from the input is not valid protocol v1: ${checkedInfo.detail}` };
  const checked = validateGpuWindow(body);
  if (!checked.ok) return { ok: false, error: `the window read from the input is not valid protocol v1 (${checked.reason}): ${checked.detail}` };
  return {
    ok: true,
    messages: [
      { topic: hostTopic(input.prefix, input.site, input.host, 'info'), payload: checkedInfo.value },
      { topic: hostTopic(input.prefix, input.site, input.host, 'gpu'), payload: checked.value },
    ],
  };
}

/** Each meter's readings become its window (stream meter/<id>), built and checked as the live listener does. */
function meterWindowMessages(input: ReplayInput, list: MeterReading[]): ReplayResult {
  const windows = new MeterWindows(input.windowMs);
  for (const r of list) windows.add(r, r.ts ?? input.now);
  const messages: ReplayMessage[] = [];
  for (const [seq, { meter, body }] of windows.takeAll().entries()) {
    const checked = validateMeterWindow({ v: 1, boot_id: BOOT, seq, first_seq: 0, ...body });
    if (!checked.ok) return { ok: false, error: `the window of meter ${meter} is not valid protocol v1 (${checked.reason}): ${checked.detail}` };
    messages.push({ topic: hostTopic(input.prefix, input.site, input.host, 'meter', meter), payload: checked.value });
  }
  return { ok: true, messages };
}

function meterMessages(input: ReplayInput, parsed: MeterParseResult): ReplayResult {
  if (!parsed.ok) return { ok: false, error: `${input.kind}: ${parsed.reason}: ${parsed.detail}` };
  if (parsed.readings.length === 0) return { ok: false, error: `${input.kind}: the message on ${input.topic} carries no meter reading` };
  return meterWindowMessages(input, parsed.readings);
}

export function replay(input: ReplayInput): ReplayResult {
  const { kind, text, topic } = input;
  switch (kind) {
    case 'nvidia-smi': {
      const table = parseQueryCsv(text);
      if (table.fields.length === 0) return { ok: false, error: 'nvidia-smi: the input has no header line (record it with --format=csv, not noheader)' };
      const gpus = table.rows.map(gpuFromRow).filter((g) => g !== undefined);
      return gpuMessages(input, gpus.map((g) => g.sample), gpus.map((g) => g.info));
    }
    case 'prometheus': {
      const r = readingsFromExposition(parseExposition(text));
      return gpuMessages(input, r.readings, r.inventory);
    }
    case 'tasmota':
    case 'shelly':
    case 'zigbee2mqtt': {
      if (!topic) return { ok: false, error: `${kind}: --topic is needed: the MQTT topic the payload was published on` };
      if (kind === 'tasmota') return meterMessages(input, parseTasmota(topic, text));
      if (kind === 'shelly') return meterMessages(input, parseShelly(topic, text));
      if (topic.endsWith('/bridge/devices')) {
        const found = discoverZigbeeDevices(text);
        if (!found.ok) return { ok: false, error: `zigbee2mqtt: ${found.reason}: ${found.detail}` };
        const meters = found.devices.filter((d) => d.meter).map(zigbeeMeterInfo);
        return { ok: true, messages: [{ topic: hostTopic(input.prefix, input.site, input.host, 'info'), payload: { v: 1, boot_id: BOOT, ts: input.now, simulated: false, gpus: [], meters } }] };
      }
      return meterMessages(input, parseZigbee2mqtt(topic, text, byFriendlyName([])));
    }
    // A poller's meters are named after its id; replayed, the kind stands in for it.
    case 'redfish': {
      let doc: unknown;
      try {
        doc = JSON.parse(text);
      } catch (err) {
        return { ok: false, error: `redfish: the input is not JSON: ${(err as Error).message}` };
      }
      const parsed = readRedfishDocument(kind, doc);
      if (!parsed.ok) return { ok: false, error: `redfish: ${parsed.reason}: ${parsed.detail}` };
      if (parsed.readings.length === 0) return { ok: false, error: 'redfish: the resource carries no power or energy reading right now' };
      return meterWindowMessages(input, parsed.readings);
    }
    case 'ipmi-dcmi': {
      const parsed = dcmiMeterReading(kind, text);
      return parsed.ok ? meterWindowMessages(input, [parsed.reading]) : { ok: false, error: `ipmi-dcmi: ${parsed.reason}: ${parsed.detail}` };
    }
    default:
      return { ok: false, error: `--replay reads nvidia-smi, prometheus, tasmota, shelly, zigbee2mqtt, redfish or ipmi-dcmi input, not ${kind}` };
  }
}
