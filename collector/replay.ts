/**
 * `kilowatch collector --source <kind> --replay <file> [--topic <topic>]`:
 * what kilowatch makes of a captured reading, without a broker. The file
 * holds what the source would read (nvidia-smi CSV with its header, a
 * Prometheus scrape, one meter payload whose MQTT topic is --topic, one
 * Redfish resource as JSON, the text of `ipmitool dcmi power reading`, the
 * text of `snmpwalk -On` of a PDU, a Modbus register capture as JSON, or the
 * JSON of a kubelet pod resources List answer); the result is the protocol
 * messages the collector would publish, each checked by the same validators
 * the server runs. Pure: (kind, text, topic, now) in, messages or a reason out.
 *
 * A capture can be partly unreadable (a garbage line in a walk, a register
 * the capture lacks): what can be read goes out, and what was left out is
 * counted and said in `notes`. When nothing can be read, the reason is the
 * error, with those notes.
 */
import type { GpuInfo, HostInfo } from '../protocol/payloads.js';
import { hostTopic } from '../protocol/topics.js';
import { validateGpuWindow, validateInfo, validateJobEvent, validateMeterWindow } from '../protocol/validate.js';
import { JobTracker } from './jobs/job-tracker.js';
import { type PodResourcesList, gpuJobsFromPodResources } from './jobs/parse-kubelet.js';
import { MeterWindows } from './meters/meter-windows.js';
import { type MeterReading, type MeterParseResult, type Obj, isObject, own } from './meters/reading.js';
import { parseShelly } from './meters/parse-shelly.js';
import { parseTasmota } from './meters/parse-tasmota.js';
import { byFriendlyName, discoverZigbeeDevices, parseZigbee2mqtt, zigbeeMeterInfo } from './meters/parse-zigbee2mqtt.js';
import { gpuFromRow, parseQueryCsv } from './sources/parse-nvidia-smi.js';
import { parseExposition, readingsFromExposition } from './sources/parse-prometheus.js';
import { dcmiMeterReading } from './pollers/parse-ipmi-dcmi.js';
import { readRedfishDocument } from './pollers/parse-redfish.js';
import { pointsFromEntry } from './pollers/modbus-maps.js';
import { type BlockWords, type RegisterTable, planReads, readingFromRegisters, registerCount } from './pollers/parse-modbus.js';
import { parseSnmpPdu } from './pollers/parse-snmp-pdu.js';
import { parseSnmpwalk, walkProfile } from './pollers/parse-snmpwalk.js';
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

/** `notes`: what of the input was left out, counted, with the reasons (only when something was). */
export type ReplayResult = { ok: true; messages: ReplayMessage[]; notes?: string[] } | { ok: false; error: string };

const BOOT = 'replay';
/** Names listed in one note; the count says how many there were. */
const NOTE_EXAMPLES = 5;

/** Problems of one input: every one counted, the first few kept to name in a note. */
class Tally {
  count = 0;
  readonly examples: string[] = [];
  add(text: string): void {
    this.count += 1;
    if (this.examples.length < NOTE_EXAMPLES) this.examples.push(text);
  }
}

function withNotes(r: ReplayResult, notes: readonly string[]): ReplayResult {
  if (notes.length === 0) return r;
  return r.ok ? { ...r, notes: [...notes] } : { ok: false, error: `${r.error} (${notes.join('; ')})` };
}

function parseJson(kind: string, text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, error: `${kind}: the input is not JSON: ${(err as Error).message}` };
  }
}

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

// ---- snmp-pdu: the text of `snmpwalk -On` ----

