/**
 * SNMP varbinds of one poll -> normalized meter readings (meters/reading.ts),
 * by a profile (snmp-profiles.ts). Pure: the poller (snmp-pdu.ts) does the
 * SNMP I/O and hands the varbinds here as plain values.
 *
 * Each table row is one meter, so one bad outlet never costs the readings of
 * the others: a meter with a bad value (text where a number belongs, a negative
 * energy counter, |pf| > 1) is left out and reported with its reason, and the
 * rest of the poll goes out. A varbind outside the profile is counted as
 * ignored; an agent that answers noSuchObject for a column the model lacks
 * gives an absent value, never 0.
 */
import { type MeterField, type MeterReading, type MeterValues, hasValues, scaled, toNumber } from '../meters/reading.js';
import type { SnmpColumn, SnmpProfile } from './snmp-profiles.js';

/** A varbind as the poller hands it over: null for noSuchObject, noSuchInstance and endOfMibView. */
export interface SnmpVarbind {
  oid: string;
  value: number | string | null;
}

export interface SnmpProblem {
  reason: 'bad_value';
  meter: string;
  detail: string;
}

export interface SnmpParseResult {
  readings: MeterReading[];
  /** Meter id -> the row's own label (an outlet's name), where the profile has a name column. */
  names: Map<string, string>;
  problems: SnmpProblem[];
  /** Varbinds that matched no column or scalar of the profile (or had no row suffix). */
  ignored: number;
}

const ROW = /^\d+(?:\.\d+)*$/;

/** OIDs without the leading dot that some tools and agents print. */
export function normalizeOid(oid: string): string {
  return oid.startsWith('.') ? oid.slice(1) : oid;
}

/** Values no meter can report; the meter is then not trusted for this poll. */
function impossible(field: MeterField, v: number): boolean {
  if (field === 'energy_import_wh' || field === 'energy_export_wh' || field === 'voltage_v' || field === 'current_a') return v < 0;
  if (field === 'pf') return Math.abs(v) > 1;
  return false;
}

interface Target {
  meter: string;
  field: MeterField;
  scale: number;
  absent?: number;
  label: string;
}

/** Which meter and field a varbind feeds, or undefined when the profile has no such OID. */
function targetOf(oid: string, profile: SnmpProfile, pollerId: string): Target | { name: string } | undefined {
  for (const s of profile.scalars) {
    if (normalizeOid(s.oid) === oid) return { meter: s.meter ? `${pollerId}/${s.meter}` : pollerId, field: s.field, scale: s.scale, ...(s.absent !== undefined && { absent: s.absent }), label: oid };
  }
  for (const t of profile.tables) {
    const name = t.nameColumn ? normalizeOid(t.nameColumn.oid) : undefined;
    if (name && oid.startsWith(`${name}.`) && ROW.test(oid.slice(name.length + 1))) return { name: `${pollerId}/${t.name}-${oid.slice(name.length + 1)}` };
    for (const c of t.columns) {
      const col = normalizeOid(c.oid);
      if (!oid.startsWith(`${col}.`)) continue;
      const row = oid.slice(col.length + 1);
      if (!ROW.test(row)) return undefined;
      return columnTarget(c, `${pollerId}/${t.name}-${row}`, row);
    }
  }
  return undefined;
}

function columnTarget(c: SnmpColumn, meter: string, row: string): Target {
  return { meter, field: c.field, scale: c.scale, ...(c.absent !== undefined && { absent: c.absent }), label: `${c.object}.${row}` };
}

export function parseSnmpPdu(varbinds: readonly SnmpVarbind[], profile: SnmpProfile, pollerId: string): SnmpParseResult {
  const values = new Map<string, MeterValues>();
  const bad = new Map<string, string>();
  const names = new Map<string, string>();
  let ignored = 0;
  for (const vb of varbinds) {
    const oid = normalizeOid(vb.oid);
    const target = targetOf(oid, profile, pollerId);
    if (target === undefined) {
      ignored += 1;
      continue;
    }
    if ('name' in target) {
      if (typeof vb.value === 'string' && vb.value.trim()) names.set(target.name, vb.value.trim().slice(0, 64));
      continue;
    }
    let into = values.get(target.meter);
    if (!into) values.set(target.meter, (into = {}));
    if (vb.value === null) continue; // the agent has no such object on this model: absent
    const n = toNumber(vb.value);
    if (n === undefined || (target.absent !== undefined && n === target.absent)) continue;
    const v = n === 'bad' ? undefined : scaled(n, target.scale);
    if (v === undefined || impossible(target.field, v)) {
      if (!bad.has(target.meter)) bad.set(target.meter, `${target.label} is ${JSON.stringify(vb.value)}`);
      continue;
    }
    into[target.field] = v;
  }
  const readings: MeterReading[] = [];
  const problems: SnmpProblem[] = [];
  for (const meter of [...values.keys()].sort()) {
    const detail = bad.get(meter);
    if (detail !== undefined) problems.push({ reason: 'bad_value', meter, detail });
    else if (hasValues(values.get(meter)!)) readings.push({ meter, ...values.get(meter)! });
  }
  return { readings, names, problems, ignored };
}
