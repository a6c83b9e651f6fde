/**
 * The pollers file (`collector.pollers`, `--pollers <file>`): YAML or JSON,
 * either a list of entries or `{ pollers: [...] }`. Each entry names its kind
 * and a unique id, and the kind's own settings:
 *
 *     - kind: redfish
 *       id: bmc-r12-n03
 *       url: https://10.0.12.3
 *       username: monitor
 *       password_file: /etc/kilowatch/bmc.pass
 *       insecure_tls: true
 *     - kind: ipmi-dcmi
 *       id: bmc-local
 *       interval_ms: 10000
 *
 * Checked once at start with every problem listed, each naming the entry and
 * its field. POLLER_KINDS maps each kind to its settings check and its
 * constructor: a new source adds one line there.
 */
import { parse as parseYaml } from 'yaml';
import { isObject } from '../meters/reading.js';
import { IpmiDcmiPoller, ipmiDcmiSettings } from './ipmi-dcmi.js';
import { ModbusPoller, modbusSettings } from './modbus.js';
import type { MeterPoller, PollerDeps, PollerEntry, PollerKind } from './poller.js';
import { RedfishPoller, redfishSettings } from './redfish.js';
import { SnmpPduPoller, snmpPduSettings } from './snmp-pdu.js';

export interface PollerKindSpec {
  /** Problems with the entry's own settings; `where` names the entry. */
  check(entry: PollerEntry, where: string): string[];
  create(entry: PollerEntry, deps: PollerDeps): MeterPoller;
}

export const POLLER_KINDS: Partial<Record<PollerKind, PollerKindSpec>> = {
  redfish: { check: (e, where) => redfishSettings(e, where).problems, create: (e, deps) => new RedfishPoller(e, deps) },
  'ipmi-dcmi': { check: (e, where) => ipmiDcmiSettings(e, where).problems, create: (e, deps) => new IpmiDcmiPoller(e, deps) },
  'snmp-pdu': { check: (e, where) => snmpPduSettings(e, where).problems, create: (e, deps) => new SnmpPduPoller(e, deps) },
  modbus: { check: (e, where) => modbusSettings(e, where).problems, create: (e, deps) => new ModbusPoller(e, deps) },
};

/** Ids become meter ids and topic segments: no `/` (channels use it: `<id>/psu-0`), no leading `_` (reserved by protocol v1). */
const ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;
export const INTERVAL_RANGE = [250, 3_600_000] as const;
export const TIMEOUT_RANGE = [100, 600_000] as const;
/** A collector with more BMCs than this should be split: each poller holds sockets and timers. */
export const MAX_POLLERS = 1000;

export type PollersFile = { ok: true; entries: PollerEntry[] } | { ok: false; problems: string[] };

function checkEntry(raw: unknown, index: number, seen: Set<string>, problems: string[]): PollerEntry | undefined {
  if (!isObject(raw)) {
    problems.push(`entry ${index + 1}: expected a mapping with kind and id, got ${JSON.stringify(raw)}`);
    return undefined;
  }
  const where = `entry ${index + 1}${typeof raw.id === 'string' ? ` (id "${raw.id}")` : ''}`;
  const before = problems.length;
  if (typeof raw.id !== 'string' || !ID.test(raw.id)) {
    problems.push(`${where}: id must be letters, digits, ".", "_", ":" or "-" (no "/", not starting with "_"), got ${JSON.stringify(raw.id)}`);
  } else if (seen.has(raw.id)) {
    problems.push(`${where}: id "${raw.id}" is already used by an earlier entry`);
  } else {
    seen.add(raw.id);
  }
  const spec = typeof raw.kind === 'string' ? POLLER_KINDS[raw.kind as PollerKind] : undefined;
  if (!spec) problems.push(`${where}: kind must be one of ${Object.keys(POLLER_KINDS).join(', ')}, got ${JSON.stringify(raw.kind)}`);
  for (const [key, [min, max]] of [['interval_ms', INTERVAL_RANGE], ['timeout_ms', TIMEOUT_RANGE]] as const) {
    const v = raw[key];
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)) {
      problems.push(`${where}: ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    }
  }
  if (spec && problems.length === before) problems.push(...spec.check(raw as PollerEntry, where));
  return problems.length === before ? (raw as PollerEntry) : undefined;
}

/** Parses and checks the pollers file; `name` (the file's path) starts each problem. */
export function parsePollersFile(text: string, name: string): PollersFile {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [`${name}: not YAML or JSON: ${(err as Error).message}`] };
  }
  const list = Array.isArray(doc) ? doc : isObject(doc) && Array.isArray(doc.pollers) ? doc.pollers : undefined;
  if (!list) return { ok: false, problems: [`${name}: expected a list of pollers, or a mapping with a pollers list`] };
  if (list.length > MAX_POLLERS) return { ok: false, problems: [`${name}: ${list.length} pollers exceed the limit of ${MAX_POLLERS} per collector`] };
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries = list.map((raw, i) => checkEntry(raw, i, seen, problems));
  if (problems.length > 0) return { ok: false, problems: problems.map((p) => `${name}: ${p}`) };
  return { ok: true, entries: entries as PollerEntry[] };
}

/** One poller per checked entry; constructors only assign, so nothing runs until start(). */
export function createPollers(entries: readonly PollerEntry[], deps: PollerDeps): MeterPoller[] {
  return entries.map((e) => {
    const spec = POLLER_KINDS[e.kind];
    if (!spec) throw new Error(`poller ${e.id}: no poller of kind ${e.kind} in this build`);
    return spec.create(e, deps);
  });
}