function replaySnmpWalk(input: ReplayInput): ReplayResult {
  const walk = parseSnmpwalk(input.text);
  const notes: string[] = [];
  const skipped = Object.entries(walk.skipped);
  if (skipped.length > 0) {
    const total = skipped.reduce((a, [, n]) => a + n, 0);
    const examples = walk.problems.slice(0, NOTE_EXAMPLES).map((p) => `line ${p.line}: ${p.detail}`).join(', ');
    notes.push(`${total} line(s) of the walk skipped (${skipped.map(([r, n]) => `${r} ${n}`).join(', ')}): ${examples}`);
  }
  if (walk.varbinds.length === 0) return withNotes({ ok: false, error: 'snmp-pdu: no varbind in the input (expected the output of snmpwalk -On: ".1.3.6... = INTEGER: 613" lines)' }, notes);
  const picked = walkProfile(walk);
  if (!picked.ok) return withNotes({ ok: false, error: `snmp-pdu: ${picked.detail}` }, notes);
  // Replayed, the kind stands in for the poller's id: meters are snmp-pdu/device-1, snmp-pdu/outlet-7, ...
  const parsed = parseSnmpPdu(walk.varbinds, picked.profile, input.kind);
  if (parsed.ignored > 0) notes.push(`${parsed.ignored} varbind(s) outside profile ${picked.profile.name} ignored`);
  for (const p of parsed.problems.slice(0, NOTE_EXAMPLES)) notes.push(`meter ${p.meter} left out (${p.reason}): ${p.detail}`);
  if (parsed.problems.length > NOTE_EXAMPLES) notes.push(`${parsed.problems.length - NOTE_EXAMPLES} more meter(s) left out with bad values`);
  if (parsed.readings.length === 0) return withNotes({ ok: false, error: `snmp-pdu: the walk holds no reading of profile ${picked.profile.name}` }, notes);
  return withNotes(meterWindowMessages(input, parsed.readings), notes);
}

// ---- modbus: {"map": "sdm630" | "registers": [...], "input_registers": {"<address>": word}, "holding_registers": {...}} ----

const WORDS_KEY: Readonly<Record<RegisterTable, string>> = { input: 'input_registers', holding: 'holding_registers' };
const MODBUS_CAPTURE_KEYS = ['note', 'map', 'registers', 'table', ...Object.values(WORDS_KEY)];

/** A register as a capture holds it: 0..65535, an int16 as mbpoll prints one (-32768..-1), or hex text as mbpoll -t 3:hex prints it. */
function captureWord(raw: unknown): number | undefined {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= -0x8000 && raw <= 0xffff) return raw < 0 ? raw + 0x10000 : raw;
  if (typeof raw === 'string' && /^0x[0-9a-fA-F]{1,4}$/.test(raw)) return Number.parseInt(raw.slice(2), 16);
  return undefined;
}

function replayModbus(input: ReplayInput): ReplayResult {
  const json = parseJson('modbus', input.text);
  if (!json.ok) return json;
  const doc = json.value;
  if (!isObject(doc)) return { ok: false, error: 'modbus: the capture must be a JSON object: {"map": "sdm630", "input_registers": {"0": 17254, ...}}' };
  const unknown = Object.keys(doc).filter((k) => !MODBUS_CAPTURE_KEYS.includes(k));
  if (unknown.length > 0) return { ok: false, error: `modbus: unknown key(s) ${unknown.slice(0, NOTE_EXAMPLES).map((k) => JSON.stringify(k)).join(', ')} (known: ${MODBUS_CAPTURE_KEYS.join(', ')})` };
  // The map side is a pollers entry's own (map or registers, table), checked by the same code.
  const map = pointsFromEntry(doc, 'modbus capture');
  if (!map.ok) return { ok: false, error: `modbus: ${map.problems.join('; ')}` };
  const words = { input: new Map<number, number>(), holding: new Map<number, number>() };
  const bad = new Tally();
  for (const table of ['input', 'holding'] as const) {
    const raw = own(doc, WORDS_KEY[table]);
    if (raw === undefined) continue;
    if (!isObject(raw)) return { ok: false, error: `modbus: ${WORDS_KEY[table]} must be an object of "<address>": <register>` };
    for (const [key, value] of Object.entries(raw)) {
      const word = captureWord(value);
      if (/^\d{1,5}$/.test(key) && Number(key) <= 0xffff && word !== undefined) words[table].set(Number(key), word);
      else bad.add(`${WORDS_KEY[table]}.${key.slice(0, 12)} = ${JSON.stringify(value)?.slice(0, 12)}`);
    }
  }
  const notes: string[] = [];
  if (bad.count > 0) notes.push(`${bad.count} register(s) skipped, neither an address 0..65535 nor a word 0..65535, -32768..-1 or "0x...": ${bad.examples.join(', ')}`);
  const has = (p: (typeof map.points)[number]) => Array.from({ length: registerCount(p.type) }, (_, i) => p.address + i).every((a) => words[p.table].has(a));
  const present = map.points.filter(has);
  if (present.length === 0) {
    const reads = planReads(map.points, 125).map((b) => `${b.table} registers ${b.address}-${b.address + b.count - 1}`);
    return withNotes({ ok: false, error: `modbus: none of the map's registers are in the capture (it reads ${reads.join(', ')})` }, notes);
  }
  const missing = map.points.filter((p) => !has(p));
  if (missing.length > 0) {
    const named = missing.slice(0, NOTE_EXAMPLES).map((p) => `${p.name} (${p.table} ${p.address}${registerCount(p.type) > 1 ? `-${p.address + registerCount(p.type) - 1}` : ''})`);
    notes.push(`${missing.length} of the map's ${map.points.length} values left out, their registers are not in the capture: ${named.join(', ')}`);
  }
  const blocks: BlockWords[] = present.map((p) => ({ table: p.table, address: p.address, count: registerCount(p.type), words: Array.from({ length: registerCount(p.type) }, (_, i) => words[p.table].get(p.address + i)!) }));
  // Replayed, the kind stands in for the poller's id: the meter is `modbus`.
  const r = readingFromRegisters(input.kind, present, blocks);
  if (!r.ok) return withNotes({ ok: false, error: `modbus: ${r.reason}: ${r.detail}` }, notes);
  return withNotes(meterWindowMessages(input, [r.reading]), notes);
}

// ---- kubelet: a pod resources List answer as JSON ----

/**
 * The answer as the proto3 JSON mapping writes it: grpcurl prints lowerCamelCase
 * names (podResources, resourceName, deviceIds), other clients the proto's
 * own (pod_resources, ...); a parser takes both (proto3 JSON mapping). Only
 * the fields parse-kubelet.ts reads are kept; a part of the wrong shape is
 * left out with its reason.
 */
function podResourcesFromJson(doc: Obj, problems: Tally): PodResourcesList | string {
  const field = (o: Obj, proto: string, json: string) => own(o, json) ?? own(o, proto);
  const list = (o: Obj, proto: string, json: string, where: string): unknown[] => {
    const v = field(o, proto, json);
    if (v === undefined || v === null) return []; // proto3 JSON leaves out an empty repeated field
    if (Array.isArray(v)) return v;
    problems.add(`${where}: ${json} is not a list`);
    return [];
  };
  const objects = (o: Obj, proto: string, json: string, where: string): Obj[] => list(o, proto, json, where).filter((v): v is Obj => {
    if (!isObject(v)) problems.add(`${where}: an entry of ${json} is not an object`);
    return isObject(v);
  });
  const top = field(doc, 'pod_resources', 'podResources');
  if (top !== undefined && !Array.isArray(top)) return 'podResources is not a list';
  const pods: NonNullable<PodResourcesList['pod_resources']> = [];
  list(doc, 'pod_resources', 'podResources', 'answer').forEach((pod, i) => {
    if (!isObject(pod)) return void problems.add(`podResources[${i}] is not an object`);
    const at = `pod ${String(own(pod, 'namespace'))}/${String(own(pod, 'name'))}`.slice(0, 120);
    const containers = objects(pod, 'containers', 'containers', at).map((c) => ({
      ...(typeof own(c, 'name') === 'string' && { name: own(c, 'name') as string }),
      devices: objects(c, 'devices', 'devices', at).map((d) => {
        const ids = list(d, 'device_ids', 'deviceIds', at);
        if (ids.some((id) => typeof id !== 'string')) problems.add(`${at}: a device id that is not a string`);
        const name = field(d, 'resource_name', 'resourceName');
        return { resource_name: typeof name === 'string' ? name : '', device_ids: ids.filter((id): id is string => typeof id === 'string') };
      }),
    }));
    const name = own(pod, 'name');
    const namespace = own(pod, 'namespace');
    pods.push({ ...(typeof name === 'string' && { name }), ...(typeof namespace === 'string' && { namespace }), containers });
  });
  return { pod_resources: pods };
}

function replayKubelet(input: ReplayInput): ReplayResult {
  const json = parseJson('kubelet', input.text);
  if (!json.ok) return json;
  if (!isObject(json.value)) return { ok: false, error: 'kubelet: the input must be a JSON object, the List answer: {"podResources": [...]}' };
  const problems = new Tally();
  const list = podResourcesFromJson(json.value, problems);
  if (typeof list === 'string') return { ok: false, error: `kubelet: ${list}` };
  const found = gpuJobsFromPodResources(list);
  for (const p of found.problems) problems.add(p);
  const notes = problems.count > 0 ? [`${problems.count} problem(s) in the answer, those devices or pods left out: ${problems.examples.join('; ')}`] : [];
  const read = list.pod_resources?.length ?? 0;
  if (found.pods === 0) return withNotes({ ok: false, error: `kubelet: no pod in the answer holds a GPU (${read} pod(s) read; GPUs are nvidia.com/gpu and MIG resources)` }, notes);
  // A fresh tracker: every pod that holds a GPU starts, as on the collector's first List call.
  const changes = new JobTracker().update(found.byGpu, input.now);
  const messages: ReplayMessage[] = [];
  for (const [seq, c] of changes.entries()) {
    const { job, user, project, partition } = c.job;
    const labels = (c.job as { labels?: Record<string, string> }).labels;
    const body = { v: 1, boot_id: BOOT, seq, first_seq: 0, ts: c.ts, event: c.event, job, gpus: c.gpus, ...(user && { user }), ...(project && { project }), ...(partition && { partition }), ...(labels && { labels }) };
    const checked = validateJobEvent(body);
    if (!checked.ok) return { ok: false, error: `kubelet: the event of job ${job} is not valid protocol v1 (${checked.reason}): ${checked.detail}` };
    messages.push({ topic: hostTopic(input.prefix, input.site, input.host, 'job'), payload: checked.value });
  }
  return withNotes({ ok: true, messages }, notes);
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
      const doc = parseJson(kind, text);
      if (!doc.ok) return doc;
      const parsed = readRedfishDocument(kind, doc.value);
      if (!parsed.ok) return { ok: false, error: `redfish: ${parsed.reason}: ${parsed.detail}` };
      if (parsed.readings.length === 0) return { ok: false, error: 'redfish: the resource carries no power or energy reading right now' };
      return meterWindowMessages(input, parsed.readings);
    }
    case 'ipmi-dcmi': {
      const parsed = dcmiMeterReading(kind, text);
      return parsed.ok ? meterWindowMessages(input, [parsed.reading]) : { ok: false, error: `ipmi-dcmi: ${parsed.reason}: ${parsed.detail}` };
    }
    case 'snmp-pdu':
      return replaySnmpWalk(input);
    case 'modbus':
      return replayModbus(input);
    case 'kubelet':
      return replayKubelet(input);
    default:
      return { ok: false, error: `--replay reads nvidia-smi, prometheus, tasmota, shelly, zigbee2mqtt, redfish, ipmi-dcmi, snmp-pdu, modbus or kubelet input, not ${kind}` };
  }
}
